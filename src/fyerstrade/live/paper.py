"""The paper broker: the backtest's simulated venue fed live ticks instead of bars.

It is a :class:`~fyerstrade.trading.venue.SimulatedVenue` — the same book, the same rules at
the fill (reduce-only clipping, the funds check), the same fill model and slippage, the same
events to the engine — so the :class:`~fyerstrade.trading.engine.TradingEngine` cannot tell
paper trading from a backtest. What differs is the market input: the live engine hands every
tick to :meth:`PaperBroker.on_tick`, and every 1-minute bar it did not observe tick by tick
(backfilled from the history API after a gap) to :meth:`PaperBroker.on_minute_bar`; the
engine's per-bar input (:meth:`on_bar`) does nothing.

How a tick fills an order: each working order keeps the open, high and low of the ticks it has
seen in the current minute, and is filled by :func:`~fyerstrade.trading.fills.fill_price` on that
partial bar at the first tick that makes it fill. So

* a market order fills at the first tick after the bar it was decided on: the open of the next
  minute (plus slippage), the price a backtest gives it;
* a limit or stop order fills when a tick crosses its price, at the price (or at the minute's
  open when that was already through it), as the bar rules say for the bar built from the same
  ticks. Only when one minute crossed both a stop and a target may live and backtest differ:
  the ticks know which came first, the bar rule assumes the stop.

An order decided at a bar close whose symbol has already ticked in a later minute starts with
that minute's range so far and is matched right after the bar's processing
(:meth:`match_pending`), so the delay of bar dispatch (waiting for every symbol's bar of the
minute) never changes its price. Orders placed while a tick is being matched (from ``on_fill``)
see only later ticks.

A paper order lives no longer than the engine's run: at the session's end the orders still
working expire (:meth:`PaperBroker.end_orders`: ``OrderExpired``, a day order), and when the
engine is stopped they are cancelled (``OrderCancelled``), so every order ends with a final
state.
"""

from __future__ import annotations

from fyerstrade.domain import Order
from fyerstrade.trading.book import WorkingOrder, match_order
from fyerstrade.trading.events import OrderCancelled, OrderExpired
from fyerstrade.trading.fills import Slippage, fill_price
from fyerstrade.trading.symbols import SymbolState
from fyerstrade.trading.venue import SimulatedVenue

__all__ = ["PaperBroker"]

_NONE = -1


class _PaperOrder(WorkingOrder):
    """A working order with the range of the ticks it has seen in the current minute."""

    __slots__ = ("high", "low", "minute", "open")

    def __init__(
        self, order: Order, active_from: int, reduce_only: bool, ref_open: float | None, seq: int
    ) -> None:
        super().__init__(order, active_from, reduce_only, ref_open, seq)
        self.minute = _NONE
        self.open = self.high = self.low = 0.0


class _SymbolRange:
    """The current minute of one symbol as seen tick by tick."""

    __slots__ = ("high", "last", "low", "minute", "open", "ts")

    def __init__(self) -> None:
        self.minute = _NONE
        self.open = self.high = self.low = self.last = 0.0
        self.ts = 0


class PaperBroker(SimulatedVenue):
    def __init__(self, slippage: Slippage | None = None) -> None:
        super().__init__(slippage)
        self._ranges: dict[str, _SymbolRange] = {}
        self._in_tick = False
        self._pending: list[tuple[SymbolState, _PaperOrder]] = []

    # ---- the venue's book on ticks ------------------------------------------------------------
    def _working(self, state: SymbolState, order: Order, i: int) -> WorkingOrder:
        w = _PaperOrder(order, i + 1, order.reduce_only, None, self._seq)
        if not self._in_tick:
            # decided at a bar close (the order's time): when the symbol has ticked in a minute
            # that starts at or after it, that minute's ticks came after the decision. (Not
            # "after the last bar's open": a 5-minute bar's last minute is later than its open
            # and earlier than its close, and its ticks came before the decision.)
            r = self._ranges.get(state.symbol)
            if (
                r is not None
                and r.minute >= order.created_ts
                and w.active_from <= len(state.arrays)
            ):
                w.minute, w.open, w.high, w.low = r.minute, r.open, r.high, r.low
                self._pending.append((state, w))
        return w

    def on_bar(self, state: SymbolState, i: int) -> None:
        """Nothing: live orders are matched on ticks and on backfilled minutes."""

    def end_orders(self, ts: int, *, stopped: bool) -> int:
        """The run is over: every order still working ends (expired at the session's end,
        cancelled when the engine was stopped), reported as events. Returns how many."""
        sink = self._sink
        assert sink is not None, "bind the venue to an engine first"
        ended = 0
        for book in self._books.values():
            while book:
                order = book.pop(0).order
                ended += 1
                if stopped:
                    why = "the engine stopped: a paper order does not outlive it"
                    sink.apply(OrderCancelled(order.id, ts, order.broker_id, why))
                else:
                    why = "a day order: the session is over"
                    sink.apply(OrderExpired(order.id, ts, order.broker_id, why))
        self._pending.clear()
        return ended

    # ---- live matching ----------------------------------------------------------------------
    def match_pending(self) -> None:
        """Match the orders just decided whose symbol already traded after the decision."""
        pending, self._pending = self._pending, []
        self._in_tick = True
        try:
            for state, w in pending:
                self._try(state, w, self._ranges[state.symbol].ts)
        finally:
            self._in_tick = False

    def on_tick(self, state: SymbolState, price: float, ts: int) -> None:
        """Track the symbol's minute and fill the working orders this tick makes fill."""
        minute = ts - ts % 60
        r = self._ranges.get(state.symbol)
        if r is None:
            r = self._ranges[state.symbol] = _SymbolRange()
        if minute != r.minute:
            if minute < r.minute:
                return  # a late tick of a minute already passed
            r.minute, r.open, r.high, r.low = minute, price, price, price
        elif price > r.high:
            r.high = price
        elif price < r.low:
            r.low = price
        r.ts = ts
        r.last = price
        book = self._books.get(state.symbol)
        if not book:
            return
        n = len(state.arrays)
        self._in_tick = True
        try:
            for w in list(book):
                if w.active_from > n or not isinstance(w, _PaperOrder):
                    continue
                if w.minute != minute:
                    w.minute, w.open, w.high, w.low = minute, price, price, price
                else:
                    if price > w.high:
                        w.high = price
                    if price < w.low:
                        w.low = price
                self._try(state, w, ts)
        finally:
            self._in_tick = False

    def on_minute_bar(
        self, state: SymbolState, bar: tuple[int, float, float, float, float]
    ) -> None:
        """Match working orders against a whole 1-minute bar that was not seen tick by tick
        (backfilled), by the backtest's bar rules: market, then stops, then limits.
        ``bar`` is (open time, open, high, low, close)."""
        ts, open_, high, low, close = bar
        n = len(state.arrays)
        book = self._books.get(state.symbol, [])
        batch = [w for w in book if isinstance(w, _PaperOrder) and w.active_from <= n]
        batch.sort(key=match_order)
        self._in_tick = True
        try:
            for w in batch:
                w.minute, w.open, w.high, w.low = ts - ts % 60, open_, high, low
                self._try(state, w, ts)
        finally:
            self._in_tick = False
        r = self._ranges.get(state.symbol)
        if r is None:
            r = self._ranges[state.symbol] = _SymbolRange()
        if ts >= r.minute:
            r.minute, r.open, r.high, r.low, r.ts = ts - ts % 60, open_, high, low, ts
            r.last = close

    def last_price(self, symbol: str) -> float | None:
        """The last traded price seen for ``symbol`` (its current minute's close so far)."""
        r = self._ranges.get(symbol)
        return None if r is None or r.minute == _NONE else r.last

    def _try(self, state: SymbolState, w: _PaperOrder, ts: int) -> None:
        if w not in self._books.get(state.symbol, ()):
            return  # filled or cancelled meanwhile
        price = fill_price(
            w.order, w.open, w.high, w.low, state.instrument.tick_size, self.slippage
        )
        if price is not None:
            self._fill(state, w, price, ts)
