"""``running_sma`` equals ``talib.SMA`` bit for bit (the built-in SMA no longer imports TA-Lib,
whose package imports pandas), and so does the vectorized engine's compiled twin; running a
backtest of ``sma_crossover`` imports neither talib nor pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.backtest.vector import indicators as compiled
from fyerstrade.candles import CandleArrays
from fyerstrade.strategies.sma_crossover import running_sma


def _same(values: np.ndarray, length: int) -> None:
    expected = talib.SMA(values, timeperiod=length)
    # the numpy version (event engine) and its compiled twin (vectorized engine's sweeps)
    for got in (running_sma(values, length), compiled.running_sma(values, length)):
        assert got.dtype == np.float64 and got.shape == expected.shape
        assert np.array_equal(got, expected, equal_nan=True), (length, values[:8])


def _prices(most: int) -> st.SearchStrategy[np.ndarray]:
    """Arrays of up to ``most`` positive finite prices."""
    elements = st.floats(1e-3, 1e7, allow_nan=False, allow_infinity=False)
    return arrays(np.float64, st.integers(0, most), elements=elements)


@settings(max_examples=300, deadline=None)
@given(values=_prices(200), length=st.integers(1, 60))
def test_equals_talib_on_any_prices(values: np.ndarray, length: int) -> None:
    _same(values, length)


@pytest.mark.parametrize("length", [1, 2, 10, 30, 200, 5000])
def test_equals_talib_on_a_million_tick_rounded_closes(length: int) -> None:
    rng = np.random.default_rng(42)
    close = np.round(1000 * np.exp(np.cumsum(rng.normal(0, 0.001, 1_000_000))) / 0.05) * 0.05
    _same(close, length)


def test_nans_are_treated_as_talib_treats_them() -> None:
    x = np.arange(1.0, 31.0)
    x[:3] = np.nan  # leading NaNs are skipped: the average starts after them
    _same(x, 5)
    x[17] = np.nan  # a later NaN makes every later average NaN
    _same(x, 5)
    _same(np.full(10, np.nan), 3)
    _same(np.arange(4.0), 5)  # fewer values than the window: all NaN
    _same(np.array([]), 3)


def test_a_backtest_of_sma_crossover_imports_neither_talib_nor_pandas() -> None:
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from fyerstrade.backtest.synthetic import synthetic_candles\n"
        "from fyerstrade.backtest.engine import BacktestConfig, run_backtest\n"
        "from fyerstrade.domain import Resolution\n"
        "bars = synthetic_candles(3000, seed=1, start=date(2024, 1, 1))\n"
        "cfg = BacktestConfig(strategy='sma_crossover', params={}, symbols=['NSE:X-EQ'],\n"
        "    resolution=Resolution.M1, start=date(2024, 1, 1), end=date(2025, 1, 1),\n"
        "    mode='positional', capital=1e6, quantity=1, costs=False)\n"
        "r = run_backtest(cfg, data={'NSE:X-EQ': bars})\n"
        "assert r.trades, 'the run traded'\n"
        "print(sorted(m for m in ('talib', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_compiled_twin_takes_read_only_bars() -> None:
    """A sweep's workers see the bars through shared memory, read-only."""
    bars = synthetic_candles(500, seed=3)
    bars.close.setflags(write=False)
    assert np.array_equal(compiled.sma(bars, 20), running_sma(bars.close, 20), equal_nan=True)


@settings(max_examples=300, deadline=None)
@given(
    pair=st.integers(0, 120).flatmap(
        lambda n: st.tuples(
            *(
                arrays(
                    np.float64,
                    n,
                    # few distinct values: ties on the previous and the current bar; NaN and
                    # infinities too (they compare false, or as the largest)
                    elements=st.sampled_from([1.0, 2.0, 2.0, 3.0, np.nan, np.inf, -np.inf]),
                )
                for _ in range(2)
            )
        )
    )
)
def test_crossings_twin_flags_the_same_bars(pair: tuple[np.ndarray, np.ndarray]) -> None:
    """The vectorized engine's compiled ``crossings`` (reached through ``SignalBars.twin``) flags
    exactly the bars the strategy's numpy version flags, read-only inputs included."""
    from fyerstrade.strategies.sma_crossover import crossings

    fast, slow = pair
    fast.setflags(write=False)  # as the indicator cache hands them out
    up, down = crossings(fast, slow)
    twin_up, twin_down = compiled.COMPILED[crossings](fast, slow)
    assert twin_up.dtype == twin_down.dtype == np.bool_
    assert np.array_equal(twin_up, up) and np.array_equal(twin_down, down)


@settings(max_examples=200, deadline=None)
@given(
    values=_prices(150),
    lengths=st.lists(st.integers(1, 160), min_size=1, max_size=6),
    leading_nans=st.integers(0, 5),
)
def test_the_batch_twin_equals_one_sma_at_a_time(
    values: np.ndarray, lengths: list[int], leading_nans: int
) -> None:
    """All lengths in one pass (a sweep's block): each row the same to the bit as its own
    running_sma, leading NaNs skipped, windows longer than the values all NaN, length 1 too."""
    x = np.concatenate((np.full(leading_nans, np.nan), values))
    bars = CandleArrays(np.arange(len(x), dtype=np.int64), x, x, x, x, np.zeros(len(x), np.int64))
    got = compiled.smas(bars, lengths)
    assert len(got) == len(lengths)
    for length, row in zip(lengths, got, strict=True):
        assert row.shape == x.shape
        assert np.array_equal(row, running_sma(x, length), equal_nan=True), length
