"""Helpers for trading-core tests: hand-written candle tables and a scripted strategy.

A candle table is a list of ``(HH:MM, open, high, low, close)`` rows on one IST date (5-minute
bars by default); :func:`run_table` replays it with a :class:`ScriptedStrategy` that places the
given orders when the bar at that time closes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import numpy as np

from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.domain import Fill, Instrument, Resolution
from fyerstrade.store.candles import CandleArrays
from fyerstrade.strategies import registry
from fyerstrade.strategies.base import Strategy
from fyerstrade.trading.context import Context

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


class ScriptedStrategy(Strategy):
    """Runs ``script[HH:MM]`` (callables of ctx) when the bar stamped HH:MM closes, and
    ``on_fill_script`` on every fill."""

    name: ClassVar[str] = "scripted"
    script: ClassVar[Mapping[str, Sequence[Action]]] = {}
    on_fill_script: ClassVar[Callable[[Context, Fill], Any] | None] = None
    seen: ClassVar[list[str]] = []

    def on_data(self, ctx: Context) -> None:
        hhmm = datetime.fromtimestamp(int(ctx.bars(ctx.symbols[0]).ts.last), IST).strftime("%H:%M")
        type(self).seen.append(hhmm)
        for action in self.script.get(hhmm, ()):
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
    **config: Any,
) -> BacktestResult:
    """Replay ``rows`` with ``script`` (HH:MM -> actions) through the real runner."""
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
    try:
        cfg = BacktestConfig(
            strategy="scripted",
            params={},
            symbols=[symbol],
            resolution=resolution,
            start=DAY,
            end=DAY,
            **({"costs": False} | config),
        )
        return run_backtest(
            cfg,
            data={symbol: table(rows)},
            instruments={symbol: instrument or Instrument(symbol)},
        )
    finally:
        del registry.BUILTINS["scripted"]
