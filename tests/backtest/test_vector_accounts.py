"""The held-position stretch's accounting skips blocks of bars only where it changes nothing:
with the close table (``accounts.close_blocks``) every accumulator and every day's equity are
the same to the bit as without it (bar by bar), whatever the prices (ties, NaN, infinities, zero
or negative), the position's sign, the state the stretch starts from and where it starts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fyerstrade.backtest.vector import accounts as ac

_SPECIAL = (np.nan, np.inf, -np.inf, 0.0, -5.0)


@st.composite
def _stretches(draw: st.DrawFn) -> tuple[object, ...]:
    n = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    tick = draw(st.sampled_from([0.05, 1.0, 1e-9]))  # coarse ticks: many equal closes
    close = np.round((100 + np.cumsum(rng.normal(0, 1, n))) / tick) * tick
    close *= draw(st.sampled_from([1.0, 1e-30]))  # tiny: |value| / equity may underflow to 0
    for _ in range(draw(st.integers(0, 3))):  # a few odd prices anywhere
        close[draw(st.integers(0, n - 1))] = draw(st.sampled_from(_SPECIAL))
    first_bar = draw(st.integers(0, min(20, n - 1)))
    steps = n - first_bar
    day_end = (rng.random(steps) < draw(st.sampled_from([0.0, 0.05, 0.5]))).astype(np.uint8)
    a = draw(st.integers(0, steps - 1))
    b = draw(st.integers(a, steps))
    q = draw(st.sampled_from([1, 10, 75, -1, -10, -75]))
    cash = draw(st.sampled_from([1e6, 1e4, -1e3, 0.0, 5e2, 1e300]))
    # the state the stretch starts in: at a peak, under water (from some time), never positive
    peak = (cash + q * 100) * draw(st.sampled_from([1.0, 1.5]))
    peak += draw(st.sampled_from([-500.0, 0.0, 50.0, 400.0, 1e9]))
    low = peak - draw(st.sampled_from([0.0, 100.0, 1e9, np.inf]))
    run_start = draw(st.sampled_from([np.nan, 1_000.0]))
    acc = np.array([peak, low, -0.1, 10.0, 60.0, run_start, 3.0, cash, 0.0])
    step_ts = (np.arange(steps, dtype=np.int64) + 1) * 60
    return close, first_bar, day_end, a, b, q, cash, acc, step_ts


@settings(max_examples=400, deadline=None)
@given(_stretches())
def test_the_close_table_changes_nothing(case: tuple[object, ...]) -> None:
    close, first_bar, day_end, a, b, q, cash, acc, step_ts = case
    assert isinstance(close, np.ndarray) and isinstance(acc, np.ndarray)
    assert isinstance(day_end, np.ndarray) and isinstance(step_ts, np.ndarray)
    assert isinstance(first_bar, int) and isinstance(a, int) and isinstance(b, int)
    assert isinstance(q, int) and isinstance(cash, float)
    zeros = np.zeros(close.shape[0])
    px = (zeros, zeros, zeros, close)
    table = ac.close_blocks(close, first_bar, np.flatnonzero(day_end).astype(np.int64))
    results = []
    for blocks in (table, ac.empty_blocks()):
        got = acc.copy()
        day_eq = np.full(day_end.shape[0] + 1, -7.0)
        ac.account_stretch(a, b, q, cash, first_bar, px, blocks, step_ts, day_end, got, day_eq)
        results.append((got, day_eq))
    (skipped, skipped_days), (plain, plain_days) = results
    assert np.array_equal(skipped, plain, equal_nan=True), (skipped, plain)
    assert np.array_equal(skipped_days, plain_days, equal_nan=True)


def test_quiet_blocks_are_skipped_and_counted_as_exposed() -> None:
    """Under water with the prices inside the peak's range: whole blocks go in one step each
    (seen through a table that lies about a block: its bars are not read), and their bars are
    counted as exposed."""
    n = 4 * ac.BLOCK
    close = np.full(n, 100.0)
    px = (close, close, close, close.copy())
    day_end = np.zeros(n, dtype=np.uint8)
    table = ac.close_blocks(close, 0, np.zeros(0, dtype=np.int64))
    assert table.shape == (ac.N_BL, 4)
    assert list(table[ac.BL_MAX]) == [100.0] * 4 and list(table[ac.BL_MIN]) == [100.0] * 4
    px[3][ac.BLOCK + 1] = 10.0  # a new low the table does not show: skipped, so not seen
    acc = np.array([2_000.0, 1_000.0, -0.2, 5.0, 0.0, 60.0, 0.0, 1_000.0, 0.0])
    day_eq = np.zeros(1)
    ac.account_stretch(0, n, 1, 900.0, 0, px, table, np.arange(n) * 60, day_end, acc, day_eq)
    assert acc[ac.A_LOW] == 1_000.0  # 900 + 100 at every bar the table lets it read
    assert acc[ac.A_EXPOSED] == n and acc[ac.A_FINAL] == 1_000.0
    nan_table = ac.close_blocks(np.array([1.0, np.nan, 2.0]), 0, np.array([2], dtype=np.int64))
    assert nan_table[ac.BL_MAX, 0] == np.inf and nan_table[ac.BL_MIN, 0] == -np.inf
    assert nan_table[ac.BL_DAY_ENDS, 0] == 1.0
