"""The evaluator seam: event-engine outcomes equal a plain backtest's metrics, daily returns are
aligned to ``days``, refused parameters are outcomes (not exceptions), and warm-up bars before
``config.start`` are seen by indicators but never traded."""

from __future__ import annotations

import math
import pickle
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.evaluate import (
    Evaluator,
    EventEvaluator,
    InstrumentTable,
    build_evaluator,
    distinct_runs,
    returns_on_days,
)
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.calendar import ist_epoch
from fyerstrade.domain import DAY_SECONDS, IST_OFFSET, Instrument, Resolution
from fyerstrade.reporting.metrics import compute_metrics

SYM = "NSE:TEST-EQ"
BARS = {SYM: synthetic_candles(75 * 40, resolution=Resolution.M5, start=date(2024, 1, 1))}


def _config(**kw: object) -> BacktestConfig:
    base = BacktestConfig(
        strategy="sma_crossover",
        params={},
        symbols=(SYM,),
        resolution=Resolution.M5,
        start=date(2024, 1, 1),
        end=date(2024, 3, 31),
        mode="intraday",
        quantity=10,
    )
    return base.model_copy(update=kw)


def _evaluator(config: BacktestConfig) -> EventEvaluator:
    return EventEvaluator(config, BARS, {SYM: Instrument(SYM)}, None)


def test_outcome_metrics_are_the_backtests_metrics() -> None:
    config = _config()
    ev = _evaluator(config)
    assert isinstance(ev, Evaluator)
    params = [{"fast": 5, "slow": 20}, {"fast": 8, "slow": 30, "allow_short": True}]
    outcomes = ev.evaluate(params)
    assert len(outcomes) == 2
    for p, out in zip(params, outcomes, strict=True):
        cfg = config.model_copy(update={"params": p})
        result = run_backtest(cfg, data=BARS)
        expected = compute_metrics(
            result.trades, result.equity_ts, result.equity, cfg.capital, exposure=result.exposure
        ).to_dict()
        assert out.ok and out.metrics == expected
        assert out.trades == len(result.trades) > 0


def test_daily_returns_are_aligned_to_days_and_compound_to_the_total_return() -> None:
    ev = _evaluator(_config())
    (out,) = ev.evaluate([{"fast": 5, "slow": 20}])
    ts = BARS[SYM].ts
    assert ev.days.tolist() == np.unique((ts + IST_OFFSET) // DAY_SECONDS).tolist()
    assert out.daily_returns.shape == ev.days.shape
    assert math.isclose(
        float(np.prod(1 + out.daily_returns)) - 1, out.metrics["total_return"] or 0.0, rel_tol=1e-9
    )
    r = out.daily_returns
    sharpe = r.mean() / r.std(ddof=1) * math.sqrt(252)
    assert math.isclose(sharpe, out.metrics["sharpe"] or 0.0, rel_tol=1e-9)


def test_returns_on_days_carries_equity_over_days_without_points() -> None:
    day = 20_000
    ts = np.array([day * DAY_SECONDS - IST_OFFSET + 3600, (day + 2) * DAY_SECONDS], dtype=np.int64)
    out = returns_on_days(ts, [110.0, 121.0], 100.0, np.array([day, day + 1, day + 2, day + 3]))
    assert np.allclose(out, [0.1, 0.0, 0.1, 0.0])


def test_refused_parameters_are_an_outcome_with_the_reason() -> None:
    ev = _evaluator(_config())
    bad, good = ev.evaluate([{"fast": 30, "slow": 20}, {"fast": 5, "slow": 20}])
    assert not bad.ok and "fast < slow" in (bad.error or "")
    assert bad.metrics == {} and bad.trades == 0 and not bad.daily_returns.any()
    assert good.ok and good.trades > 0


def test_warmup_bars_feed_indicators_but_never_trade() -> None:
    start = date(2024, 2, 1)
    config = _config(start=start, params={"fast": 5, "slow": 40})
    warm = run_backtest(config, data=BARS, warmup_from=date(2024, 1, 1))
    cold = run_backtest(config, data=BARS)
    lo = ist_epoch(start)
    assert warm.equity_ts[0] >= lo and len(warm.equity_ts) == len(cold.equity_ts)
    assert all(f.ts >= lo for f in warm.fills)
    # the slow SMA is defined from the first traded bar with warm-up, 39 bars later without
    first = int(np.searchsorted(warm.bars[SYM].ts, lo))
    assert not np.isnan(warm.indicators[SYM]["sma_slow"][first])
    assert np.isnan(cold.indicators[SYM]["sma_slow"][:39]).all()
    # the evaluator treats bars before config.start as warm-up the same way
    (out,) = _evaluator(config).evaluate([config.params])
    metrics = compute_metrics(
        warm.trades, warm.equity_ts, warm.equity, config.capital, exposure=warm.exposure
    ).to_dict()
    assert out.metrics == metrics


def test_build_evaluator_falls_back_to_the_event_engine_without_signals() -> None:
    config = _config(strategy="sma_crossover")
    ev = build_evaluator(config, BARS, {SYM: Instrument(SYM)}, None, engine="event")
    assert isinstance(ev, EventEvaluator)


def test_instrument_table_is_a_picklable_lookup() -> None:
    fut = Instrument("NSE:X24JANFUT", lot_size=50)

    def lookup(symbol: str, d: date) -> Instrument:
        return replace(fut, lot_size=25) if d >= date(2024, 1, 15) else fut

    from fyerstrade.domain import InstrumentKind

    fut = replace(fut, kind=InstrumentKind.FUTURE)
    bars = {fut.symbol: BARS[SYM]}
    table = pickle.loads(pickle.dumps(InstrumentTable.capture({fut.symbol: fut}, lookup, bars)))
    assert table(fut.symbol, date(2024, 1, 2)).lot_size == 50
    assert table(fut.symbol, date(2024, 1, 16)).lot_size == 25


@pytest.mark.parametrize("engine", ["auto", "event"])
def test_build_evaluator_scores_like_the_event_engine(engine: str) -> None:
    config = _config(strategy="opening_price_crossover")
    ev = build_evaluator(config, BARS, {SYM: Instrument(SYM)}, None, engine=engine)  # type: ignore[arg-type]
    (out,) = ev.evaluate([{"ema_fast": 5, "ema_slow": 20}])
    (ref,) = _evaluator(config).evaluate([{"ema_fast": 5, "ema_slow": 20}])
    assert out.trades == ref.trades
    assert out.metrics["total_return"] == pytest.approx(ref.metrics["total_return"], abs=1e-9)


def test_warmup_with_several_symbols_starts_every_symbol_at_config_start() -> None:
    other = "NSE:OTHER-EQ"
    bars = {**BARS, other: synthetic_candles(75 * 40, resolution=Resolution.M5, seed=11)}
    start = date(2024, 2, 1)
    config = _config(start=start, symbols=(SYM, other), params={"fast": 5, "slow": 40})
    warm = run_backtest(config, data=bars, warmup_from=date(2024, 1, 1))
    cold = run_backtest(config, data=bars)
    lo = ist_epoch(start)
    assert warm.equity_ts[0] >= lo
    assert warm.equity_ts.tolist() == cold.equity_ts.tolist()
    assert all(f.ts >= lo for f in warm.fills) and {f.symbol for f in warm.fills} == {SYM, other}
    assert warm.bars_processed == cold.bars_processed


@pytest.mark.parametrize("seed", range(20))
def test_distinct_runs_keeps_the_set_of_values(seed: int) -> None:
    """Dropping repeats of the value before keeps every value once per run, so np.unique of
    the result is np.unique of the input, sorted or not (period_days' one pass)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 8, int(rng.integers(0, 60))).astype(np.int64)
    for x in (values, np.sort(values)):
        runs = distinct_runs(x)
        assert np.array_equal(np.unique(runs), np.unique(x))
        assert not np.any(runs[1:] == runs[:-1])
    assert list(distinct_runs(np.array([3, 3, 1, 1, 1, 3], dtype=np.int64))) == [3, 1, 3]
