"""Brokers: where the engine's orders go and where fills come from.

The engine talks to a :class:`Broker` through ``submit``/``cancel``/``on_bar`` and receives
executions through :class:`FillSink.execute`. :class:`SimulatedBroker` matches working orders
against each new bar with the fill model (backtests); a paper broker matching on live ticks, or
the Fyers broker, implement the same protocol, so the engine has no notion of "live".
"""

from __future__ import annotations

from typing import Protocol

from fyerstrade.domain import Order, Side
from fyerstrade.trading.book import WorkingOrder, match_order
from fyerstrade.trading.enum_members import CANCELLED, OPEN_STATUSES
from fyerstrade.trading.fills import Slippage, fill_price
from fyerstrade.trading.symbols import SymbolState


class FillSink(Protocol):
    """The engine side of an execution."""

    def execute(
        self, state: SymbolState, order: Order, price: float, ts: int, reduce_only: bool
    ) -> None: ...


class Broker(Protocol):
    def submit(
        self,
        state: SymbolState,
        order: Order,
        *,
        active_from: int,
        reduce_only: bool,
        ref_open: float | None,
    ) -> None: ...

    def cancel(self, state: SymbolState, order: Order) -> bool: ...

    def working_orders(self, state: SymbolState) -> list[WorkingOrder]: ...

    def market_price(self, state: SymbolState, side: Side, reference: float) -> float: ...

    def on_bar(self, state: SymbolState, i: int, sink: FillSink) -> None: ...


class SimulatedBroker:
    """Fills working orders inside bars by the rules of :mod:`fyerstrade.trading.fills`."""

    def __init__(self, slippage: Slippage | None = None) -> None:
        self.slippage = slippage or Slippage()
        self._seq = 0

    def submit(
        self,
        state: SymbolState,
        order: Order,
        *,
        active_from: int,
        reduce_only: bool,
        ref_open: float | None,
    ) -> None:
        self._seq += 1
        state.working.append(WorkingOrder(order, active_from, reduce_only, ref_open, self._seq))

    def cancel(self, state: SymbolState, order: Order) -> bool:
        for k, w in enumerate(state.working):
            if w.order is order:
                del state.working[k]
                order.status = CANCELLED
                return True
        return False

    def working_orders(self, state: SymbolState) -> list[WorkingOrder]:
        return list(state.working)

    def market_price(self, state: SymbolState, side: Side, reference: float) -> float:
        """The price a market order gets when the market stands at ``reference``."""
        return self.slippage.apply(reference, side, state.instrument.tick_size)

    def on_bar(self, state: SymbolState, i: int, sink: FillSink) -> None:
        """Match the working orders eligible in bar ``i``: market first, then stops, then
        limits (so a stop beats a target in the same bar); orders placed by fills in this bar
        are matched against the same bar after the current pass."""
        working = state.working
        arrays = state.arrays
        open_ = float(arrays.open[i])
        high = float(arrays.high[i])
        low = float(arrays.low[i])
        ts = int(arrays.ts[i])
        tick = state.instrument.tick_size
        seen: set[int] = set()
        while True:
            submitted = self._seq
            batch = [w for w in working if w.active_from <= i and w.seq not in seen]
            if not batch:
                return
            if len(batch) > 1:
                batch.sort(key=match_order)
            for w in batch:
                seen.add(w.seq)
                order = w.order
                if order.status not in OPEN_STATUSES:
                    continue
                ref = w.ref_open if (w.ref_open is not None and w.active_from == i) else open_
                price = fill_price(order, ref, high, low, tick, self.slippage)
                if price is None:
                    continue
                if w in working:
                    working.remove(w)
                sink.execute(state, order, price, ts, w.reduce_only)
            if self._seq == submitted:
                return  # no order was placed during this pass: nothing new to match
