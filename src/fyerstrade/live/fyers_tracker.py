"""Our orders at Fyers, and what Fyers says about them turned into the engine's order events,
each exactly once (:class:`FyersTracker`). Pure: no I/O, no clock of its own.

Sources, in any order and any number of times: the place reply
(:class:`~fyerstrade.fyers.order_gateway.PlaceResult`), order-socket messages and orderbook
rows (:class:`~fyerstrade.fyers.orders.BrokerOrder`), order-socket trades and tradebook rows
(:class:`~fyerstrade.fyers.orders.BrokerTrade`). Rules:

* **Fills come from trades**, each trade number booked once: a part that leaves the order working
  is ``OrderPartiallyFilled``, the one that completes it ``OrderFilled``. An order snapshot's
  ``filledQty`` never books anything by itself (its average price is rounded); it only tells
  how much is still to come from the trades.
* **Status comes from orders**: confirmed (``6``) or any fill → ``OrderAccepted`` once;
  cancelled, rejected, expired → their event — but only when every fill the order reports has
  been booked (a cancel after a partial fill must not overtake its trade). Transit (``4``) and
  codes Fyers does not document change nothing.
* **A reply that proves nothing** (:attr:`~fyerstrade.fyers.orders.Outcome.UNKNOWN`) →
  ``OrderUnknown``; the order is matched by its tag when it shows up. It is settled as rejected
  only when complete orderbooks read over ``settle_seconds`` never show it.
* **Anything that cannot be true** — an order tagged as ours that we never sent, two orders with
  one tag, more booked than Fyers reports filled, an order we consider finished still working
  — is a :class:`~fyerstrade.errors.ReconciliationError`, which halts trading.

Tags are deterministic (:func:`fyers_tag`), so after a restart the tracker is rebuilt from the
journal's orders without storing the tag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from fyerstrade.domain import Side
from fyerstrade.errors import ReconciliationError
from fyerstrade.fyers.order_gateway import PlaceResult
from fyerstrade.fyers.orders import BrokerOrder, BrokerTrade, OrderState, Outcome
from fyerstrade.trading.events import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderUnknown,
)

__all__ = ["TAG_PREFIX", "FyersTracker", "ReconciliationError", "fyers_tag", "is_our_tag"]

TAG_PREFIX = "ft"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def fyers_tag(session_id: str, order_id: str, day: date) -> str:
    """The ``orderTag`` of our order ``order_id`` of ``session_id`` (30 letters and digits):
    ``ft``, the IST date ``yymmdd`` and 22 base-36 digits of a hash of both ids."""
    digest = int.from_bytes(hashlib.sha256(f"{session_id}|{order_id}".encode()).digest()[:15])
    body = ""
    for _ in range(22):
        digest, r = divmod(digest, 36)
        body += _DIGITS[r]
    return f"{TAG_PREFIX}{day:%y%m%d}{body}"


def is_our_tag(tag: str, day: date) -> bool:
    """Whether ``tag`` is one fyerstrade gives orders on ``day``."""
    return tag.startswith(f"{TAG_PREFIX}{day:%y%m%d}") and len(tag) == 30


@dataclass(slots=True)
class _Tracked:
    order_id: str
    tag: str
    symbol: str
    side: Side
    quantity: int
    sent_ts: int
    broker_id: str = ""
    booked: int = 0
    trades: set[str] = field(default_factory=set)
    accepted: bool = False
    unknown_since: int | None = None
    skip: int = 0  # after a restart: quantity already booked whose trade numbers we lack
    done: bool = False  # a terminal event was emitted
    pending_end: BrokerOrder | None = None  # a terminal report waiting for its fills


class FyersTracker:
    """The orders of one trading day at Fyers (see the module docstring)."""

    def __init__(self, day: date, *, settle_seconds: int = 30) -> None:
        self.day = day
        self.settle_seconds = settle_seconds
        self._by_tag: dict[str, _Tracked] = {}
        self._by_order: dict[str, _Tracked] = {}
        self._by_broker: dict[str, _Tracked] = {}

    # ------------------------------------------------------------------ registration

    def track(
        self,
        order_id: str,
        tag: str,
        symbol: str,
        side: Side,
        quantity: int,
        ts: int,
        *,
        broker_id: str = "",
        booked: int = 0,
        booked_trades: Iterable[str] = (),
        done: bool = False,
        accepted: bool = False,
        unknown: bool = False,
    ) -> None:
        """Follow an order (before it is sent; or, after a restart, as the journal has it:
        ``booked`` filled, by the trades ``booked_trades`` when their numbers are known — else
        the earliest trades Fyers reports for it, up to ``booked``, count as those fills)."""
        if tag in self._by_tag:
            raise ReconciliationError(f"order tag {tag} is used twice ({order_id})")
        t = _Tracked(order_id, tag, symbol, side, quantity, ts, broker_id, booked)
        t.trades = set(booked_trades)
        t.skip = 0 if t.trades else booked
        t.done, t.accepted = done, accepted
        t.unknown_since = ts if unknown else None
        self._by_tag[tag] = t
        self._by_order[order_id] = t
        if broker_id:
            self._by_broker[broker_id] = t

    def tag_of(self, order_id: str) -> str:
        return self._by_order[order_id].tag

    def broker_id(self, order_id: str) -> str:
        t = self._by_order.get(order_id)
        return t.broker_id if t is not None else ""

    def working(self) -> list[str]:
        """Our orders not known to be finished (sent, unknown, or working at Fyers)."""
        return [t.order_id for t in self._by_order.values() if not t.done]

    def unknown(self) -> list[str]:
        return [t.order_id for t in self._by_order.values() if t.unknown_since is not None]

    def unsettled(self) -> list[str]:
        """Orders sent whose place is not yet answered by an id or a final report."""
        return [t.order_id for t in self._by_order.values() if not t.done and not t.broker_id]

    def knows(self, tag: str) -> bool:
        return tag in self._by_tag

    def drop(self, order_id: str) -> None:
        """``order_id`` was never sent (cancelled while filed): it is finished."""
        self._by_order[order_id].done = True

    # ------------------------------------------------------------------ sources

    def on_place(self, order_id: str, result: PlaceResult, ts: int) -> list[OrderEvent]:
        """The outcome of sending ``order_id``."""
        t = self._by_order[order_id]
        if result.broker_id:
            self._link(t, result.broker_id)
        if result.outcome is Outcome.REFUSED:
            t.done = True
            return [OrderRejected(order_id, ts, result.message or "refused by Fyers", "")]
        if result.outcome is Outcome.REJECTED and result.order is None:
            t.done = True
            return [OrderRejected(order_id, ts, result.message, t.broker_id)]
        if result.outcome is Outcome.UNKNOWN:
            t.unknown_since = ts
            return [OrderUnknown(order_id, ts, result.message or "no answer", t.broker_id)]
        if result.order is not None:
            return self.on_order(result.order, ts)
        return []

    def on_order(self, order: BrokerOrder, ts: int) -> list[OrderEvent]:
        """An order snapshot (socket or orderbook)."""
        t = self._match(order)
        if t is None:
            return []
        self._link(t, order.broker_id)
        t.unknown_since = None
        if order.filled < t.booked:
            raise ReconciliationError(
                f"order {t.order_id} ({t.side} {t.quantity} {t.symbol}): we booked {t.booked} "
                f"filled, Fyers reports {order.filled}"
            )
        events: list[OrderEvent] = []
        if t.done:
            if order.state.is_working and order.state is not OrderState.TRANSIT:
                raise ReconciliationError(
                    f"order {t.order_id} ({t.symbol}) is finished in our books but working at "
                    f"Fyers ({order.state.value})"
                )
            return events
        if not t.accepted and order.state in (OrderState.OPEN, OrderState.PARTIAL):
            t.accepted = True
            events.append(OrderAccepted(t.order_id, ts, t.broker_id))
        if order.state in (OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED):
            t.pending_end = order
            events.extend(self._finish(t, ts))
        return events

    def on_trade(self, trade: BrokerTrade) -> list[OrderEvent]:
        """A fill (socket or tradebook); booked once per trade number."""
        t = self._by_broker.get(trade.broker_id)
        if t is None and trade.tag:
            t = self._by_tag.get(trade.tag)
            if t is not None:
                self._link(t, trade.broker_id)
        if t is None:
            if trade.tag and is_our_tag(trade.tag, self.day):
                raise ReconciliationError(
                    f"a trade of order {trade.broker_id} tagged {trade.tag}, not ours"
                )
            return []
        if trade.trade_id in t.trades:
            return []
        if t.skip:
            if trade.quantity > t.skip:
                raise ReconciliationError(
                    f"order {t.order_id} ({t.symbol}): the journal's {t.booked} filled do not "
                    f"line up with Fyers' trades (trade {trade.trade_id} of {trade.quantity})"
                )
            t.skip -= trade.quantity
            t.trades.add(trade.trade_id)
            return []
        if t.done and t.booked >= t.quantity:
            raise ReconciliationError(f"order {t.order_id} ({t.symbol}) filled beyond its quantity")
        if t.booked + trade.quantity > t.quantity:
            raise ReconciliationError(
                f"order {t.order_id} ({t.side} {t.quantity} {t.symbol}): a fill of "
                f"{trade.quantity} with {t.quantity - t.booked} left"
            )
        t.trades.add(trade.trade_id)
        t.booked += trade.quantity
        t.unknown_since = None
        events: list[OrderEvent] = []
        if not t.accepted:
            t.accepted = True
        if t.booked == t.quantity:
            t.done = True
            t.pending_end = None
            events.append(
                OrderFilled(
                    t.order_id, trade.ts, trade.quantity, trade.price, t.broker_id, trade.trade_id
                )
            )
        else:
            events.append(
                OrderPartiallyFilled(
                    t.order_id, trade.ts, trade.quantity, trade.price, t.broker_id, trade.trade_id
                )
            )
            events.extend(self._finish(t, trade.ts))
        return events

    def reconcile(
        self, orders: Iterable[BrokerOrder], trades: Iterable[BrokerTrade], ts: int
    ) -> list[OrderEvent]:
        """A complete read of today's orderbook and tradebook: every trade first (fills), then
        every order (status), then what the book does not show."""
        orders = list(orders)
        seen_tags: dict[str, str] = {}
        for o in orders:
            if o.tag and is_our_tag(o.tag, self.day):
                if o.tag in seen_tags and seen_tags[o.tag] != o.broker_id:
                    raise ReconciliationError(
                        f"Fyers holds two orders tagged {o.tag} ({seen_tags[o.tag]}, "
                        f"{o.broker_id}): one order was placed twice"
                    )
                seen_tags[o.tag] = o.broker_id
                if o.tag not in self._by_tag:
                    raise ReconciliationError(
                        f"Fyers holds order {o.broker_id} ({o.side.value} {o.quantity} "
                        f"{o.symbol}) tagged {o.tag} as ours, but we never sent it"
                    )
        events: list[OrderEvent] = []
        for trade in sorted(trades, key=lambda x: (x.ts, x.trade_id)):
            events.extend(self.on_trade(trade))
        for o in orders:
            events.extend(self.on_order(o, ts))
        for t in self._by_order.values():
            if t.done or t.tag in seen_tags or (t.broker_id and t.broker_id in self._in(orders)):
                continue
            since = t.unknown_since if t.unknown_since is not None else t.sent_ts
            if ts - since >= self.settle_seconds:
                t.done = True
                t.unknown_since = None
                events.append(
                    OrderRejected(
                        t.order_id,
                        ts,
                        f"Fyers' orderbook never showed it (tag {t.tag}): it did not reach Fyers",
                        t.broker_id,
                    )
                )
        return events

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _in(orders: list[BrokerOrder]) -> set[str]:
        return {o.broker_id for o in orders}

    def _match(self, order: BrokerOrder) -> _Tracked | None:
        t = self._by_broker.get(order.broker_id)
        if t is None and order.tag:
            t = self._by_tag.get(order.tag)
            if t is None and is_our_tag(order.tag, self.day):
                raise ReconciliationError(
                    f"Fyers holds order {order.broker_id} tagged {order.tag} as ours, but we "
                    "never sent it"
                )
        return t

    def _link(self, t: _Tracked, broker_id: str) -> None:
        if not broker_id:
            return
        if t.broker_id and t.broker_id != broker_id:
            raise ReconciliationError(
                f"order {t.order_id} (tag {t.tag}) is at Fyers twice: {t.broker_id} and {broker_id}"
            )
        other = self._by_broker.get(broker_id)
        if other is not None and other is not t:
            raise ReconciliationError(f"Fyers order {broker_id} matches two of our orders")
        t.broker_id = broker_id
        self._by_broker[broker_id] = t

    def _finish(self, t: _Tracked, ts: int) -> list[OrderEvent]:
        """Emit the pending terminal event once every fill it reports is booked."""
        end = t.pending_end
        if end is None or t.done or end.filled > t.booked:
            return []
        t.done = True
        t.pending_end = None
        if end.state is OrderState.CANCELLED:
            return [OrderCancelled(t.order_id, ts, t.broker_id, end.message)]
        if end.state is OrderState.EXPIRED:
            return [OrderExpired(t.order_id, ts, t.broker_id, end.message)]
        return [OrderRejected(t.order_id, ts, end.message or "rejected by Fyers", t.broker_id)]
