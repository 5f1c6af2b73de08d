"""Helpers for trading-core tests: hand-written candle tables and a scripted strategy.

A candle table is a list of ``(HH:MM, open, high, low, close)`` rows on one IST date (5-minute
bars by default; :func:`days` joins several dates); :func:`run_table` replays it with a
:class:`ScriptedStrategy` that places the given orders when the bar at that time closes (key
``HH:MM`` on every date, or ``YYYY-MM-DD HH:MM`` on one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import numpy as np

from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Bar, Fill, Instrument, ProductType, Resolution
from fyerstrade.strategies import registry
from fyerstrade.strategies.base import Strategy
from fyerstrade.trading.broker import Broker
from fyerstrade.trading.clock import SimulatedClock
from fyerstrade.trading.context import Context
from fyerstrade.trading.costs import CostModel, ZeroCostModel
from fyerstrade.trading.engine import TradingEngine
from fyerstrade.trading.events import OrderEvent
from fyerstrade.trading.guard import SessionGuard
from fyerstrade.trading.journal import MemoryJournal
from fyerstrade.trading.orders import OrderRules
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.risk import RiskGate
from fyerstrade.trading.session import SessionRules
from fyerstrade.trading.symbols import SymbolState

IST = ZoneInfo("Asia/Kolkata")
DAY = date(2024, 5, 2)  # a Thursday, a normal NSE session

Row = tuple[str, float, float, float, float]
Action = Callable[[Context], Any]


def ist_ts(hhmm: str, day: date = DAY) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return int(datetime.combine(day, time(h, m), tzinfo=IST).timestamp())


def table(rows: Sequence[Row], day: date = DAY) -> CandleArrays:
    return CandleArrays(
        ts=np.array([ist_ts(r[0], day) for r in rows], dtype=np.int64),
        open=np.array([r[1] for r in rows], dtype=np.float64),
        high=np.array([r[2] for r in rows], dtype=np.float64),
        low=np.array([r[3] for r in rows], dtype=np.float64),
        close=np.array([r[4] for r in rows], dtype=np.float64),
        volume=np.full(len(rows), 1000, dtype=np.int64),
    )


def days(rows: Sequence[Row], *dates: date) -> CandleArrays:
    """The same rows on each of ``dates`` (ascending), as one table."""
    parts = [table(rows, d) for d in dates]
    return CandleArrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))


FIELDS = ("ts", "open", "high", "low", "close", "volume")


class ScriptedStrategy(Strategy):
    """Runs ``script[HH:MM]`` and ``script[YYYY-MM-DD HH:MM]`` (callables of ctx) when the bar
    stamped then closes, and ``on_fill_script`` on every fill."""

    name: ClassVar[str] = "scripted"
    script: ClassVar[Mapping[str, Sequence[Action]]] = {}
    on_fill_script: ClassVar[Callable[[Context, Fill], Any] | None] = None
    seen: ClassVar[list[str]] = []

    def on_data(self, ctx: Context) -> None:
        stamp = datetime.fromtimestamp(int(ctx.bars(ctx.symbols[0]).ts.last), IST)
        hhmm = stamp.strftime("%H:%M")
        type(self).seen.append(hhmm)
        for action in (
            *self.script.get(hhmm, ()),
            *self.script.get(f"{stamp:%Y-%m-%d} {hhmm}", ()),
        ):
            action(ctx)

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        hook = type(self).on_fill_script
        if hook is not None:
            hook(ctx, fill)


def run_table(
    rows: Sequence[Row],
    script: Mapping[str, Sequence[Action]],
    *,
    on_fill: Callable[[Context, Fill], Any] | None = None,
    instrument: Instrument | None = None,
    resolution: Resolution = Resolution.M5,
    symbol: str = "NSE:TEST-EQ",
    symbols: Sequence[str] | None = None,
    bars: CandleArrays | None = None,
    cost_model: CostModel | None = None,
    **config: Any,
) -> BacktestResult:
    """Replay ``rows`` (or ``bars``, e.g. from :func:`days`) with ``script`` (HH:MM -> actions)
    through the real runner, for ``symbol`` (or each of ``symbols``, the same bars; the script
    runs at the first symbol's bars)."""
    strategy = type(
        "Scripted",
        (ScriptedStrategy,),
        {
            "script": script,
            "on_fill_script": staticmethod(on_fill) if on_fill else None,
            "seen": [],
        },
    )
    registry.BUILTINS["scripted"] = strategy
    names = list(symbols or [symbol])
    data = table(rows) if bars is None else bars
    first = datetime.fromtimestamp(int(data.ts[0]), IST).date()
    last = datetime.fromtimestamp(int(data.ts[-1]), IST).date()
    try:
        cfg = BacktestConfig(
            strategy="scripted",
            params={},
            symbols=names,
            resolution=resolution,
            start=first,
            end=last,
            **({"costs": False} | config),
        )
        return run_backtest(
            cfg,
            data=dict.fromkeys(names, data),
            instruments={s: instrument or Instrument(s) for s in names},
            cost_model=cost_model,
        )
    finally:
        del registry.BUILTINS["scripted"]


def engine_on_table(
    rows: Sequence[Row],
    script: Mapping[str, Sequence[Action]],
    broker: Broker,
    *,
    on_fill: Callable[[Context, Fill], Any] | None = None,
    costs: CostModel | None = None,
    capital: float = 100_000.0,
    mode: str = "positional",
    symbol: str = "NSE:TEST-EQ",
    resolution: Resolution = Resolution.M5,
    risk: RiskGate | None = None,
) -> tuple[TradingEngine, MemoryJournal, list[OrderEvent]]:
    """Wire the trading core by hand around ``broker`` (any implementation of the port) and
    feed it ``rows`` one closed bar at a time, as a live bar source does; then the end of the
    data. Returns the engine, its journal and every event the broker reported, in order."""
    strategy = type(
        "Scripted",
        (ScriptedStrategy,),
        {
            "script": script,
            "on_fill_script": staticmethod(on_fill) if on_fill else None,
            "seen": [],
        },
    )()
    state = SymbolState(0, symbol, CandleArrays.empty(), resolution, Instrument(symbol))
    product = ProductType.INTRADAY if mode == "intraday" else ProductType.CNC
    clock = SimulatedClock()
    journal = MemoryJournal()
    engine = TradingEngine(
        strategy,
        [state],
        clock=clock,
        broker=broker,
        portfolio=Portfolio(capital),
        rules=OrderRules(),
        guard=SessionGuard(SessionRules(mode), risk),  # type: ignore[arg-type]
        costs=costs or ZeroCostModel(),
        journal=journal,
        default_product=lambda _: product,
    )
    events: list[OrderEvent] = []

    class Recorder:  # between the broker and the engine: every event, as reported
        def apply(self, event: OrderEvent) -> None:
            events.append(event)
            engine.apply(event)

    broker.bind(Recorder(), engine)
    engine.start()
    bars = table(rows)
    for i, ts in enumerate(bars.ts.tolist()):
        close_ts = ts + resolution.seconds
        clock.advance_to(close_ts)
        bar = Bar(
            symbol,
            resolution,
            ts,
            float(bars.open[i]),
            float(bars.high[i]),
            float(bars.low[i]),
            float(bars.close[i]),
            int(bars.volume[i]),
        )
        engine.on_bars([bar], close_ts)
    engine.finish()
    return engine, journal, events
