"""Real orders at Fyers behind the engine's broker port (:class:`FyersBroker`).

The :class:`~fyerstrade.trading.engine.TradingEngine` cannot tell it from the paper broker: it
takes ``submit``/``cancel`` and reports order events. What it adds is the way to Fyers:

* **Recorded before sent.** ``submit`` only files the order (with its tag, see
  :func:`~fyerstrade.live.fyers_tracker.fyers_tag`) in an outbox; :meth:`FyersBroker.flush`
  hands the outbox to the sender thread, and the trader calls it only after the journal's
  transaction that wrote the order to ``live_orders`` (:meth:`~fyerstrade.live.trader.
  LiveTrader.commit`). A crash between the two loses an order that was never sent, never one
  that was sent unrecorded.
* **Never sent twice.** The sender thread goes through the
  :class:`~fyerstrade.fyers.order_gateway.OrderGateway`: a reply that proves nothing is settled
  by looking the tag up in the orderbook; pacing keeps place, modify and cancel together under
  ``real.orders_per_second``.
* **What Fyers says is the truth.** Replies, order-socket updates and complete REST reads
  (after every (re)connection of the order socket, and every ``reconcile_seconds``) go through
  one :class:`~fyerstrade.live.fyers_tracker.FyersTracker`, which turns them into events exactly
  once; :meth:`FyersBroker.poll` applies them on the engine's thread. After a complete read with
  nothing in flight our net positions are compared with Fyers' (:mod:`~fyerstrade.live.
  position_check`). Every report carries the monotonic time it was asked for, so Fyers' books
  may lag what its trades and socket told us by up to ``lag_grace`` seconds (held in
  :attr:`FyersBroker.settling`, re-read every second) before a difference is a contradiction.
* **Anything uncertain stops trading and says why.** An order whose fate cannot be proven is
  held as UNKNOWN (:attr:`FyersBroker.held` names it) until the orderbook settles it; a
  contradiction (:class:`~fyerstrade.errors.ReconciliationError`, an impossible order move, a
  position Fyers does not show) is raised from :meth:`poll` for the trader to halt on.

Market input (``on_bar``, ``quote``, ticks) only keeps the last price of each symbol: the
reference a market order's protection band is computed from.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from fyerstrade.domain import Order
from fyerstrade.errors import InputError, OrderStateError, ReconciliationError
from fyerstrade.fyers.order_gateway import OrderGateway
from fyerstrade.fyers.order_stream import Connected, OrderStream
from fyerstrade.fyers.orders import BrokerOrder, BrokerPosition, BrokerTrade, place_payload
from fyerstrade.live.flatten import FlattenReport
from fyerstrade.live.fyers_sender import Book, FyersSender
from fyerstrade.live.fyers_tracker import FyersTracker, fyers_tag
from fyerstrade.live.position_check import lagging_symbols, position_differences
from fyerstrade.trading.broker import Account, EventSink
from fyerstrade.trading.events import (
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderUnknown,
)
from fyerstrade.trading.symbols import SymbolState

__all__ = ["FyersBroker"]

log = logging.getLogger(__name__)


class FyersBroker:
    """See the module docstring. ``key`` (the segment) and ``day`` make the order tags;
    ``instruments`` gives each symbol's (tick size, lot size)."""

    def __init__(
        self,
        gateway: OrderGateway,
        *,
        key: str,
        day: date,
        instruments: Mapping[str, tuple[float, int]],
        band_pct: float = 0.5,
        reconcile_seconds: float = 5.0,
        lag_grace: float = 10.0,
        stream: OrderStream | None = None,
        tracker: FyersTracker | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.key = key
        self.day = day
        self.instruments = dict(instruments)
        self.band_pct = band_pct
        self.reconcile_seconds = reconcile_seconds
        self.stream = stream
        self.tracker = tracker or FyersTracker(day)
        self.tracker.lag_grace = self.lag_grace = lag_grace
        self._monotonic = monotonic
        self._sink: EventSink | None = None
        self._account: Account | None = None
        self._last: dict[str, float] = {}
        self._outbox: list[tuple[str, dict[str, Any]]] = []
        self._sender = FyersSender(gateway)
        self._next_read = 0.0
        self._read_pending = False
        self.fyers_positions: list[BrokerPosition] = []
        self._suspect: tuple[str, ...] = ()
        self._left: dict[str, list[tuple[int, float]]] = {}  # symbol → (a net we left, when)
        self.positions_settling: list[str] = []  # differences Fyers' positions may still catch up
        self._told: set[str] = set()  # settling lines already logged
        self.held: dict[str, str] = {}  # our order id → why its outcome is unknown
        self.flatten_report: FlattenReport | None = None
        self.reads = 0  # complete reads applied
        self.sent = 0  # place requests handed to the sender

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        self._sender.start()
        if self.stream is not None:
            self.stream.start()

    def close(self) -> None:
        """Stop the sender after what it was given (orders already recorded are still sent)
        and the order stream."""
        self._sender.close()
        if self.stream is not None:
            self.stream.stop()

    # ------------------------------------------------------------------ the Broker port

    def bind(self, sink: EventSink, account: Account) -> None:
        self._sink, self._account = sink, account

    def submit(self, order: Order) -> None:
        """File ``order`` for sending (after the journal has it: :meth:`flush`)."""
        tag = fyers_tag(self.key, order.id, self.day)
        tick, lot = self.instruments.get(order.symbol, (0.05, 1))
        ts = order.created_ts
        try:
            payload = place_payload(
                order,
                tag=tag,
                tick=tick,
                lot=lot,
                reference=self.last_price(order.symbol),
                band_pct=self.band_pct,
            )
        except InputError as exc:
            self._emit(OrderRejected(order.id, ts, f"not sent to Fyers: {exc}"))
            return
        self.tracker.track(
            order.id, tag, order.symbol, order.side, order.quantity, ts, answered=False
        )
        self._outbox.append((order.id, payload))

    def cancel(self, order_id: str) -> None:
        for k, (oid, _) in enumerate(self._outbox):
            if oid == order_id:  # never sent: nothing to ask Fyers
                del self._outbox[k]
                self.tracker.drop(order_id)
                self._emit(OrderCancelled(order_id, self._now(), "", "cancelled before sending"))
                return
        self._hand("cancel", (order_id, self.tracker.tag_of(order_id)))

    def on_bar(self, state: SymbolState, i: int) -> None:
        self._last[state.symbol] = state.close_at(i)

    def quote(self, state: SymbolState, price: float, ts: int, *, slippage: bool = True) -> None:
        self._last[state.symbol] = price

    # the paper broker's market input, for the live trader
    def on_tick(self, state: SymbolState, price: float, ts: int) -> None:
        self._last[state.symbol] = price

    def on_minute_bar(
        self, state: SymbolState, bar: tuple[int, float, float, float, float]
    ) -> None:
        self._last[state.symbol] = bar[4]

    def end_orders(self, ts: int, *, stopped: bool) -> int:
        """The run is over: cancel every order of ours still working at Fyers (nothing watches
        it once the engine is gone); the cancels arrive as events. Returns how many."""
        filed = {oid for oid, _ in self._outbox}
        working = [oid for oid in self.tracker.working() if oid not in filed]
        for oid in filed:
            self.cancel(oid)
        for oid in working:
            self._hand("cancel", (oid, self.tracker.tag_of(oid)))
        return len(filed) + len(working)

    def match_pending(self) -> None:
        """Nothing: Fyers' exchange does the matching."""

    def last_price(self, symbol: str) -> float | None:
        if symbol in self._last:
            return self._last[symbol]
        account = self._account
        if account is not None:
            st = account.by_symbol.get(symbol)
            if st is not None and len(st.arrays):
                return st.close_at(len(st.arrays) - 1)
        return None

    # ------------------------------------------------------------------ the engine's thread

    @property
    def pending(self) -> bool:
        """Orders filed and not yet handed to the sender."""
        return bool(self._outbox)

    @property
    def in_flight(self) -> bool:
        """Something sent whose answer has not been applied (or an order not settled)."""
        return bool(self._outbox or self._sender.busy or self.tracker.unsettled())

    def flush(self) -> None:
        """Hand the filed orders to the sender: call only once ``live_orders`` has them."""
        out, self._outbox = self._outbox, []
        for order_id, payload in out:
            self.sent += 1
            self._hand("place", (order_id, payload))

    def request_read(self) -> None:
        """Read the orderbook, tradebook and positions (complete) at the next chance."""
        if not self._read_pending:
            self._read_pending = True
            self._hand("read", None)

    def flatten(self) -> None:
        """Cancel everything working at Fyers and exit every position there (the account, by
        Fyers' own view: used when our books cannot be trusted)."""
        self._hand("flatten", None)

    @property
    def settling(self) -> list[str]:
        """Where Fyers' books are still behind ours (within the grace): one line each."""
        return [*self.tracker.settling.values(), *self.positions_settling]

    def poll(self, now: int) -> int:
        """Apply what Fyers said since the last call; returns the number of events applied.
        Raises ReconciliationError (or OrderStateError) when Fyers and our books disagree."""
        applied = 0
        stream = self.stream
        mono = self._monotonic()
        if stream is not None:
            if stream.error is not None:
                raise stream.error
            while True:
                try:
                    update = stream.updates.get_nowait()
                except queue.Empty:
                    break
                if isinstance(update, Connected):
                    self.request_read()  # the socket never replays what it missed
                elif isinstance(update, BrokerOrder):  # an event, maybe late: never current
                    applied += self._apply(
                        self.tracker.on_order(update, now, at=mono, current=False)
                    )
                elif isinstance(update, BrokerTrade):
                    applied += self._apply(self.tracker.on_trade(update, at=mono))
        while (answer := self._sender.answer()) is not None:
            applied += self._result(*answer, now)
        mono = self._monotonic()
        settling = set(self.settling)
        for line in sorted(settling - self._told):
            log.warning(
                "Fyers' books behind ours, re-reading (up to %g s): %s", self.lag_grace, line
            )
        self._told = settling
        if settling:  # Fyers' books behind ours: look again soon, not in reconcile_seconds
            self._next_read = min(self._next_read, mono + min(1.0, self.reconcile_seconds))
        if mono >= self._next_read:
            self._next_read = mono + self.reconcile_seconds
            self.request_read()
        return applied

    def wait_settled(self, deadline: float, now: Callable[[], int]) -> bool:
        """Poll until nothing is in flight or ``deadline`` (monotonic) passes (for a stop)."""
        while self.in_flight and self._monotonic() < deadline:
            self.poll(now())
            time.sleep(0.02)
        return not self.in_flight

    # ------------------------------------------------------------------ internals

    def _now(self) -> int:
        account = self._account
        return account.now() if account is not None else 0

    def _emit(self, event: OrderEvent) -> None:
        assert self._sink is not None, "the engine binds the broker before it sends orders"
        self._sink.apply(event)

    def _apply(self, events: list[OrderEvent]) -> int:
        for event in events:
            if isinstance(event, OrderFilled | OrderPartiallyFilled):
                self._note_left(event.order_id)
            self._emit(event)
        for oid in list(self.held):
            if oid not in self.tracker.unknown():
                del self.held[oid]
        return len(events)

    def _note_left(self, order_id: str) -> None:
        """A fill of ``order_id`` is about to move its symbol's net: remember the net it
        leaves (Fyers' positions may show it for a moment yet)."""
        account = self._account
        if account is None:
            return
        symbol = self.tracker.symbol_of(order_id)
        mono = self._monotonic()
        held = [(n, at) for n, at in self._left.get(symbol, []) if mono - at < self.lag_grace]
        held.append((account.portfolio.quantity(symbol), mono))
        self._left[symbol] = held

    def _hand(self, kind: str, value: Any) -> None:
        self._sender.hand(kind, value, self._monotonic())

    def _result(self, kind: str, value: Any, asked: float, now: int) -> int:
        if kind == "placed":
            order_id, result = value
            events = self.tracker.on_place(order_id, result, now, at=asked)
            for e in events:
                if isinstance(e, OrderUnknown):
                    self.held[order_id] = e.reason
            return self._apply(events)
        if kind == "order":
            if value is None:
                return 0
            return self._apply(self.tracker.on_order(value, now, at=asked))
        if kind == "book":
            self._read_pending = False
            book: Book = value
            events = self.tracker.reconcile(book.orders, book.trades, now, at=asked)
            n = self._apply(events)
            self.fyers_positions = book.positions
            self.reads += 1
            self._check_positions(asked)
            return n
        if kind == "flattened":
            self.flatten_report = value
            log.warning("Fyers account flattened: %s", value.describe())
            return 0
        # an error of the sender thread
        what, exc = value
        if kind == "read_failed":
            self._read_pending = False
            log.warning("reading the Fyers books failed (%s); trying again", exc)
            return 0
        if isinstance(exc, ReconciliationError | OrderStateError):
            raise exc
        raise ReconciliationError(f"{what} at Fyers failed: {exc}")

    def _check_positions(self, asked: float) -> None:
        """Our net positions against Fyers' (read at ``asked``), when nothing is on its way.
        A symbol where Fyers still shows a net our fills left less than ``lag_grace`` before
        the read is settling, not a difference."""
        account = self._account
        if account is None or self.in_flight:
            return
        ours = {s: p.quantity for s, p in account.portfolio.positions.items()}
        diff = position_differences(ours, self.fyers_positions, symbols=account.by_symbol)
        behind = lagging_symbols(self.fyers_positions, self._left, asked, self.lag_grace)
        self.positions_settling = [d for d in diff if d.split(": ", 1)[0] in behind]
        watched = tuple(
            d for d in diff if "does not trade" not in d and d not in self.positions_settling
        )
        # the three reads are not one snapshot: a fill between them shows as a difference once;
        # the same difference in two reads in a row is real
        suspect, self._suspect = self._suspect, watched
        if watched and watched == suspect:
            raise ReconciliationError(
                "positions differ from Fyers' (what Fyers shows wins): " + "; ".join(watched)
            )
