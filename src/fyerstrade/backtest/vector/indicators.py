"""Compiled twins of built-in indicators, for the vectorized engine's indicator caches.

A sweep computes each indicator once per distinct parameter value, over every bar; in numpy the
built-in SMA (``strategies.sma_crossover.running_sma``: TA-Lib's running sum, one
``np.add.accumulate`` over twice the bars) is a fifth of a 90-combination sweep. The twin here
does the same additions in the same order in one compiled loop, so its values are the same to
the bit (``tests/strategies/test_running_sma.py`` holds both to ``talib.SMA``). The strategy
module keeps the numpy version: an event-engine backtest never imports numba.

:data:`COMPILED` maps an indicator function a strategy declares (``Indicator(compute, ...)``) to
its twin; ``IndicatorCache(..., compiled=COMPILED)`` computes through the twin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from fyerstrade.candles import CandleArrays
from fyerstrade.strategies import sma_crossover
from fyerstrade.ties import TIE_RTOL

from .layout import B1_PAIR, F1, F2, I0, I1, RF1, inline, jit


@jit(F1(F1, I0))
def running_sma(x: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    """``sma_crossover.running_sma`` in one loop: leading NaNs skipped, then the running total
    of ``np.add.accumulate`` over the values interleaved with the negated leaving ones."""
    n = x.shape[0]
    begin = 0
    while begin < n and math.isnan(x[begin]):
        begin += 1
    windows = n - begin - length + 1
    if length < 1 or windows < 1:
        return np.full(n, np.nan)
    out = np.empty(n)  # NaN before the first window, every later value written below
    out[: begin + length - 1] = np.nan
    y = x[begin:]
    total = y[0]  # the accumulation's first element is the first value itself
    if length == 1:
        out[begin] = total / length
        for w in range(1, windows):
            total = total + -y[w - 1]
            total = total + y[w]
            out[begin + w] = total / length
        return out
    for i in range(1, length - 1):
        total = total + y[i]
    for w in range(windows):
        total = total + y[length - 1 + w]
        out[begin + length - 1 + w] = total / length
        total = total + -y[w]
    return out


@inline
def _window(
    total: float, x: npt.NDArray[np.float64], i: int, length: int, out: npt.NDArray[np.float64]
) -> float:
    """One window of a running total (``running_sma``'s order): add ``x[i]``, write the
    average at ``i``, drop the value leaving the window; returns the new total."""
    t = total + x[i]
    out[i] = t / length
    kept: float = t + -x[i - length + 1]
    return kept


@inline
def _sma_pair(
    x: npt.NDArray[np.float64], begin: int, short: int, long: int,
    out_short: npt.NDArray[np.float64], out_long: npt.NDArray[np.float64],
) -> None:  # fmt: skip
    """Two rows of :func:`running_smas` (``2 <= short <= long``) in one pass over ``x`` from
    ``begin``: each running total takes :func:`running_sma`'s additions in its order; at
    position ``p`` a row of length ``L`` adds ``x[begin + p]`` while ``p < L - 1``, then
    averages and drops the value leaving its window. The stretches where both add, one
    averages, both average are separate loops (no branch per value), and the two totals,
    independent chains of dependent additions, advance side by side in registers."""
    n = x.shape[0]
    m = n - begin
    a = x[begin]  # each accumulation's first element is the first value
    b = a
    p1 = min(short - 1, m)
    p2 = min(long - 1, m)
    for p in range(1, p1):
        v = x[begin + p]
        a = a + v
        b = b + v
    for p in range(max(p1, 1), p2):
        a = _window(a, x, begin + p, short, out_short)
        b = b + x[begin + p]
    for p in range(max(p2, 1), m):
        a = _window(a, x, begin + p, short, out_short)
        b = _window(b, x, begin + p, long, out_long)


@jit(F2(F1, I1))
def running_smas(
    x: npt.NDArray[np.float64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """:func:`running_sma` of ``x`` for each of ``lengths`` (all at least 2), row by row, two
    rows per pass over ``x`` (an odd last row with itself): each row's running total takes the
    same additions in the same order as :func:`running_sma`'s (the same values to the bit); the
    two totals of a pass, independent of each other, advance together instead of one long
    chain of dependent additions at a time."""
    n = x.shape[0]
    n_rows = lengths.shape[0]
    begin = 0
    while begin < n and math.isnan(x[begin]):
        begin += 1
    if begin == n:
        return np.full((n_rows, n), np.nan)
    out = np.empty((n_rows, n))  # NaN before each row's first window, the rest written below
    for r in range(n_rows):
        out[r, : min(begin + lengths[r] - 1, n)] = np.nan
    for r in range(0, n_rows, 2):
        s = r + 1 if r + 1 < n_rows else r
        if lengths[r] <= lengths[s]:
            _sma_pair(x, begin, lengths[r], lengths[s], out[r], out[s])
        else:
            _sma_pair(x, begin, lengths[s], lengths[r], out[s], out[r])
    return out


def smas(bars: CandleArrays, lengths: Sequence[int]) -> list[npt.NDArray[np.float64]]:
    """:func:`sma` for each of ``lengths`` (the cache's batch twin): those of at least 2 in one
    :func:`running_smas` pass, any other through :func:`running_sma`."""
    close = np.require(bars.close, np.float64, ["C", "W"])
    many = [int(n) for n in lengths if int(n) >= 2]
    rows = running_smas(close, np.array(many, dtype=np.int64)) if many else None
    out = []
    for n in lengths:
        if int(n) >= 2 and rows is not None:
            out.append(rows[many.index(int(n))])
        else:
            out.append(running_sma(close, int(n)))
    return out


def sma(bars: CandleArrays, length: int) -> npt.NDArray[np.float64]:
    """``sma_crossover.sma`` through :func:`running_sma` (numba takes writeable arrays: bars
    shared with a worker process are read-only, and copied here)."""
    return running_sma(np.require(bars.close, np.float64, ["C", "W"]), int(length))


@jit(B1_PAIR(RF1, RF1))
def crossings(
    fast: npt.NDArray[np.float64], slow: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """``sma_crossover.crossings`` in one pass over both arrays instead of four: the same
    comparisons (``ties.compare``, so a difference within ``TIE_RTOL`` is a tie; a NaN is never
    a cross), so the same flags. Branch-free: ``above``/``below`` are false for a tie and for
    NaN, and ``valid`` tells NaN apart."""
    n = fast.shape[0]
    up = np.empty(n, dtype=np.bool_)
    down = np.empty(n, dtype=np.bool_)
    if slow.shape[0] != n:
        raise ValueError("crossings: the two series differ in length")
    if n == 0:
        return up, down
    up[0] = False  # the first bar has no bar before it: never a cross
    down[0] = False
    a, b = fast[0], slow[0]
    d = a - b
    tol = TIE_RTOL * max(abs(a), abs(b))
    p_valid, p_above, p_below = d == d, d > tol, d < -tol
    for t in range(1, n):
        a, b = fast[t], slow[t]
        d = a - b
        tol = TIE_RTOL * max(abs(a), abs(b))
        above = d > tol
        below = d < -tol
        up[t] = p_valid & (not p_above) & above
        down[t] = p_valid & (not p_below) & below
        p_valid, p_above, p_below = d == d, above, below
    return up, down


def crossings_of(
    fast: npt.NDArray[np.float64], slow: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """:func:`crossings` on any float arrays (numba takes contiguous float64 ones, which the
    cache's indicators are: those are not copied)."""
    return crossings(
        np.ascontiguousarray(fast, dtype=np.float64), np.ascontiguousarray(slow, dtype=np.float64)
    )


COMPILED: Mapping[Callable[..., Any], Callable[..., Any]] = {
    sma_crossover.sma: sma,
    sma_crossover.crossings: crossings_of,
}
# an indicator function to its batch twin: ``batch(bars, values)``, one array per value (the
# cache's ``precompute``: every distinct value of a sweep's block in one call)
BATCHED: Mapping[Callable[..., Any], Callable[..., list[npt.NDArray[np.float64]]]] = {
    sma_crossover.sma: smas,
}
