"""The fetch planner on hand-built bar sequences: weekday sessions of 375 one-minute bars."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fyerstrade.data.fetch_plan import (
    FetchPlan,
    known_empty_mask,
    plan_series,
    span_limit_seconds,
)
from fyerstrade.domain import Resolution

IST_OFFSET = 19_800
OPEN = 9 * 3600 + 15 * 60  # 09:15 IST


def _midnight(d: date) -> int:
    return (d - date(1970, 1, 1)).days * 86_400 - IST_OFFSET


def weekdays(start: date, n: int) -> list[date]:
    days, d = [], start
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def bars(days: list[date], res: Resolution) -> np.ndarray:
    if res is Resolution.D:
        return np.array([_midnight(d) for d in days], dtype=np.int64)
    per_day = np.arange(0, 375 * 60, res.seconds, dtype=np.int64)
    return np.concatenate([_midnight(d) + OPEN + per_day for d in days])


DAYS = weekdays(date(2025, 11, 3), 250)
M1 = bars(DAYS, Resolution.M1)


def covered(plan_requests: list, ts: np.ndarray) -> np.ndarray:
    hit = np.zeros(ts.size, dtype=bool)
    for r in plan_requests:
        hit |= (ts >= r.range_from) & (ts <= r.range_to)
    return hit


def test_empty_store_is_chunked_within_the_span_limit() -> None:
    plan = plan_series("NSE:SBIN-EQ", Resolution.M1, M1, np.empty(0, np.int64))
    assert plan.missing == M1.size == 250 * 375
    assert plan.holes == 0
    # 250 weekdays ~ 348 calendar days: four 90-day chunks.
    assert len(plan.requests) == 4
    for r in plan.requests:
        assert r.range_to - r.range_from <= span_limit_seconds(Resolution.M1)
        assert r.holes == 0
    assert covered(list(plan.requests), M1).all()
    assert sum(r.bars for r in plan.requests) == M1.size
    # Chunks do not overlap and are in order.
    for a, b in zip(plan.requests, plan.requests[1:], strict=False):
        assert a.range_to < b.range_from


def test_complete_store_needs_no_request() -> None:
    plan = plan_series("S", Resolution.M1, M1, M1)
    assert plan.requests == ()
    assert plan.missing == 0


def test_a_missing_day_and_a_missing_minute_are_asked_for_exactly() -> None:
    day = DAYS[100]
    day_bars = bars([day], Resolution.M1)
    minute = int(bars([DAYS[200]], Resolution.M1)[37])
    stored = M1[~np.isin(M1, [*day_bars.tolist(), minute])]
    plan = plan_series("S", Resolution.M1, M1, stored)
    assert plan.holes == 2
    assert plan.missing == 376
    first, second = plan.requests
    assert (first.range_from, first.range_to) == (int(day_bars[0]), int(day_bars[-1]) + 59)
    assert (second.range_from, second.range_to) == (minute, minute + 59)
    assert first.holes == second.holes == 1


def test_nearby_holes_are_merged_into_one_request() -> None:
    # Two single-minute holes 100 bars apart: re-reading 99 stored bars beats a second request.
    a, b = int(M1[5000]), int(M1[5100])
    stored = M1[~np.isin(M1, [a, b])]
    plan = plan_series("S", Resolution.M1, M1, stored)
    assert len(plan.requests) == 1
    (r,) = plan.requests
    assert (r.range_from, r.range_to, r.bars, r.holes) == (a, b + 59, 2, 2)
    # Far apart (more than one session of stored bars between them): two requests.
    c = int(M1[9000])
    stored = M1[~np.isin(M1, [a, c])]
    assert len(plan_series("S", Resolution.M1, M1, stored).requests) == 2
    # The threshold is a parameter.
    assert len(plan_series("S", Resolution.M1, M1, stored, merge_gap_bars=10_000).requests) == 1


def test_extension_after_the_last_stored_bar_is_not_a_hole() -> None:
    stored = M1[: 200 * 375]
    plan = plan_series("S", Resolution.M1, M1, stored)
    assert plan.holes == 0
    (r,) = plan.requests
    assert r.range_from == int(M1[200 * 375])
    assert r.range_to == int(M1[-1]) + 59
    assert not r.is_repair


def test_ranges_the_ledger_knows_are_empty_are_not_asked_again() -> None:
    # Nothing stored before day 50 (the listing), and the ledger says so.
    stored = M1[50 * 375 :]
    listing = int(M1[50 * 375])
    plan = plan_series("S", Resolution.M1, M1, stored, [(int(M1[0]), listing - 1)])
    assert plan.requests == ()
    # Without the ledger entry the backfill is planned.
    assert plan_series("S", Resolution.M1, M1, stored).missing == 50 * 375


def test_daily_requests_cover_the_whole_ist_day() -> None:
    daily = bars(DAYS, Resolution.D)
    plan = plan_series("S", Resolution.D, daily, np.empty(0, np.int64))
    (r,) = plan.requests  # 348 calendar days fit one 360-day request
    assert r.range_from == int(daily[0])
    assert r.range_to == int(daily[-1]) + 86_399
    stored = np.delete(daily, [10, 11, 12])
    (hole,) = plan_series("S", Resolution.D, daily, stored).requests
    assert (hole.range_from, hole.range_to) == (int(daily[10]), int(daily[12]) + 86_399)


def test_known_empty_mask_is_inclusive_and_handles_overlaps() -> None:
    ts = np.arange(0, 100, 10, dtype=np.int64)
    mask = known_empty_mask(ts, [(10, 30), (20, 40), (90, 90), (200, 300)])
    assert mask.tolist() == [False, True, True, True, True, False, False, False, False, True]
    assert not known_empty_mask(ts, []).any()


def test_fetch_plan_aggregates_series() -> None:
    p1 = plan_series("A", Resolution.M1, M1, M1[:-10])
    p2 = plan_series("B", Resolution.M1, M1, np.delete(M1, [1000]))
    plan = FetchPlan((p1, p2))
    assert len(plan) == 2
    assert plan.missing == 11
    assert plan.holes == 1
    assert [r.symbol for r in plan] == ["A", "B"]


@settings(max_examples=60, deadline=None)
@given(
    keep=st.lists(st.booleans(), min_size=1, max_size=3000),
    empty=st.lists(st.tuples(st.integers(0, 2999), st.integers(0, 60)), max_size=5),
    span_days=st.integers(1, 120),
    merge=st.integers(0, 500),
)
def test_every_missing_bar_is_asked_once_within_the_span(
    keep: list[bool], empty: list[tuple[int, int]], span_days: int, merge: int
) -> None:
    expected = M1[: len(keep)]
    stored = expected[np.array(keep, dtype=bool)]
    ranges = [
        (int(expected[min(i, expected.size - 1)]), int(expected[min(i + n, expected.size - 1)]))
        for i, n in empty
    ]
    span = span_days * 86_400
    plan = plan_series(
        "S", Resolution.M1, expected, stored, ranges, span_seconds=span, merge_gap_bars=merge
    )
    missing = ~np.isin(expected, stored) & ~known_empty_mask(expected, ranges)
    hits = np.zeros(expected.size, dtype=np.int64)
    for r in plan.requests:
        assert r.range_to - r.range_from <= span
        hits += (expected >= r.range_from) & (expected <= r.range_to)
    assert (hits[missing] == 1).all()
    assert plan.missing == int(missing.sum()) == sum(r.bars for r in plan.requests)
