"""The run's performance, accumulated step by step (``acc``): what ``compute_metrics`` needs of
the equity curve, without keeping the curve.

* :func:`account` adds one step's equity;
* :func:`account_stretch` adds a one-symbol run's steps between two signals, where the position
  does not change: the same arithmetic bar by bar, except over blocks of bars it can prove change
  nothing but the exposure count (below);
* :func:`close_blocks` builds the table that proof reads, once per run;
* :func:`settle` closes the accumulators after the last step.

While a position is held, each step costs a multiply, an add, four compares and a divide, and in
a sweep most steps are such steps (a long-only crossover holds half the bars). But the equity
``cash + q * close`` moves with the close alone, and rounding is monotone: over a block of bars
the highest and lowest equity are those at the block's highest and lowest close (swapped when
``q < 0``), to the bit. So when the run is already under water, the block's highest equity is
below the peak and its lowest not below the lowest since that peak, nothing changes over the
block but the exposure count (every bar exposed: the lowest equity positive, the smallest
``|value| / equity`` not zero) and the equity of the days that end in it. Most blocks are such
blocks: a run is under its peak most of the time and rarely at a new low. The others, and the
ragged ends of the stretch, go bar by bar as before. A block holding a NaN, an infinity or a
price at or below zero is never skipped. The results are the same to the bit as the plain loop
(``tests/backtest/test_vector_accounts.py``).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import types as nt

from .layout import F0, F1, F2, I0, I1, PX, RF1, RI1, U1, inline, jit

_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.int64]
_Flags = npt.NDArray[np.uint8]
_Prices = tuple[_Floats, _Floats, _Floats, _Floats]  # open, high, low, close

A_PEAK, A_LOW, A_WORST, A_MAX_AMOUNT, A_LONGEST, A_RUN_START, A_EXPOSED, A_FINAL, A_DAYS = range(9)
N_A = 9

BLOCK_SHIFT = 3
BLOCK = 1 << BLOCK_SHIFT  # bars per block of the close table (aligned on the run's bar index)
# close table rows: per block, the highest and lowest close, the number of day ends in it
BL_MAX, BL_MIN, BL_DAY_ENDS = 0, 1, 2
N_BL = 3


@inline
def account(
    step: int,
    eq: float,
    gross: float,
    step_ts: _Ints,
    day_end: _Flags,
    acc: _Floats,
    day_eq: _Floats,
) -> None:
    """Add the equity ``eq`` at the close of ``step`` (``gross``: the open positions' value) to
    the accumulators: the running peak (the capital first), the deepest fall and the largest
    fall from it (a peak's stretch is settled when a new peak starts: ``eq / peak - 1`` only moves
    with ``eq``, so its lowest point gives both), the longest time under water, the steps with a
    position, and the equity at each IST day's last step."""
    peak = acc[A_PEAK]
    if eq > peak:
        if peak > 0:
            acc[A_WORST] = min(acc[A_WORST], min(acc[A_LOW] / peak - 1.0, 0.0))
        acc[A_MAX_AMOUNT] = max(acc[A_MAX_AMOUNT], peak - acc[A_LOW])
        acc[A_PEAK] = eq
        acc[A_LOW] = eq
        peak = eq
    elif eq < acc[A_LOW]:
        acc[A_LOW] = eq
    if eq < peak:
        if math.isnan(acc[A_RUN_START]):
            acc[A_RUN_START] = step_ts[step - 1] if step > 0 else step_ts[0]
    elif not math.isnan(acc[A_RUN_START]):
        acc[A_LONGEST] = max(acc[A_LONGEST], step_ts[step] - acc[A_RUN_START])
        acc[A_RUN_START] = np.nan
    if eq > 0 and gross / eq != 0.0:
        acc[A_EXPOSED] += 1
    if day_end[step]:
        day_eq[int(acc[A_DAYS])] = eq
        acc[A_DAYS] += 1
    acc[A_FINAL] = eq


@jit(nt.void(I0, I0, I0, F0, I0, PX, F2, RI1, U1, F1, F1), nrt=False)
def account_stretch(
    a: int, b: int, q: int, cash: float, first_bar: int, px: _Prices, blocks: _Floats,
    step_ts: _Ints, day_end: _Flags, acc: _Floats, day_eq: _Floats,
) -> None:  # fmt: skip
    """:func:`account` for steps ``a..b-1`` of a one-symbol run holding ``q`` with ``cash``
    (nothing trades in between; step ``j`` is bar ``first_bar + j``): the same arithmetic, the
    accumulators kept in registers, quiet blocks of ``blocks`` (:func:`close_blocks`; an empty
    table: none) skipped as the module docstring says."""
    peak = acc[A_PEAK]
    low = acc[A_LOW]
    worst = acc[A_WORST]
    amount = acc[A_MAX_AMOUNT]
    longest = acc[A_LONGEST]
    run_start = acc[A_RUN_START]
    under = not math.isnan(run_start)  # an underwater run is open (it started at run_start)
    exposed = acc[A_EXPOSED]
    days = int(acc[A_DAYS])
    eq = acc[A_FINAL]
    skip = blocks.shape[1] > 0
    j = a
    while j < b:
        g = first_bar + j
        if skip and under and (g & (BLOCK - 1)) == 0 and j + BLOCK <= b:
            blk = g >> BLOCK_SHIFT
            hi = blocks[BL_MAX, blk]
            lo = blocks[BL_MIN, blk]
            if q > 0:
                top = cash + q * hi
                bottom = cash + q * lo
            else:
                top = cash + q * lo
                bottom = cash + q * hi
            inside = lo > 0.0 and bottom > 0.0 and top < peak and bottom >= low
            if inside and abs(q * lo) / top != 0.0:  # the least |value| / equity is not zero
                exposed += BLOCK
                if blocks[BL_DAY_ENDS, blk] != 0.0:
                    for t in range(j, j + BLOCK):
                        if day_end[t]:
                            day_eq[days] = cash + q * px[3][first_bar + t]
                            days += 1
                j += BLOCK
                continue
        end = min(b, j + BLOCK - (g & (BLOCK - 1)))  # bar by bar to the next block
        for t in range(j, end):
            value = q * px[3][first_bar + t]
            eq = cash + value
            if eq > peak:
                if peak > 0:
                    worst = min(worst, min(low / peak - 1.0, 0.0))
                amount = max(amount, peak - low)
                peak = eq
                low = eq
            elif eq < low:
                low = eq
            if eq < peak:
                if not under:
                    run_start = step_ts[t - 1] if t > 0 else step_ts[0]
                    under = True
            elif under:
                longest = max(longest, step_ts[t] - run_start)
                under = False
            if eq > 0 and abs(value) / eq != 0.0:
                exposed += 1
            if day_end[t]:
                day_eq[days] = eq
                days += 1
        j = end
    if b > a:  # the last step's equity (a skipped block did not compute it)
        eq = cash + q * px[3][first_bar + b - 1]
    acc[A_PEAK] = peak
    acc[A_LOW] = low
    acc[A_WORST] = worst
    acc[A_MAX_AMOUNT] = amount
    acc[A_LONGEST] = longest
    acc[A_RUN_START] = run_start if under else np.nan
    acc[A_EXPOSED] = exposed
    acc[A_DAYS] = days
    acc[A_FINAL] = eq


@jit(F2(RF1, I0, I1))
def close_blocks(close: _Floats, first_bar: int, day_ends: _Ints) -> _Floats:
    """The table :func:`account_stretch` reads: per block of ``BLOCK`` bars of a one-symbol
    run's closes (the last block may be short), the highest and lowest close (+inf and -inf for
    a block holding a NaN: never skipped) and how many of its bars end an IST day (``day_ends``:
    the steps that do; step ``t`` is bar ``first_bar + t``)."""
    n = close.shape[0]
    n_blocks = (n + BLOCK - 1) >> BLOCK_SHIFT
    out = np.zeros((N_BL, n_blocks), dtype=np.float64)
    for blk in range(n_blocks):
        start = blk << BLOCK_SHIFT
        hi = -np.inf
        lo = np.inf
        nan = False
        for g in range(start, min(n, start + BLOCK)):
            c = close[g]
            nan |= c != c
            hi = c if c > hi else hi
            lo = c if c < lo else lo
        out[BL_MAX, blk] = np.inf if nan else hi
        out[BL_MIN, blk] = -np.inf if nan else lo
    for e in range(day_ends.shape[0]):
        out[BL_DAY_ENDS, (first_bar + day_ends[e]) >> BLOCK_SHIFT] += 1.0
    return out


@jit(nt.void(RI1, F1), nrt=False)
def settle(step_ts: _Ints, acc: _Floats) -> None:
    """Close the accumulators after the last step: the last peak's stretch, an open underwater
    run (it lasts until the last point)."""
    peak = acc[A_PEAK]
    if peak > 0:
        acc[A_WORST] = min(acc[A_WORST], min(acc[A_LOW] / peak - 1.0, 0.0))
    acc[A_MAX_AMOUNT] = max(acc[A_MAX_AMOUNT], peak - acc[A_LOW])
    if not math.isnan(acc[A_RUN_START]) and step_ts.shape[0] > 0:
        acc[A_LONGEST] = max(acc[A_LONGEST], step_ts[step_ts.shape[0] - 1] - acc[A_RUN_START])
        acc[A_RUN_START] = np.nan


def empty_blocks() -> npt.NDArray[np.float64]:
    """A close table with no block (a run of several symbols: nothing is skipped)."""
    return np.zeros((N_BL, 0), dtype=np.float64)
