"""Context: everything a strategy can see and do, identical in a backtest and live.

It is a thin facade over the engine: the clock's time, bars and indicators revealed up to the
current bar, positions, cash and equity, and order methods. Orders placed in ``on_data`` are
eligible from the next bar (market orders fill at its open); stop and limit orders placed in
``on_fill`` are matched against the rest of the current bar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from fyerstrade.calendar import to_ist
from fyerstrade.domain import Instrument, Order, Position, ProductType, Resolution, Side
from fyerstrade.trading.bars import BarsView, SeriesView
from fyerstrade.trading.clock import Clock
from fyerstrade.trading.enum_members import BUY, SELL
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.symbols import SymbolState


class Desk(Protocol):
    """What a :class:`Context` reads and trades through: the trading engine, seen from the
    strategy's side (defined here so that this module does not depend on the engine)."""

    clock: Clock
    portfolio: Portfolio
    fixed_quantity: int | None
    default_product: Callable[[SymbolState], ProductType]

    @property
    def states(self) -> Sequence[SymbolState]: ...

    def state(self, symbol: str) -> SymbolState: ...

    def equity(self) -> float: ...

    def size(self, symbol: str, product: ProductType) -> int: ...

    def unclosed(self, symbol: str) -> int: ...

    def expected(self, symbol: str) -> int: ...

    def skip_order_id(self) -> None: ...

    def place(
        self,
        symbol: str,
        side: Side,
        quantity: int | None,
        limit: float | None = None,
        stop: float | None = None,
        product: ProductType | None = None,
        tag: str = "",
        reduce_only: bool = False,
    ) -> Order: ...

    def cancel(self, order: Order | str) -> bool: ...

    def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    def log(self, message: str, level: str = "INFO", symbol: str = "") -> None: ...


class Context:
    """The strategy's window on the run (see the module docstring)."""

    __slots__ = ("_engine", "symbols", "updated")

    def __init__(self, engine: Desk) -> None:
        self._engine = engine
        self.symbols: tuple[str, ...] = tuple(s.symbol for s in engine.states)
        self.updated: tuple[str, ...] = ()  # symbols with a new bar at this timestamp

    # ---- time and data --------------------------------------------------------------------
    @property
    def now(self) -> int:
        """The clock, epoch seconds (a bar's close time during ``on_data``)."""
        return self._engine.clock.now()

    @property
    def time(self) -> datetime:
        """The clock as an IST datetime."""
        return to_ist(self._engine.clock.now())

    def bars(self, symbol: str, resolution: Resolution | None = None) -> BarsView:
        """OHLCV of ``symbol`` up to the current bar; with a higher ``resolution`` (e.g.
        ``Resolution.D`` while trading 5-minute bars), only the bars of that resolution whose
        close time is ≤ now."""
        st = self._engine.state(symbol)
        if resolution is None or resolution is st.resolution:
            return st.bars
        if resolution.seconds < st.resolution.seconds:
            raise ValueError(
                f"{resolution} bars are finer than the run's {st.resolution}; ask for a "
                "higher resolution"
            )
        return st.higher_bars(resolution).update(self._engine.clock.now())

    def indicator(self, symbol: str, name: str) -> SeriesView:
        """The indicator ``name`` (declared in ``Strategy.indicators``) up to the current bar."""
        st = self._engine.state(symbol)
        view = st.indicator_views.get(name)
        if view is None:
            known = ", ".join(st.indicator_views) or "none declared"
            raise KeyError(f"no indicator {name!r} for {symbol} ({known})")
        return view

    def instrument(self, symbol: str) -> Instrument:
        return self._engine.state(symbol).instrument_at(self._engine.clock.now())

    # ---- account --------------------------------------------------------------------------
    def position(self, symbol: str) -> Position:
        self._engine.state(symbol)
        return self._engine.portfolio.position(symbol)

    def qty(self, symbol: str) -> int:
        """Net position in ``symbol`` (negative = short)."""
        pos = self._engine.portfolio.positions.get(symbol)  # (Portfolio.quantity, inlined:
        return 0 if pos is None else pos.quantity  # asked at every due bar)

    def expected_qty(self, symbol: str) -> int:
        """Net position in ``symbol`` once the market orders on their way to the broker fill:
        :meth:`qty` plus what they buy, less what they sell (limit and stop orders, which may
        never fill, do not count). In a backtest and in paper trading a market order fills at
        the next bar's open, so in ``on_data`` this is :meth:`qty`; with real orders it covers
        the moment before Fyers' fill is read, when :meth:`qty` does not show it yet."""
        self._engine.state(symbol)
        return self._engine.expected(symbol)

    @property
    def cash(self) -> float:
        return self._engine.portfolio.cash

    @property
    def equity(self) -> float:
        return self._engine.equity()

    # ---- orders ---------------------------------------------------------------------------
    def buy(
        self,
        symbol: str,
        quantity: int | None = None,
        *,
        limit: float | None = None,
        stop: float | None = None,
        product: ProductType | None = None,
        tag: str = "",
        reduce_only: bool = False,
    ) -> Order:
        """Buy: market, or limit / stop / stop-limit when ``limit`` and/or ``stop`` are given.
        ``quantity=None`` uses the run's sizing. Returns the order (REJECTED with a reason when
        the checks refuse it)."""
        # (positional: keywords cost a measurable part of the order path)
        return self._engine.place(symbol, BUY, quantity, limit, stop, product, tag, reduce_only)

    def sell(
        self,
        symbol: str,
        quantity: int | None = None,
        *,
        limit: float | None = None,
        stop: float | None = None,
        product: ProductType | None = None,
        tag: str = "",
        reduce_only: bool = False,
    ) -> Order:
        """Sell (see :meth:`buy`)."""
        return self._engine.place(symbol, SELL, quantity, limit, stop, product, tag, reduce_only)

    def close(self, symbol: str, *, tag: str = "signal") -> Order | None:
        """Flatten ``symbol`` with a market order (None when already flat, or when market
        exits on their way to the broker close all of it already)."""
        qty = self._engine.unclosed(symbol)
        if qty == 0:
            if self._engine.portfolio.quantity(symbol):
                # already closing: the id the redundant order took before stays used, so that
                # order ids stay those of the vectorized engine and of runs saved earlier
                self._engine.skip_order_id()
            return None
        side = SELL if qty > 0 else BUY
        return self._engine.place(symbol, side, abs(qty), None, None, None, tag, True)

    def order_target(
        self,
        symbol: str,
        target: int,
        *,
        limit: float | None = None,
        stop: float | None = None,
        product: ProductType | None = None,
        tag: str = "",
    ) -> Order | None:
        """Trade the difference between ``target`` and the position once the market orders on
        their way fill (:meth:`expected_qty`; None if zero): asked again before a real fill is
        read, it does not buy twice. Working limit and stop orders are not counted."""
        delta = target - self.expected_qty(symbol)
        if delta == 0:
            return None
        side = BUY if delta > 0 else SELL
        return self._engine.place(
            symbol, side, abs(delta), limit=limit, stop=stop, product=product, tag=tag
        )

    def size(self, symbol: str, product: ProductType | None = None) -> int:
        """The run's entry quantity for ``symbol`` (fixed, or sized by free margin)."""
        eng = self._engine
        if eng.fixed_quantity is not None:
            return eng.fixed_quantity
        st = eng.state(symbol)
        return eng.size(symbol, product or eng.default_product(st))

    def cancel(self, order: Order | str) -> bool:
        """Cancel a working order (by object or id); False if it was no longer open."""
        return self._engine.cancel(order)

    def cancel_all(self, symbol: str | None = None) -> int:
        orders = self._engine.open_orders(symbol)
        return sum(self._engine.cancel(o) for o in orders)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return self._engine.open_orders(symbol)

    def log(self, message: str, level: str = "INFO", symbol: str = "") -> None:
        """A line for the run's debug log (stamped with the clock)."""
        self._engine.log(message, level, symbol)
