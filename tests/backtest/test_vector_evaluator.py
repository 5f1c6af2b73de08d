"""VectorEvaluator: the optimizer's evaluator on the kernel. Its metrics are
``compute_metrics``'s on the event engine's run of the same parameters — equal, not close — its
daily returns are the event evaluator's, indicators are computed once per distinct parameter
value, and a refused parameter set is an outcome, not an exception."""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.evaluate import EventEvaluator, build_evaluator, returns_on_days
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.backtest.vector import metrics as vm
from fyerstrade.backtest.vector.evaluator import VectorEvaluator
from fyerstrade.backtest.vector.indicators import smas as compiled_smas
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings
from fyerstrade.domain import Instrument, InstrumentKind, Resolution, Segment
from fyerstrade.reporting.metrics import compute_metrics
from fyerstrade.strategies.signals import IndicatorCache
from fyerstrade.strategies.sma_crossover import SmaCrossover, sma

A, B = "NSE:A-EQ", "NSE:BFUT"
BARS = {
    A: synthetic_candles(75 * 60, resolution=Resolution.M5, start=date(2024, 1, 1), seed=5),
    B: synthetic_candles(75 * 50, resolution=Resolution.M5, start=date(2024, 1, 8), seed=6),
}
INSTRUMENTS = {
    A: Instrument(A),
    B: Instrument(B, kind=InstrumentKind.FUTURE, segment=Segment.NSE_FO, lot_size=25),
}


def config(**kw: Any) -> BacktestConfig:
    base = BacktestConfig(
        strategy="sma_crossover",
        params={},
        symbols=(A,),
        resolution=Resolution.M5,
        start=date(2024, 1, 1),
        end=date(2024, 6, 30),
        costs=True,
        slippage_ticks=1,
    )
    return base.model_copy(update=kw)


SWEEPS = {
    "sma positional, sized by margin": (
        config(),
        [{"fast": f, "slow": s} for f in (3, 8) for s in (20, 45)]
        + [{"fast": 5, "slow": 30, "allow_short": True}],
    ),
    "opening intraday, several symbols": (
        config(strategy="opening_price_crossover", mode="intraday", symbols=(A, B), quantity=25),
        [
            {"ema_fast": f, "ema_slow": 21, "rr1": r, "exit_pct1": 0.5}
            for f in (3, 9)
            for r in (0.5, 1.5)
        ],
    ),
    "sma with warm-up before the start": (
        config(start=date(2024, 2, 1), mode="intraday"),
        [{"fast": 5, "slow": 60}, {"fast": 10, "slow": 90}],
    ),
}


@pytest.mark.parametrize("name", list(SWEEPS))
def test_metrics_and_returns_equal_the_event_engines(name: str, settings: Settings) -> None:
    cfg, params = SWEEPS[name]
    rate_settings = dataclasses.replace(settings, risk_free_rate=0.065)
    vector = VectorEvaluator(cfg, BARS, INSTRUMENTS, None, settings=rate_settings)
    event = EventEvaluator(cfg, BARS, INSTRUMENTS, None, settings=rate_settings)
    assert np.array_equal(vector.days, event.days)
    for p, got, ref in zip(params, vector.evaluate(params), event.evaluate(params), strict=True):
        assert got.ok and ref.ok
        assert got.metrics == ref.metrics, p  # every metric, bit for bit
        assert got.trades == ref.trades
        assert np.array_equal(got.daily_returns, ref.daily_returns)
    assert any(o.trades > 0 for o in vector.evaluate(params))


def test_the_fast_metrics_are_compute_metrics_on_the_same_run() -> None:
    cfg = config(strategy="opening_price_crossover", mode="intraday")
    p = {"ema_fast": 4, "ema_slow": 18}
    (got,) = VectorEvaluator(cfg, BARS, INSTRUMENTS, None).evaluate([p])
    from fyerstrade.backtest.vector.run import run_vector

    run = run_vector(cfg.model_copy(update={"params": p}), data=BARS, instruments=INSTRUMENTS)
    expected = compute_metrics(
        run.trades, run.equity_ts, run.equity, cfg.capital, exposure=run.exposure
    )
    assert got.metrics == expected.to_dict() and got.trades == len(run.trades) > 10
    days = np.unique((run.equity_ts + 19_800) // 86_400)
    assert np.array_equal(
        got.daily_returns, returns_on_days(run.equity_ts, run.equity, cfg.capital, days)
    )
    assert math.isclose(
        float(np.prod(1 + got.daily_returns)) - 1, got.metrics["total_return"], rel_tol=1e-9
    )


def test_indicators_are_computed_once_per_distinct_value_across_blocks() -> None:
    ev = VectorEvaluator(config(quantity=10), BARS, INSTRUMENTS, None)
    grid = [{"fast": f, "slow": s} for f in range(5, 55, 5) for s in range(20, 220, 20) if f < s]
    ev.evaluate(grid[:40])
    ev.evaluate(grid[40:])
    distinct = {f for f in range(5, 55, 5)} | {s for s in range(20, 220, 20)}
    # 5..50 and 20..200 share 20 and 40: 18 SMAs for 90 combinations
    assert len(grid) == 90 and ev.indicators_computed == len(distinct) == 18


def test_a_blocks_indicators_are_computed_before_its_trials_in_one_batch() -> None:
    ev = VectorEvaluator(config(quantity=10), BARS, INSTRUMENTS, None)
    calls: list[list[int]] = []

    def batch(bars: CandleArrays, values: list[int]) -> list[np.ndarray]:
        calls.append(list(values))
        return compiled_smas(bars, values)

    for cache in ev.caches:
        cache.precompute([{"fast": 5, "slow": 20}, {"fast": 10, "slow": 20}], {sma: batch})
    assert [sorted(c) for c in calls] == [[5, 10, 20]] * len(ev.caches)
    before = ev.indicators_computed
    ev.evaluate([{"fast": 5, "slow": 20}, {"fast": 10, "slow": 20}])  # all cached already
    assert ev.indicators_computed == before == 3 * len(ev.caches)
    small = IndicatorCache(SmaCrossover, BARS[A], max_bytes=2 * BARS[A].close.nbytes)
    small.precompute([{"fast": 5, "slow": 20}, {"fast": 10, "slow": 40}], {sma: batch})
    assert small.computed == 0  # four arrays would not fit: left to get()


def test_a_refused_parameter_set_is_an_outcome() -> None:
    ev = VectorEvaluator(config(), BARS, INSTRUMENTS, None)
    bad, unknown, good = ev.evaluate(
        [{"fast": 30, "slow": 20}, {"fats": 3}, {"fast": 5, "slow": 20}]
    )
    assert not bad.ok and "fast < slow" in (bad.error or "")
    assert not unknown.ok and "did you mean 'fast'" in (unknown.error or "")
    assert bad.metrics == {} and bad.trades == 0 and bad.daily_returns.shape == ev.days.shape
    assert good.ok and good.trades > 0


def test_build_evaluator_picks_the_kernel_for_signals() -> None:
    ev = build_evaluator(config(), BARS, INSTRUMENTS, None)
    assert isinstance(ev, VectorEvaluator)


def test_the_indicator_cache_keeps_to_its_memory_budget() -> None:
    bars = BARS[A]
    one = bars.close.nbytes
    cache = IndicatorCache(SmaCrossover, bars, max_bytes=3 * one)
    for f in range(2, 12):
        cache.get("sma_fast", {"fast": f})
    assert cache.computed == 10 and len(cache._arrays) == 3
    cache.get("sma_fast", {"fast": 11})  # still held: no new computation
    assert cache.computed == 10


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 700), elements=st.floats(-1e6, 1e6, width=64)))
def test_sums_means_and_deviations_are_numpys(a: np.ndarray) -> None:
    assert vm.pairwise_sum(a, 0, a.size) == np.add.reduce(a)
    if a.size:
        assert vm.mean(a) == np.mean(a)
    if a.size >= 2:
        assert vm.std1(a) == np.std(a, ddof=1)
