"""One trading core, two bar sources: bars fed one at a time (as a live bar builder does, with
indicators recomputed over the bars so far) make exactly the trades of the backtest replay.

This also proves the built-in indicators causal: computed on the bars known at each step they
give the same decisions as computed once over the whole arrays."""

from __future__ import annotations

from datetime import date

import pytest

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.calendar import get_calendar
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Bar, Instrument, Resolution
from fyerstrade.strategies.registry import get_strategy
from fyerstrade.trading.assembly import build_engine, slippage
from fyerstrade.trading.clock import SimulatedClock
from fyerstrade.trading.journal import MemoryJournal
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.symbols import SymbolState
from fyerstrade.trading.venue import SimulatedVenue

RES = Resolution.M5


def bar_by_bar(cfg: BacktestConfig, bars: CandleArrays) -> MemoryJournal:
    """Assemble the core as the live runner does (``trading/assembly.build_engine``) and feed it
    one closed bar at a time."""
    strategy = get_strategy(cfg.strategy)(**cfg.params)
    state = SymbolState(0, "X", CandleArrays.empty(), RES, Instrument("X"))
    clock = SimulatedClock()
    journal = MemoryJournal()
    engine = build_engine(
        cfg,
        strategy,
        [state],
        clock=clock,
        broker=SimulatedVenue(slippage(cfg)),
        portfolio=Portfolio(cfg.capital),
        journal=journal,
    )
    engine.start()
    closes = get_calendar().bar_close_times(bars.ts, RES).tolist()
    for i, close_ts in enumerate(closes):
        clock.advance_to(close_ts)
        bar = Bar(
            "X",
            RES,
            int(bars.ts[i]),
            float(bars.open[i]),
            float(bars.high[i]),
            float(bars.low[i]),
            float(bars.close[i]),
            int(bars.volume[i]),
        )
        engine.on_bars([bar], close_ts)
    engine.finish()
    return journal


@pytest.mark.parametrize(
    ("strategy", "mode", "quantity", "costs"),
    [
        ("sma_crossover", "positional", 10, False),
        ("opening_price_crossover", "intraday", None, True),
    ],
)
def test_bar_by_bar_feed_makes_the_replay_trades(
    strategy: str, mode: str, quantity: int | None, costs: bool
) -> None:
    bars = synthetic_candles(1200, resolution=RES, seed=21)
    cfg = BacktestConfig(
        strategy,
        {},
        ["X"],
        RES,
        date(2024, 1, 1),
        date(2024, 12, 31),
        mode=mode,
        quantity=quantity,
        costs=costs,
    )  # type: ignore[arg-type]
    replayed = run_backtest(cfg, data={"X": bars})
    live = bar_by_bar(cfg, bars)
    assert len(replayed.trades) > 5
    assert live.fills == replayed.fills
    assert live.trades == replayed.trades
    assert live.rejections == replayed.rejections
