"""Fetch planning: which ``/data/history`` requests fill a candle series, and nothing more.

Pure and array-based, so it is unit-tested without a server or a database. The inputs for one
symbol × resolution are three facts:

* ``expected`` — the bar open times the calendar says the scan window should hold (sorted);
* ``stored`` — the bar open times already in the store (sorted);
* ``known_empty`` — ranges the fetch ledger says were asked and came back with nothing (a holiday
  the calendar did not know, days before the listing, a halted day), so they are not asked again.

A bar is *missing* when it is expected, not stored and not known to be empty. Missing bars form
*runs* (consecutive in the expected sequence). A run strictly inside the stored span is a *hole*;
a run before the first or after the last stored bar is a backfill or an extension. Runs become
requests:

* neighbouring runs are merged into one request when the stored bars between them (which the
  request would download again) are at most ``merge_gap_bars`` — a request costs a slot of the
  10/s rate limit, while re-reading one session's bars costs a few kilobytes;
* no request spans more than Fyers' per-request limit (100 days intraday, 366 daily), with a
  safety margin (90 and 360 days), and a longer run is split greedily.

Ranges are epoch seconds, inclusive at both ends as Fyers reads them: ``range_from`` is the first
missing bar's open time, ``range_to`` the last missing bar's open time plus its duration minus one
second (for a daily bar: the end of its IST day, whichever instant the server stamps it with).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from fyerstrade.domain import Resolution

#: Fyers serves intraday history from this date on; earlier intraday ranges are errors.
INTRADAY_HISTORY_START = date(2017, 7, 3)

#: Per-request span we plan with: Fyers allows 100 days intraday and 366 daily; stay under.
SAFE_SPAN_DAYS_INTRADAY = 90
SAFE_SPAN_DAYS_DAILY = 360

#: Bars in a regular 09:15-15:30 session (375 minutes), used for the default merge threshold.
SESSION_MINUTES = 375

Int64Array = npt.NDArray[np.int64]


def span_limit_seconds(resolution: Resolution) -> int:
    """Longest ``range_to - range_from`` we send for this resolution (with the safety margin)."""
    days = SAFE_SPAN_DAYS_INTRADAY if resolution.is_intraday else SAFE_SPAN_DAYS_DAILY
    return days * 86_400


def default_merge_gap_bars(resolution: Resolution) -> int:
    """Stored bars we accept to download again to save a request: one regular session's worth."""
    if not resolution.is_intraday:
        return 1
    return -(-SESSION_MINUTES // resolution.minutes)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """One history request: a symbol, a resolution and an inclusive epoch range."""

    symbol: str
    resolution: Resolution
    range_from: int
    range_to: int
    bars: int  # missing bars this request should bring
    holes: int  # holes inside the stored span it covers (0 for backfill/extension only)

    @property
    def is_repair(self) -> bool:
        return self.holes > 0


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """The requests for one symbol × resolution and what they are meant to fill."""

    symbol: str
    resolution: Resolution
    requests: tuple[FetchRequest, ...]
    expected: int  # bars the calendar expects in the scan window
    missing: int  # of those: not stored and not known empty
    holes: int  # missing runs strictly inside the stored span


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """Every request of a fetch, grouped per symbol × resolution."""

    series: tuple[SeriesPlan, ...] = field(default_factory=tuple)

    @property
    def requests(self) -> list[FetchRequest]:
        return [r for s in self.series for r in s.requests]

    @property
    def missing(self) -> int:
        return sum(s.missing for s in self.series)

    @property
    def holes(self) -> int:
        return sum(s.holes for s in self.series)

    def __len__(self) -> int:
        return sum(len(s.requests) for s in self.series)

    def __iter__(self) -> Iterator[FetchRequest]:
        return iter(self.requests)


def known_empty_mask(
    expected: Int64Array, ranges: Iterable[tuple[int, int]]
) -> npt.NDArray[np.bool_]:
    """True for each expected bar that lies inside one of the inclusive ``ranges``.

    Vectorised with a difference array, so thousands of ledger ranges cost one pass.
    """
    pairs = np.asarray(list(ranges), dtype=np.int64).reshape(-1, 2)
    if pairs.size == 0 or expected.size == 0:
        return np.zeros(expected.size, dtype=np.bool_)
    lo = np.searchsorted(expected, pairs[:, 0], side="left")
    hi = np.searchsorted(expected, pairs[:, 1], side="right")
    diff = np.zeros(expected.size + 1, dtype=np.int64)
    np.add.at(diff, lo, 1)
    np.add.at(diff, hi, -1)
    covered: npt.NDArray[np.bool_] = np.cumsum(diff[:-1]) > 0
    return covered


@dataclass(slots=True)
class _Group:
    first_ts: int
    last_ts: int
    last_index: int  # index into `expected` of the last missing bar
    bars: int
    holes: int


def plan_series(
    symbol: str,
    resolution: Resolution,
    expected: Int64Array,
    stored: Int64Array,
    known_empty: Sequence[tuple[int, int]] = (),
    *,
    span_seconds: int | None = None,
    merge_gap_bars: int | None = None,
) -> SeriesPlan:
    """Plan the requests that fill the missing bars of one series (see the module docstring)."""
    expected = np.asarray(expected, dtype=np.int64)
    stored = np.asarray(stored, dtype=np.int64)
    span = span_limit_seconds(resolution) if span_seconds is None else span_seconds
    merge_gap = default_merge_gap_bars(resolution) if merge_gap_bars is None else merge_gap_bars
    duration = resolution.seconds
    if span < duration - 1:
        raise ValueError(f"span of {span} s cannot hold one {resolution.value} bar")

    is_stored = np.isin(expected, stored, assume_unique=False)
    missing_mask = ~is_stored & ~known_empty_mask(expected, known_empty)
    missing_idx = np.flatnonzero(missing_mask)
    if missing_idx.size == 0:
        return SeriesPlan(symbol, resolution, (), int(expected.size), 0, 0)

    stored_cum = np.cumsum(is_stored, dtype=np.int64)  # stored bars in expected[: i + 1]
    breaks = np.flatnonzero(np.diff(missing_idx) != 1)
    run_starts = np.concatenate(([0], breaks + 1))
    run_ends = np.concatenate((breaks, [missing_idx.size - 1]))
    stored_first = int(stored[0]) if stored.size else None
    stored_last = int(stored[-1]) if stored.size else None

    requests: list[FetchRequest] = []
    holes_total = 0
    group: _Group | None = None

    def flush(g: _Group) -> None:
        requests.append(
            FetchRequest(symbol, resolution, g.first_ts, g.last_ts + duration - 1, g.bars, g.holes)
        )

    for a, b in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
        first_i, last_i = int(missing_idx[a]), int(missing_idx[b])
        first_ts, last_ts = int(expected[first_i]), int(expected[last_i])
        is_hole = (
            stored_first is not None
            and stored_last is not None
            and stored_first < first_ts
            and last_ts < stored_last
        )
        holes_total += int(is_hole)
        if group is not None:
            gap_stored = int(stored_cum[first_i] - stored_cum[group.last_index])
            if gap_stored <= merge_gap and last_ts + duration - 1 - group.first_ts <= span:
                group.last_ts, group.last_index = last_ts, last_i
                group.bars += b - a + 1
                group.holes += int(is_hole)
                continue
            flush(group)
            group = None
        # Start a new group with this run, splitting it when it exceeds the span limit.
        run_ts = expected[missing_idx[a : b + 1]]
        pos = 0
        while pos < run_ts.size:
            start_ts = int(run_ts[pos])
            end = int(np.searchsorted(run_ts, start_ts + span - duration + 1, side="right"))
            end = max(end, pos + 1)
            if group is not None:
                flush(group)
            group = _Group(
                first_ts=start_ts,
                last_ts=int(run_ts[end - 1]),
                last_index=int(missing_idx[a + end - 1]),
                bars=end - pos,
                holes=int(is_hole) if pos == 0 else 0,  # a split hole counts once
            )
            pos = end
    if group is not None:
        flush(group)
    return SeriesPlan(
        symbol, resolution, tuple(requests), int(expected.size), int(missing_idx.size), holes_total
    )
