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
  only when a complete orderbook read ``settle_seconds`` or more after that reply still does not
  show it. A read cannot settle an order whose place request has not been answered yet (the
  read may have been made before the order reached Fyers), and an unproven reply for an order
  the socket or the books already showed changes nothing.
* **Fyers' orderbook may lag** what its trades and order socket already told us, for up to
  ``lag_grace`` seconds: a snapshot *behind* our books (an order we hold finished still working;
  fewer filled than we booked from its trades; an acknowledged order missing from the book) is
  held in :attr:`FyersTracker.settling` and changes nothing. An order-socket message behind our
  books is an old event delivered late and never more than that; an orderbook read requested
  ``lag_grace`` seconds or more after our books moved that still shows the older state is a
  contradiction.
* **Anything that cannot be true** — an order tagged as ours that we never sent, two orders with
  one tag, a fill beyond an order's quantity, the orderbook behind beyond the grace — is a
  :class:`~fyerstrade.errors.ReconciliationError`, which halts trading. Fills Fyers reports and
  we did not know are booked (the broker is the truth).

Times: every source takes ``at``, the caller's monotonic stamp of the report (for a read: when
it was requested, so a read that was slow to come back is never taken for a later one). Without
stamps (a restart's one-off reads) there is no grace and unanswered orders count as sent.

Tags are deterministic (:func:`~fyerstrade.live.fyers_tags.fyers_tag`), so after a restart the
tracker is rebuilt from the journal's orders without storing the tag.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from fyerstrade.domain import Side
from fyerstrade.errors import ReconciliationError
from fyerstrade.fyers.order_gateway import PlaceResult
from fyerstrade.fyers.orders import BrokerOrder, BrokerTrade, OrderState, Outcome
from fyerstrade.live.fyers_tags import TAG_PREFIX, fyers_tag, is_our_tag
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
    unknown_since: float | None = None
    skip: int = 0  # after a restart: quantity already booked whose trade numbers we lack
    done: bool = False  # a terminal event was emitted
    pending_end: BrokerOrder | None = None  # a terminal report waiting for its fills
    answered: bool = True  # its place request has an outcome (a restart's: the crash ended it)
    known_at: float = -math.inf  # stamp of the last move of our books (fill, end, ack)


class FyersTracker:
    """The orders of one trading day at Fyers (see the module docstring)."""

    def __init__(self, day: date, *, settle_seconds: float = 30, lag_grace: float = 10.0) -> None:
        self.day = day
        self.settle_seconds = settle_seconds
        self.lag_grace = lag_grace
        #: our order id → what Fyers' orderbook still shows behind our books (settling)
        self.settling: dict[str, str] = {}
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
        answered: bool = True,
    ) -> None:
        """Follow an order (before it is sent; or, after a restart, as the journal has it:
        ``booked`` filled, by the trades ``booked_trades`` when their numbers are known — else
        the earliest trades Fyers reports for it, up to ``booked``, count as those fills).
        ``answered=False``: it is about to be sent, no read can settle it before its reply."""
        if tag in self._by_tag:
            raise ReconciliationError(f"order tag {tag} is used twice ({order_id})")
        t = _Tracked(order_id, tag, symbol, side, quantity, ts, broker_id, booked)
        t.trades = set(booked_trades)
        t.skip = 0 if t.trades else booked
        t.done, t.accepted, t.answered = done, accepted, answered
        t.unknown_since = ts if unknown else None
        self._by_tag[tag] = t
        self._by_order[order_id] = t
        if broker_id:
            self._by_broker[broker_id] = t

    def tag_of(self, order_id: str) -> str:
        return self._by_order[order_id].tag

    def symbol_of(self, order_id: str) -> str:
        return self._by_order[order_id].symbol

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

    def on_place(
        self, order_id: str, result: PlaceResult, ts: int, *, at: float | None = None
    ) -> list[OrderEvent]:
        """The outcome of sending ``order_id``."""
        t = self._by_order[order_id]
        t.answered = True
        stamp = _stamp(ts, at)
        t.known_at = max(t.known_at, stamp)
        if result.broker_id:
            self._link(t, result.broker_id)
        if result.outcome is Outcome.REFUSED:
            t.done = True
            return [OrderRejected(order_id, ts, result.message or "refused by Fyers", "")]
        if result.outcome is Outcome.REJECTED and result.order is None:
            t.done = True
            return [OrderRejected(order_id, ts, result.message, t.broker_id)]
        if result.outcome is Outcome.UNKNOWN:
            if t.done or t.broker_id or t.booked:
                return []  # the socket or a read already showed it at Fyers
            t.unknown_since = stamp
            return [OrderUnknown(order_id, ts, result.message or "no answer", t.broker_id)]
        if result.order is not None:
            return self.on_order(result.order, ts, at=at)
        return []

    def on_order(
        self, order: BrokerOrder, ts: int, *, at: float | None = None, current: bool = True
    ) -> list[OrderEvent]:
        """An order snapshot: ``current`` for the orderbook (the order as it is now), not for
        an order-socket message (an event, possibly delivered late)."""
        t = self._match(order)
        if t is None:
            return []
        self._link(t, order.broker_id)
        t.unknown_since = None
        behind = self._behind(t, order)
        if behind:
            self._lagging(t, behind, at, current=current)
            return []
        self.settling.pop(t.order_id, None)
        events: list[OrderEvent] = []
        if t.done:
            return events
        if not t.accepted and order.state in (OrderState.OPEN, OrderState.PARTIAL):
            t.accepted = True
            events.append(OrderAccepted(t.order_id, ts, t.broker_id))
        if order.state in (OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED):
            t.pending_end = order
            events.extend(self._finish(t, ts, _stamp(ts, at)))
        return events

    def on_trade(self, trade: BrokerTrade, *, at: float | None = None) -> list[OrderEvent]:
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
        t.known_at = max(t.known_at, _stamp(trade.ts, at))
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
            events.extend(self._finish(t, trade.ts, _stamp(trade.ts, at)))
        return events

    def reconcile(
        self,
        orders: Iterable[BrokerOrder],
        trades: Iterable[BrokerTrade],
        ts: int,
        *,
        at: float | None = None,
    ) -> list[OrderEvent]:
        """A complete read of today's orderbook and tradebook (requested at ``at``): every
        trade first (fills), then every order (status), then what the book does not show."""
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
            events.extend(self.on_trade(trade, at=at))
        for o in orders:
            events.extend(self.on_order(o, ts, at=at))
        listed = {o.broker_id for o in orders}
        stamp = _stamp(ts, at)
        for t in self._by_order.values():
            if t.done or t.tag in seen_tags or (t.broker_id and t.broker_id in listed):
                continue
            since: float = t.sent_ts
            if at is not None:
                if not t.answered:
                    continue  # its place is still on its way: this read may predate it
                if t.broker_id:  # Fyers acknowledged it: the book has yet to list it
                    missing = f"acknowledged as {t.broker_id} but missing from Fyers' orderbook"
                    self._lagging(t, missing, at, current=True)
                    continue
                since = t.known_at  # when its place was answered
            if t.unknown_since is not None:
                since = t.unknown_since
            if stamp - since >= self.settle_seconds:
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
    def _behind(t: _Tracked, order: BrokerOrder) -> str:
        """How ``order`` (a snapshot) is behind our books of it, or ""."""
        if t.done and order.state.is_working and order.state is not OrderState.TRANSIT:
            return f"is finished in our books but working at Fyers ({order.state.value})"
        if order.filled < t.booked:
            return f"shows {order.filled} filled at Fyers, {t.booked} booked from its trades"
        return ""

    def _lagging(self, t: _Tracked, behind: str, at: float | None, *, current: bool) -> None:
        """A snapshot behind our books: settling while within the grace; a current read
        requested beyond it (or any without a stamp) is a contradiction."""
        what = f"order {t.order_id} ({t.side} {t.quantity} {t.symbol}) {behind}"
        if current and (at is None or at - t.known_at >= self.lag_grace):
            since = ""
            if at is not None and not math.isinf(t.known_at):
                since = (
                    f", {at - t.known_at:.1f} s after our books moved (Fyers' orderbook may "
                    f"lag {self.lag_grace:g} s)"
                )
            raise ReconciliationError(what + since)
        self.settling[t.order_id] = what

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

    def _finish(self, t: _Tracked, ts: int, stamp: float) -> list[OrderEvent]:
        """Emit the pending terminal event once every fill it reports is booked."""
        end = t.pending_end
        if end is None or t.done or end.filled > t.booked:
            return []
        t.done = True
        t.known_at = max(t.known_at, stamp)
        t.pending_end = None
        if end.state is OrderState.CANCELLED:
            return [OrderCancelled(t.order_id, ts, t.broker_id, end.message)]
        if end.state is OrderState.EXPIRED:
            return [OrderExpired(t.order_id, ts, t.broker_id, end.message)]
        return [OrderRejected(t.order_id, ts, end.message or "rejected by Fyers", t.broker_id)]


def _stamp(ts: int, at: float | None) -> float:
    return float(ts) if at is None else at
