"""What an import must prove before it writes: the file is the resolution it claims, and it does
not silently change candles already in the store.

:func:`resolution_mismatch` reads the spacing of the file's timestamps. Bars of one IST day that
are closer together than the claimed resolution cannot be that resolution (a 1-minute file
imported as ``-r 5``); bars whose same-day spacing is always a multiple of a coarser resolution
are that coarser resolution (a 5-minute file imported as ``-r 1``: every gap is 5, 10, 15 ...
minutes, which sparse 1-minute data practically never is over more than a handful of gaps); an
intraday claim for a file with at most one bar per day is a daily file.

:func:`compare_with_store` splits the file's candles into new ones, ones identical to the store
(within float noise of a CSV round trip) and ones that would *change* a stored candle. The
importer refuses the last kind unless asked to replace them, naming how many and the first one.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from functools import reduce

import numpy as np
import numpy.typing as npt

from fyerstrade.calendar import IST_OFFSET, to_ist
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import load_candles

#: Fewest same-day gaps from which a coarser resolution is inferred.
MIN_GAPS_FOR_INFERENCE = 5
#: Relative and absolute tolerance for "the same price" (a CSV round trip of a stored float).
_RTOL = 1e-9
_ATOL = 1e-9


def _minutes(seconds: int) -> str:
    m = seconds // 60
    return f"{m} minute" + ("" if m == 1 else "s")


def _option_for(seconds: int) -> str | None:
    """``-r`` value of the resolution lasting ``seconds`` (None when Fyers has none)."""
    for r in Resolution:
        if r.is_intraday and r.seconds == seconds:
            return r.value
    return None


def resolution_mismatch(ts: npt.NDArray[np.int64], resolution: Resolution) -> str | None:
    """Why the timestamps cannot be ``resolution`` candles, or None when they can."""
    if not resolution.is_intraday or ts.size < 2:
        return None
    days = (ts + IST_OFFSET) // 86_400
    same_day = days[1:] == days[:-1]
    gaps = np.diff(ts)[same_day]
    if gaps.size == 0:
        if ts.size >= 3:
            return "every candle is on a different day: these look like daily candles; use -r D"
        return None
    step = resolution.seconds
    close = np.flatnonzero(gaps < step)
    if close.size:
        k = int(np.flatnonzero(same_day)[int(close[0])])
        gap = int(gaps[int(close[0])])
        hint = _option_for(gap)
        use = f"; if this is a {gap // 60}-minute file, use -r {hint}" if hint else ""
        return (
            f"candles at {to_ist(int(ts[k])):%Y-%m-%d %H:%M} and {to_ist(int(ts[k + 1])):%H:%M} "
            f"IST are {_minutes(gap)} apart, closer than {resolution.value}-minute bars{use}"
        )
    if gaps.size >= MIN_GAPS_FOR_INFERENCE:
        spacing = int(reduce(math.gcd, (int(g) for g in np.unique(gaps)), 0))
        if spacing > step and spacing % step == 0:
            hint = _option_for(spacing)
            use = f"use -r {hint}" if hint else "check the file"
            return (
                f"every gap between candles of a day is a multiple of {_minutes(spacing)}: "
                f"these look like {spacing // 60}-minute candles, not {resolution.value}-minute; "
                f"{use}"
            )
    return None


@dataclass(frozen=True, slots=True)
class StoreComparison:
    """The file's candles against what the store holds at the same times."""

    new: npt.NDArray[np.bool_]  # no stored candle at this time
    changed: npt.NDArray[np.bool_]  # a stored candle with other values
    first_change: str | None  # "2026-11-17 09:15 IST close 1047.00 → 2094.00"

    @property
    def new_count(self) -> int:
        return int(np.count_nonzero(self.new))

    @property
    def changed_count(self) -> int:
        return int(np.count_nonzero(self.changed))


_FIELDS = ("open", "high", "low", "close", "volume")


def compare_with_store(
    conn: sqlite3.Connection, symbol: str, resolution: Resolution, candles: CandleArrays
) -> StoreComparison:
    """Which of ``candles`` are new and which would change a stored candle."""
    n = len(candles)
    if n == 0:
        empty = np.zeros(0, dtype=np.bool_)
        return StoreComparison(empty, empty, None)
    stored = load_candles(conn, symbol, resolution, int(candles.ts[0]), int(candles.ts[-1]))
    if len(stored) == 0:
        return StoreComparison(np.ones(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_), None)
    pos = np.searchsorted(stored.ts, candles.ts)
    at = np.minimum(pos, len(stored) - 1)
    found = stored.ts[at] == candles.ts
    same = found.copy()
    for name in _FIELDS:
        mine = getattr(candles, name).astype(np.float64)
        theirs = getattr(stored, name)[at].astype(np.float64)
        same &= np.isclose(mine, theirs, rtol=_RTOL, atol=_ATOL)
    changed = found & ~same
    first: str | None = None
    if changed.any():
        k = int(np.flatnonzero(changed)[0])
        diffs = []
        for name in _FIELDS:
            mine = float(getattr(candles, name)[k])
            theirs = float(getattr(stored, name)[int(at[k])])
            if not math.isclose(mine, theirs, rel_tol=_RTOL, abs_tol=_ATOL):
                fmt = ",.0f" if name == "volume" else ",.2f"
                diffs.append(f"{name} {theirs:{fmt}} → {mine:{fmt}}")
        first = f"{to_ist(int(candles.ts[k])):%Y-%m-%d %H:%M} IST {', '.join(diffs)}"
    return StoreComparison(~found, changed, first)
