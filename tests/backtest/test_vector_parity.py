"""Parity: the vectorized engine makes exactly the event engine's trades.

For both built-in strategies, over random parameters and generated bars (random walks on NSE
session times with bars missing at random, so days end early and sessions have holes; coarse ticks
so moving averages tie), positional and intraday, with costs and slippage: the fills (order ids,
times, prices, quantities, charges), the round trips, the rejections and the equity, cash and
exposure curves are equal — not approximately, exactly, so costs agree to the paisa and beyond.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.backtest.vector.run import run_vector
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Instrument, InstrumentKind, ProductType, Resolution, Segment

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def bars(draw: st.DrawFn, resolution: Resolution) -> CandleArrays:
    n = draw(st.integers(60, 1200))
    tick = draw(st.sampled_from([0.05, 0.05, 1.0]))
    full = synthetic_candles(
        n,
        start=date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 300))),
        resolution=resolution,
        seed=draw(st.integers(0, 10_000)),
        price=draw(st.sampled_from([95.0, 1000.0, 24_000.0])),
        volatility=draw(st.sampled_from([0.0005, 0.002, 0.006])),
        tick=tick,
    )
    keep = np.random.default_rng(draw(st.integers(0, 10_000))).random(n) >= draw(
        st.sampled_from([0.0, 0.05, 0.3])
    )
    keep[0] = True
    idx = np.flatnonzero(keep)
    return CandleArrays(
        *(getattr(full, c)[idx] for c in ("ts", "open", "high", "low", "close", "volume"))
    )


sma_params = st.integers(1, 20).flatmap(
    lambda fast: st.fixed_dictionaries(
        {
            "fast": st.just(fast),
            "slow": st.integers(fast + 1, fast + 40),
            "allow_short": st.booleans(),
        }
    )
)
opening_params = st.fixed_dictionaries(
    {
        "ema_fast": st.integers(1, 12),
        "ema_slow": st.integers(2, 40),
        "exit_pct1": st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]),
        "rr1": st.sampled_from([0.1, 0.5, 1.0, 1.7]),
        "rr2": st.sampled_from([0.2, 1.5, 3.0, 6.0]),
    }
)
run_options = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["positional", "intraday"]),
        "capital": st.sampled_from([20_000.0, 100_000.0, 5_000_000.0]),
        "quantity": st.one_of(st.none(), st.integers(1, 40)),
        "slippage_ticks": st.sampled_from([0.0, 1.0, 2.0]),
        "slippage_bps": st.sampled_from([0.0, 0.0, 7.5]),
        # 12:00: a square-off before the entry window's end, which then ends before it
        "square_off": st.sampled_from([time(15, 15), time(15, 15), time(12, 0)]),
    }
)


def config(
    strategy: str, params: dict[str, Any], options: dict[str, Any], **kw: Any
) -> BacktestConfig:
    return BacktestConfig(
        strategy=strategy,
        params=params,
        symbols=kw.pop("symbols", ["NSE:TEST-EQ"]),
        resolution=kw.pop("resolution", Resolution.M5),
        start=date(2024, 1, 1),
        end=date(2025, 12, 31),
        costs=True,
        **options,
        **kw,
    )


def assert_same(event: BacktestResult, vector: BacktestResult) -> None:
    target(float(len(event.fills)), label="fills")  # steer towards runs that trade a lot
    target(float(len(event.rejections)), label="rejections")
    assert vector.fills == event.fills
    assert vector.trades == event.trades
    assert vector.rejections == event.rejections
    assert np.array_equal(vector.equity_ts, event.equity_ts)
    assert np.array_equal(vector.equity, event.equity)
    assert np.array_equal(vector.cash, event.cash)
    assert np.array_equal(vector.exposure, event.exposure)


def both(
    cfg: BacktestConfig, data: dict[str, CandleArrays], **kw: Any
) -> tuple[BacktestResult, BacktestResult]:
    return run_backtest(cfg, data=data, **kw), run_vector(cfg, data=data, **kw)


@SETTINGS
@given(
    data=st.data(),
    params=sma_params,
    options=run_options,
    resolution=st.sampled_from([Resolution.M1, Resolution.M5, Resolution.M15]),
    margin=st.booleans(),
)
def test_sma_crossover(
    data: st.DataObject,
    params: dict[str, Any],
    options: dict[str, Any],
    resolution: Resolution,
    margin: bool,
) -> None:
    candles = data.draw(bars(resolution))
    product = ProductType.MARGIN if (margin and options["mode"] == "positional") else None
    cfg = config("sma_crossover", params, options, resolution=resolution, product=product)
    event, vector = both(cfg, {"NSE:TEST-EQ": candles})
    assert_same(event, vector)


@SETTINGS
@given(
    data=st.data(),
    params=opening_params,
    options=run_options,
    resolution=st.sampled_from([Resolution.M1, Resolution.M5, Resolution.M15]),
)
def test_opening_price_crossover(
    data: st.DataObject, params: dict[str, Any], options: dict[str, Any], resolution: Resolution
) -> None:
    candles = data.draw(bars(resolution))
    cfg = config("opening_price_crossover", params, options, resolution=resolution)
    event, vector = both(cfg, {"NSE:TEST-EQ": candles})
    assert_same(event, vector)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    strategy=st.sampled_from(["sma_crossover", "opening_price_crossover"]),
    options=run_options,
    n_symbols=st.integers(2, 3),
    lots=st.lists(st.sampled_from([0, 25, 75]), min_size=3, max_size=3),
)
def test_several_symbols_share_the_capital(
    data: st.DataObject, strategy: str, options: dict[str, Any], n_symbols: int, lots: list[int]
) -> None:
    """One merged timeline: entries and fills of one symbol change the free margin the next one
    sees, equities (and F&O lot sizes) mix, positions open in any order."""
    params = data.draw(sma_params if strategy == "sma_crossover" else opening_params)
    symbols = [f"NSE:S{k}-EQ" if not lots[k] else f"NSE:S{k}FUT" for k in range(n_symbols)]
    candles = {s: data.draw(bars(Resolution.M5)) for s in symbols}
    instruments = {
        s: Instrument(s, kind=InstrumentKind.FUTURE, segment=Segment.NSE_FO, lot_size=lots[k])
        if lots[k]
        else Instrument(s, isin="INE000A01000")  # one ISIN: the DP charge once a day for both
        for k, s in enumerate(symbols)
    }
    cfg = config(strategy, params, options, symbols=symbols)
    event, vector = both(cfg, candles, instruments=instruments)
    assert_same(event, vector)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    strategy=st.sampled_from(["sma_crossover", "opening_price_crossover"]),
    options=run_options,
    warmup_days=st.integers(0, 6),
)
def test_warm_up_bars_and_lot_sizes_that_change(
    data: st.DataObject, strategy: str, options: dict[str, Any], warmup_days: int
) -> None:
    """Bars before the start are warm-up (indicators only); the lot size in force changes on
    a date inside the run (through the instrument lookup)."""
    params = data.draw(sma_params if strategy == "sma_crossover" else opening_params)
    fut = Instrument(
        "NSE:NIFTY24FUT", kind=InstrumentKind.FUTURE, segment=Segment.NSE_FO, lot_size=50
    )
    candles = synthetic_candles(1500, start=date(2024, 3, 1), resolution=Resolution.M5,
                                seed=data.draw(st.integers(0, 1000)))  # fmt: skip
    change = date(2024, 3, 1) + timedelta(days=data.draw(st.integers(0, 25)))

    def lookup(symbol: str, day: date) -> Instrument:
        return (
            fut
            if day < change
            else Instrument(fut.symbol, kind=fut.kind, segment=fut.segment, lot_size=25)
        )

    start = date(2024, 3, 1) + timedelta(days=warmup_days)
    cfg = config(
        strategy, params, options | {"quantity": options["quantity"] and 50}, symbols=[fut.symbol]
    )
    cfg.start = start
    kw: dict[str, Any] = {"instruments": {fut.symbol: fut}, "lookup": lookup}
    if warmup_days:
        kw["warmup_from"] = date(2024, 3, 1)
    event, vector = both(cfg, {fut.symbol: candles}, **kw)
    assert_same(event, vector)
    assert vector.bars_processed == event.bars_processed
