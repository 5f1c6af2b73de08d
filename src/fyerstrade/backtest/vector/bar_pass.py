"""The per-bar part of ``inputs.prepare`` compiled: one pass over each symbol's bars instead of
about twenty whole-array numpy passes (copies, day numbers, flags, a sort-free unique over twice
the bars), which took two thirds of a million-bar run's CPU before the kernel started.

* :func:`lay_bars` copies a symbol's prices and times into the run's tables, and writes per bar
  the entry-window flag, the lot size and the IST day numbers of its open and close;
* :func:`rank_days` turns those day numbers into indices of the run's sorted distinct days (the
  cost table's day axis), as ``np.unique(..., return_inverse=True)`` over both rows would;
* :func:`day_marks` marks each step of the timeline that is the last of its IST day (a
  one-symbol run's, whose steps are its bars, are marked by :func:`lay_bars`).

Everything is integer arithmetic or a copy, so the tables are the same to the bit as the numpy
passes they replace (the parity and fill-rule tests read them through the kernel).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import types as nt

from fyerstrade.domain import DAY_SECONDS, IST_OFFSET

from .layout import (
    B_FLAGS,
    B_LOT,
    B_RDAY_CLOSE,
    B_RDAY_OPEN,
    BI,
    FLAG_ENTRY_OK,
    I0,
    I1,
    I2,
    U1,
    jit,
)

# a symbol's bar arrays as they come (views of a store's buffer may be read-only or strided)
_RF1 = nt.Array(nt.float64, 1, "A", readonly=True)
_RI1 = nt.Array(nt.int64, 1, "A", readonly=True)
_F2 = nt.Array(nt.float64, 2, "C")
_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.int64]
_Int32s = npt.NDArray[np.int32]
_Flags = npt.NDArray[np.uint8]


@jit(nt.void(_RF1, _RF1, _RF1, _RF1, _RI1, _RI1, I0, I0, I0, I0, I0, _F2, I2, BI, I1, I0, U1))
def lay_bars(
    open_: _Floats, high: _Floats, low: _Floats, close: _Floats, ts: _Ints, close_ts: _Ints,
    first: int, lot: int, intraday: int, entry_start: int, entry_end: int, ohlc: _Floats,
    times: _Ints, bar_i: _Int32s, day_range: _Ints, first_step: int, day_end: _Flags,
) -> None:  # fmt: skip
    """One symbol's bars into columns ``first..`` of the run's tables: open, high, low, close;
    open and close time (unless ``ohlc`` and ``times`` have no column: one symbol's run reads its
    own arrays); per bar ``FLAG_ENTRY_OK`` (intraday: its close inside the entry window,
    ``entry_start``/``entry_end`` seconds of the IST day, both ends included), the lot size
    ``lot`` and the IST day numbers of its open and close (``B_RDAY_*``, not yet ranked).
    ``day_range`` (min, max) is widened to the day numbers written. A one-symbol run
    (``first_step`` >= 0: its first bar after the warm-up, where its timeline starts) also gets
    :func:`day_marks`' ``day_end`` here: step ``t`` (bar ``first_step + t``) is the last of its
    day when the next bar opens on another day, and the last step always is.

    A day number is computed when a time leaves the IST day of the one before (bars arrive in
    time order, a day's bars together), not once per bar: the same numbers, fewer divisions."""
    lo, hi = day_range[0], day_range[1]
    n = ts.shape[0]
    if ohlc.shape[1] > 0:
        for j in range(n):
            i = first + j
            ohlc[0, i] = open_[j]
            ohlc[1, i] = high[j]
            ohlc[2, i] = low[j]
            ohlc[3, i] = close[j]
            times[0, i] = ts[j]
            times[1, i] = close_ts[j]
    # the IST day of the last open (and close) time seen, and where it starts and ends
    d_open, open_lo, open_hi = 0, 1, 0
    d_close, close_lo, close_hi = 0, 1, 0
    marks = first_step >= 0
    for j in range(n):
        i = first + j
        t = ts[j]
        c = close_ts[j]
        if t < open_lo or t >= open_hi:
            prev = d_open
            d_open = (t + IST_OFFSET) // DAY_SECONDS
            open_lo = d_open * DAY_SECONDS - IST_OFFSET
            open_hi = open_lo + DAY_SECONDS
            lo = min(lo, d_open)
            hi = max(hi, d_open)
            if marks and j > first_step:
                day_end[j - 1 - first_step] = 1 if d_open != prev else 0
        elif marks and j > first_step:
            day_end[j - 1 - first_step] = 0
        if c < close_lo or c >= close_hi:
            d_close = (c + IST_OFFSET) // DAY_SECONDS
            close_lo = d_close * DAY_SECONDS - IST_OFFSET
            close_hi = close_lo + DAY_SECONDS
            lo = min(lo, d_close)
            hi = max(hi, d_close)
        bar_i[B_RDAY_OPEN, i] = d_open
        bar_i[B_RDAY_CLOSE, i] = d_close
        bar_i[B_LOT, i] = lot
        flags = FLAG_ENTRY_OK
        if intraday:
            sod = c - close_lo  # seconds of the IST day of the close
            if sod < entry_start or sod > entry_end:
                flags = 0
        bar_i[B_FLAGS, i] = flags
    if 0 <= first_step < n:
        day_end[n - 1 - first_step] = 1
    day_range[0] = lo
    day_range[1] = hi


@jit(I1(BI, I0, I0))
def rank_days(bar_i: _Int32s, lo: int, span: int) -> _Ints:
    """Replace the day numbers in ``bar_i``'s ``B_RDAY_*`` rows (all within ``lo .. lo+span-1``)
    by their rank among the distinct days of both rows; return those days, ascending."""
    n = bar_i.shape[1]
    present = np.zeros(span, dtype=np.bool_)
    for i in range(n):
        present[bar_i[B_RDAY_OPEN, i] - lo] = True
        present[bar_i[B_RDAY_CLOSE, i] - lo] = True
    rank = np.empty(span, dtype=np.int64)
    count = 0
    for d in range(span):
        rank[d] = count
        if present[d]:
            count += 1
    days = np.empty(count, dtype=np.int64)
    for d in range(span):
        if present[d]:
            days[rank[d]] = lo + d
    for i in range(n):
        bar_i[B_RDAY_OPEN, i] = rank[bar_i[B_RDAY_OPEN, i] - lo]
        bar_i[B_RDAY_CLOSE, i] = rank[bar_i[B_RDAY_CLOSE, i] - lo]
    return days


@jit(I1(I1, I1, BI, U1))
def day_marks(step_first: _Ints, step_bar: _Ints, bar_i: _Int32s, day_end: _Flags) -> _Ints:
    """Set ``day_end[t]`` to 1 where step ``t`` of a run of several symbols is the last of its
    IST day (the day of its first bar's open: the step's stamp), else 0; the last step always
    ends its day. Return the steps marked. Equal ranks in ``B_RDAY_OPEN`` are equal days. (A
    one-symbol run's marks come from :func:`lay_bars`.)"""
    n = day_end.shape[0]
    count = 0
    for t in range(n):
        last = t == n - 1
        if not last:
            here = bar_i[B_RDAY_OPEN, step_bar[step_first[t]]]
            last = bar_i[B_RDAY_OPEN, step_bar[step_first[t + 1]]] != here
        day_end[t] = 1 if last else 0
        count += 1 if last else 0
    ends = np.empty(count, dtype=np.int64)
    e = 0
    for t in range(n):
        if day_end[t]:
            ends[e] = t
            e += 1
    return ends
