"""An exact tie of two running averages is decided the same way whatever history precedes it.

TA-Lib's running SMA carries the rounding of every earlier bar, so the 3- and 8-bar averages of
the same closes (both exactly 1045.50 in decimal; SBIN on the simulated 2026-12-16, 09:42) came
out a few ulps apart, either way round, with the length of the history before them: a live
session warmed up on its last stored bars bought a minute before the backtest of the same bars.
The crossing rules take values within ``ties.TIE_RTOL`` as a tie."""

from __future__ import annotations

import numpy as np
import pytest

from fyerstrade.backtest.vector.indicators import crossings_of
from fyerstrade.strategies.sma_crossover import crossings, running_sma
from fyerstrade.ties import compare
from fyerstrade.trading.bars import Cursor, SeriesView

# closes 09:34..09:43: at 09:42 sma(3) == sma(8) == 1045.5; at 09:43 sma(3) is above
CLOSES = [1043.8, 1043.9, 1046.0, 1046.1, 1046.3, 1045.2, 1045.7, 1044.7, 1046.1, 1046.9]
PREFIXES = (0, 10, 100, 375, 1000, 5000)


def _with_history(n: int) -> np.ndarray:
    walk = np.cumsum(np.random.default_rng(n).choice([-0.1, 0.0, 0.1], n))
    return np.concatenate((np.round(1045.0 + walk, 1), CLOSES))


def test_the_running_averages_differ_in_their_last_bits_with_the_history() -> None:
    # the premise: without a tie rule, the bar's decision depends on the history
    signs = {
        int(np.sign(running_sma(x, 3)[-2] - running_sma(x, 8)[-2]))
        for x in map(_with_history, PREFIXES)
    }
    assert len(signs) > 1


@pytest.mark.parametrize("cross", [crossings, crossings_of], ids=["numpy", "compiled"])
def test_a_tie_is_never_a_cross_and_the_next_bar_is_whatever_came_before(cross) -> None:  # type: ignore[no-untyped-def]
    for n in PREFIXES:
        x = _with_history(n)
        up, down = cross(running_sma(x, 3), running_sma(x, 8))
        assert (bool(up[-2]), bool(down[-2])) == (False, False), n  # 09:42: a tie
        assert (bool(up[-1]), bool(down[-1])) == (True, False), n  # 09:43: from the tie, above


def test_a_strategy_series_takes_the_tie_the_same_way() -> None:
    for n in PREFIXES:
        x = _with_history(n)
        cursor = Cursor()
        fast = SeriesView("fast", running_sma(x, 3), cursor)
        slow = SeriesView("slow", running_sma(x, 8), cursor)
        cursor.i = len(x) - 2
        assert not fast.crossed_above(slow) and not fast.crossed_below(slow)
        cursor.i = len(x) - 1
        assert fast.crossed_above(slow) and not fast.crossed_below(slow)


def test_a_genuine_difference_is_not_a_tie_and_nan_is_never_a_cross() -> None:
    assert compare(1045.5, 1045.45) == 1 and compare(1045.45, 1045.5) == -1
    assert compare(1045.5, 1045.5 + 1e-10) == 0
    up, down = crossings(np.array([1.0, np.nan, 3.0, 1.0]), np.array([2.0, 2.0, 2.0, 2.0]))
    assert not up.any() and down.tolist() == [False, False, False, True]
    up, down = crossings_of(np.array([1.0, np.nan, 3.0, 1.0]), np.array([2.0, 2.0, 2.0, 2.0]))
    assert not up.any() and down.tolist() == [False, False, False, True]
