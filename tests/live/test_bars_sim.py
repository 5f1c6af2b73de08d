"""Bars built from the simulator's ticks equal the simulator's own 1-minute candles."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from fyerstrade.domain import Bar, Resolution
from fyerstrade.live.bars import BarBuilder
from fyerstrade.sim import SimConfig
from fyerstrade.sim.state import SimState
from fyerstrade.sim.ticks import TickSource
from fyerstrade.sim.universe import ROOTS

DAY = date(2026, 11, 20)
STATE = SimState(SimConfig(port=0, seed=42))
SYMBOLS = sorted(r.symbol for r in ROOTS)


def candle(symbol: str, i: int) -> Bar:
    inst = STATE.universe(DAY).get(symbol)
    assert inst is not None
    bars, _ = TickSource(STATE).day(inst, DAY)
    ts, o, h, lo, c, v = bars.rows()[i]
    return Bar(symbol, Resolution.M1, int(ts), o, h, lo, c, int(v))


@settings(max_examples=60, deadline=None)
@given(symbol=st.sampled_from(SYMBOLS), i=st.integers(0, 374), seed=st.integers(0, 3))
def test_bar_from_one_minute_of_ticks_equals_the_candle(symbol: str, i: int, seed: int) -> None:
    state = SimState(SimConfig(port=0, seed=seed)) if seed else STATE
    source = TickSource(state)
    inst = state.universe(DAY).get(symbol)
    assert inst is not None
    bars, before = source.day(inst, DAY)
    ticks = source.candle_ticks(inst, bars, before, i)
    assert ticks[0].ts == int(bars.ts[i]) and ticks[-1].ts < int(bars.ts[i]) + 60
    builder = BarBuilder()
    builder.seed_volume(symbol, int(before[i]))
    for t in ticks:
        assert builder.update(symbol, t.ts, t.price, t.cum_volume, t.qty) is None
    (bar,) = builder.flush()
    expected = Bar(
        symbol,
        Resolution.M1,
        int(bars.ts[i]),
        float(bars.open[i]),
        float(bars.high[i]),
        float(bars.low[i]),
        float(bars.close[i]),
        int(bars.volume[i]),
    )
    assert bar == expected


def test_a_whole_session_of_ticks_rebuilds_every_candle() -> None:
    symbol = "NSE:SBIN-EQ"
    inst = STATE.universe(DAY).get(symbol)
    assert inst is not None
    source = TickSource(STATE)
    bars, _ = source.day(inst, DAY)
    start = int(bars.ts[0]) - 1
    ticks = source.ticks(inst, start, int(bars.ts[-1]) + 59)
    builder = BarBuilder()
    built = [b for t in ticks if (b := builder.update(symbol, t.ts, t.price, t.cum_volume, t.qty))]
    built += builder.flush()
    assert len(built) == len(bars) == 375
    assert built[0] == candle(symbol, 0)
    assert built[200] == candle(symbol, 200)
    assert [b.volume for b in built] == [int(v) for v in bars.volume]
    assert [b.close for b in built] == [float(c) for c in bars.close]
