"""Coverage of the candle store against the NSE calendar: what is stored, what is missing, where.

For each symbol × resolution: the first and last stored candle, candles stored, candles the
calendar expects between them (inclusive), how many of those are missing, and the largest holes
(runs of consecutive missing bars). Everything is numpy set arithmetic on timestamp arrays — one
``isin`` per series, no per-bar Python — so a report over years of 1-minute bars stays fast.

Missing bars that the fetch ledger records as answered empty by Fyers (a halt, a holiday the
calendar does not know, days before a listing) are counted in ``known_empty``: they are missing
at the source, not a fetch still to do.

A hole is reported as the open time of its first and of its last missing bar (both inclusive) and
its length in bars. Stored candles the calendar does not expect (a special session the calendar
does not know) count in ``candles`` but not in ``expected``.

Used by ``fyerstrade data coverage`` and by the dashboard (``coverage_report``, ``missing_by_day``
for a symbol × day heatmap).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from fyerstrade.calendar import IST_OFFSET, NSECalendar, get_calendar, ist_date, ist_epoch, to_ist
from fyerstrade.data.fetch_plan import known_empty_mask
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import candle_stats, candle_timestamps
from fyerstrade.store.ledger import STATUS_NO_DATA, ledger_entries

Int64Array = npt.NDArray[np.int64]

#: Holes listed per series by default (the largest first).
DEFAULT_MAX_HOLES = 5


@dataclass(frozen=True, slots=True)
class Hole:
    """A run of consecutive missing bars: first and last missing bar open times, bar count."""

    start: int
    end: int
    bars: int

    def to_json(self) -> dict[str, Any]:
        return {"start": iso(self.start), "end": iso(self.end), "bars": self.bars}


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """Coverage of one symbol × resolution (timestamps are epoch seconds)."""

    symbol: str
    resolution: Resolution
    first: int
    last: int
    candles: int
    expected: int
    missing: int
    holes: tuple[Hole, ...]
    known_empty: int = 0  # of the missing bars: the fetch ledger says Fyers has none there

    @property
    def complete_pct(self) -> float:
        """Share of expected bars that are stored, in percent (100 when nothing is expected)."""
        if self.expected == 0:
            return 100.0
        return 100.0 * (self.expected - self.missing) / self.expected

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "resolution": self.resolution.value,
            "first": iso(self.first),
            "last": iso(self.last),
            "candles": self.candles,
            "expected": self.expected,
            "missing": self.missing,
            "holes": [h.to_json() for h in self.holes],
            "known_empty": self.known_empty,
        }


def iso(ts: int) -> str:
    """ISO 8601 in IST with its offset, e.g. ``2026-11-20T09:15:00+05:30``."""
    return to_ist(ts).isoformat()


def find_holes(
    expected: Int64Array, stored: Int64Array, max_holes: int | None = DEFAULT_MAX_HOLES
) -> tuple[int, list[Hole]]:
    """Missing-bar count and the largest holes (most bars first, then earliest) of a series.

    ``expected`` must be sorted; ``stored`` need not be.
    """
    missing_mask = ~np.isin(expected, stored)
    idx = np.flatnonzero(missing_mask)
    if idx.size == 0:
        return 0, []
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [idx.size - 1]))
    lengths = ends - starts + 1
    order = np.lexsort((starts, -lengths))  # longest first, ties by time
    if max_holes is not None:
        order = order[:max_holes]
    holes = [
        Hole(int(expected[idx[starts[k]]]), int(expected[idx[ends[k]]]), int(lengths[k]))
        for k in order.tolist()
    ]
    return int(idx.size), holes


def missing_counts_by_day(expected: Int64Array, stored: Int64Array) -> dict[date, int]:
    """Missing bars per IST trading day of ``expected`` (days with none missing map to 0)."""
    if expected.size == 0:
        return {}
    day_number = (expected + IST_OFFSET) // 86_400
    days, inverse = np.unique(day_number, return_inverse=True)
    missing = np.bincount(inverse, weights=~np.isin(expected, stored), minlength=days.size)
    epoch_day = date(1970, 1, 1).toordinal()
    return {
        date.fromordinal(epoch_day + int(d)): int(m)
        for d, m in zip(days.tolist(), missing.tolist(), strict=True)
    }


def _expected_between(
    cal: NSECalendar, resolution: Resolution, first: int, last: int
) -> Int64Array:
    bars = cal.expected_bars(ist_date(first), ist_date(last), resolution)
    lo = np.searchsorted(bars, first, side="left")
    hi = np.searchsorted(bars, last, side="right")
    return bars[lo:hi]


def coverage_report(
    conn: sqlite3.Connection,
    symbol: str | None = None,
    *,
    calendar: NSECalendar | None = None,
    max_holes: int | None = DEFAULT_MAX_HOLES,
) -> list[CoverageRow]:
    """Coverage of every stored series (or one symbol's), ordered by symbol then resolution.

    Raises :class:`~fyerstrade.errors.CalendarCoverageError` for stored bars past the calendar's
    holiday lists unless the calendar was built with ``assume_weekdays=True``.
    """
    cal = calendar or get_calendar()
    rows: list[CoverageRow] = []
    order = {r: i for i, r in enumerate(Resolution)}
    stats = sorted(
        candle_stats(conn, symbol), key=lambda s: (s.symbol, order[Resolution(s.resolution)])
    )
    for st in stats:
        if st.count == 0:
            continue
        resolution = Resolution(st.resolution)
        stored = candle_timestamps(conn, st.symbol, resolution)
        expected = _expected_between(cal, resolution, st.first_ts, st.last_ts)
        missing, holes = find_holes(expected, stored, max_holes)
        known_empty = 0
        if missing:
            empty_ranges = [
                (e.range_from, e.range_to)
                for e in ledger_entries(conn, st.symbol, resolution)
                if e.status == STATUS_NO_DATA
            ]
            gaps = expected[~np.isin(expected, stored)]
            known_empty = int(np.count_nonzero(known_empty_mask(gaps, empty_ranges)))
        rows.append(
            CoverageRow(
                symbol=st.symbol,
                resolution=resolution,
                first=st.first_ts,
                last=st.last_ts,
                candles=st.count,
                expected=int(expected.size),
                missing=missing,
                holes=tuple(holes),
                known_empty=known_empty,
            )
        )
    return rows


def missing_by_day(
    conn: sqlite3.Connection,
    symbol: str,
    resolution: Resolution,
    start: date,
    end: date,
    *,
    calendar: NSECalendar | None = None,
) -> dict[date, int]:
    """Missing bars per trading day in ``[start, end]`` (inclusive), for a symbol × day heatmap.

    Every trading day of the range is a key (0 when complete); a day with nothing stored counts
    all of its expected bars.
    """
    cal = calendar or get_calendar()
    expected = cal.expected_bars(start, end, resolution)
    stored = candle_timestamps(conn, symbol, resolution, ist_epoch(start), ist_epoch(end) + 86_399)
    return missing_counts_by_day(expected, stored)
