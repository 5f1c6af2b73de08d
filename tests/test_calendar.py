"""NSE calendar: holidays, special sessions, coverage guard, bar times, IST helpers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from fyerstrade import calendar as cal_mod
from fyerstrade.calendar import (
    IST,
    NSECalendar,
    epoch,
    get_calendar,
    ist_date,
    ist_epoch,
    to_ist,
)
from fyerstrade.domain import Resolution
from fyerstrade.errors import CalendarCoverageError

# nse-market.md §3: every weekday closure, including the ad hoc ones.
HOLIDAYS_2024 = [
    "2024-01-22", "2024-01-26", "2024-03-08", "2024-03-25", "2024-03-29", "2024-04-11",
    "2024-04-17", "2024-05-01", "2024-05-20", "2024-06-17", "2024-07-17", "2024-08-15",
    "2024-10-02", "2024-11-15", "2024-11-20", "2024-12-25",
]  # fmt: skip
HOLIDAYS_2025 = [
    "2025-02-26", "2025-03-14", "2025-03-31", "2025-04-10", "2025-04-14", "2025-04-18",
    "2025-05-01", "2025-08-15", "2025-08-27", "2025-10-02", "2025-10-22", "2025-11-05",
    "2025-12-25",
]  # fmt: skip
HOLIDAYS_2026 = [
    "2026-01-15", "2026-01-26", "2026-03-03", "2026-03-26", "2026-03-31", "2026-04-03",
    "2026-04-14", "2026-05-01", "2026-05-28", "2026-06-26", "2026-09-14", "2026-10-02",
    "2026-10-20", "2026-11-10", "2026-11-24", "2026-12-25",
]  # fmt: skip
MUHURAT_WEEKDAYS = {"2024-11-01": ("18:00", "19:00"), "2025-10-21": ("13:45", "14:45")}

NORMAL_DAY = date(2024, 6, 3)  # a Monday


@pytest.fixture(scope="module")
def cal() -> NSECalendar:
    return NSECalendar()


def hm(ts: int) -> str:
    return to_ist(ts).strftime("%H:%M")


def segments_hm(cal: NSECalendar, d: date) -> list[tuple[str, str]]:
    s = cal.session(d)
    assert s is not None, f"{d} should be a session"
    return [(hm(o), hm(c)) for o, c in s.segments]


# --------------------------------------------------------------------------- holidays


@pytest.mark.parametrize("day", HOLIDAYS_2024 + HOLIDAYS_2025 + HOLIDAYS_2026)
def test_weekday_holidays_are_closed(cal: NSECalendar, day: str) -> None:
    d = date.fromisoformat(day)
    assert d.weekday() < 5
    assert not cal.is_trading_day(d)
    assert cal.session(d) is None
    assert len(cal.minute_bars(d)) == 0


def test_weekday_closure_counts_match_the_official_lists(cal: NSECalendar) -> None:
    # 17 / 14 / 16 weekday closures, of which the Muhurat days hold only their evening hour.
    years = ((2024, HOLIDAYS_2024, 1), (2025, HOLIDAYS_2025, 1), (2026, HOLIDAYS_2026, 1))
    for year, holidays, muhurat in years:
        weekdays = [
            date(year, 1, 1) + timedelta(days=i)
            for i in range((date(year, 12, 31) - date(year, 1, 1)).days + 1)
        ]
        weekdays = [d for d in weekdays if d.weekday() < 5]
        closed = {d for d in weekdays if not cal.is_trading_day(d)}
        assert closed == {date.fromisoformat(h) for h in holidays}
        specials = [s for s in cal.sessions(date(year, 1, 1), date(year, 12, 31)) if s.special]
        assert sum(s.label == "Muhurat" for s in specials) == muhurat


@pytest.mark.parametrize(("day", "hours"), MUHURAT_WEEKDAYS.items())
def test_weekday_muhurat_days_trade_only_their_hour(
    cal: NSECalendar, day: str, hours: tuple[str, str]
) -> None:
    d = date.fromisoformat(day)
    s = cal.session(d)
    assert s is not None and s.label == "Muhurat" and s.special
    assert segments_hm(cal, d) == [hours]
    assert s.minutes == 60
    assert len(cal.minute_bars(d)) == 60
    assert not s.contains(ist_epoch(d, time(10, 0)))


# --------------------------------------------------------------------------- special sessions


@pytest.mark.parametrize(
    ("day", "hours", "label"),
    [
        ("2024-01-20", [("09:15", "15:30")], "Saturday session"),
        ("2024-03-02", [("09:15", "10:00"), ("11:30", "12:30")], "DR drill"),
        ("2024-05-18", [("09:15", "10:00"), ("11:30", "12:30")], "DR drill"),
        ("2025-02-01", [("09:15", "15:30")], "Budget"),
        ("2026-02-01", [("09:15", "15:30")], "Budget"),
        ("2026-11-08", [("18:00", "19:00")], "Muhurat"),
    ],
)
def test_weekend_special_sessions_are_open(
    cal: NSECalendar, day: str, hours: list[tuple[str, str]], label: str
) -> None:
    d = date.fromisoformat(day)
    assert d.weekday() >= 5
    assert cal.is_trading_day(d)
    assert segments_hm(cal, d) == hours
    s = cal.session(d)
    assert s is not None and s.special and s.label == label
    assert d in cal.trading_days(d - timedelta(days=3), d + timedelta(days=3))


def test_unverified_special_sessions_are_marked() -> None:
    unverified = [s.date for s in cal_mod.SPECIAL_SESSIONS if not s.verified]
    assert unverified == [date(2026, 11, 8)]


def test_ordinary_weekend_is_closed(cal: NSECalendar) -> None:
    assert not cal.is_trading_day(date(2024, 1, 21))  # Sunday after the Saturday session
    assert not cal.is_trading_day(date(2024, 6, 1))


def test_sessions_after_2026_08_03_keep_the_library_hours(cal: NSECalendar) -> None:
    assert segments_hm(cal, date(2026, 8, 3)) == [("09:15", "15:30")]


# --------------------------------------------------------------------------- coverage


def test_coverage_end_is_the_last_listed_year(cal: NSECalendar) -> None:
    assert cal.coverage_end == date(2026, 12, 31)
    assert cal.is_trading_day(date(2026, 12, 31))


@pytest.fixture
def warning_records() -> Iterator[list[logging.LogRecord]]:
    """Capture ``fyerstrade.calendar`` records directly (the fyerstrade logger may not
    propagate), with the once-per-range memory reset."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("fyerstrade.calendar")
    logger.addHandler(handler)
    saved = set(cal_mod._WARNED)
    cal_mod._WARNED.clear()
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        cal_mod._WARNED.clear()
        cal_mod._WARNED.update(saved)


def test_dates_past_coverage_raise(cal: NSECalendar) -> None:
    d = date(2027, 1, 4)
    for call in (
        lambda: cal.is_trading_day(d),
        lambda: cal.session(d),
        lambda: cal.minute_bars(d),
        lambda: cal.trading_days(date(2026, 12, 1), d),
        lambda: cal.expected_bars(date(2026, 12, 1), d, Resolution.M5),
        lambda: cal.next_trading_day(date(2026, 12, 31)),
    ):
        with pytest.raises(CalendarCoverageError, match=r"2027.*--assume-weekdays"):
            call()


def test_assume_weekdays_opens_weekdays_and_warns_once(
    warning_records: list[logging.LogRecord],
) -> None:
    cal = NSECalendar(assume_weekdays=True)
    assert cal.is_trading_day(date(2027, 1, 4))  # Monday
    assert not cal.is_trading_day(date(2027, 1, 2))  # Saturday
    assert cal.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 1)
    assert len(cal.minute_bars(date(2028, 3, 1))) == 375
    NSECalendar(assume_weekdays=True).session(date(2027, 6, 1))
    assert warning_records == []  # building a year says nothing (expiries look ahead)
    # a range a user asked for that reaches 2027 is warned about, once
    for _ in range(2):
        cal_mod.warn_if_assumed(date(2026, 12, 1), date(2027, 1, 15), cal)
    cal_mod.warn_if_assumed(date(2026, 6, 1), date(2026, 12, 1), cal)  # all published: nothing
    assert len(warning_records) == 1
    assert "2027" in warning_records[0].getMessage()
    assert "assuming" in warning_records[0].getMessage()
    # Covered years are unchanged by the flag.
    assert not cal.is_trading_day(date(2026, 1, 15))


def test_get_calendar_is_cached_per_flag() -> None:
    assert get_calendar() is get_calendar()
    assert get_calendar(assume_weekdays=True) is not get_calendar()
    assert get_calendar(assume_weekdays=True).assume_weekdays


# --------------------------------------------------------------------------- bars


def test_normal_day_minute_bars(cal: NSECalendar) -> None:
    bars = cal.minute_bars(NORMAL_DAY)
    assert bars.dtype == np.int64
    assert len(bars) == 375
    assert to_ist(int(bars[0])) == datetime(2024, 6, 3, 9, 15, tzinfo=IST)
    assert to_ist(int(bars[-1])) == datetime(2024, 6, 3, 15, 29, tzinfo=IST)
    assert np.all(np.diff(bars) == 60)


def test_coarser_resolutions_align_to_the_open(cal: NSECalendar) -> None:
    five = cal.bar_times(NORMAL_DAY, Resolution.M5)
    assert len(five) == 75
    assert [hm(int(t)) for t in five[:3]] == ["09:15", "09:20", "09:25"]
    hourly = cal.bar_times(NORMAL_DAY, Resolution.M60)
    assert [hm(int(t)) for t in hourly] == [
        "09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15",
    ]  # fmt: skip
    daily = cal.bar_times(NORMAL_DAY, Resolution.D)
    assert daily.tolist() == [ist_epoch(NORMAL_DAY)]


def test_split_session_bar_counts(cal: NSECalendar) -> None:
    d = date(2024, 3, 2)
    assert len(cal.minute_bars(d)) == 45 + 60
    assert len(cal.bar_times(d, Resolution.M5)) == 9 + 12
    assert [hm(int(t)) for t in cal.bar_times(d, Resolution.M60)] == ["09:15", "11:30"]
    assert [hm(int(t)) for t in cal.bar_times(d, Resolution.M30)] == [
        "09:15", "09:45", "11:30", "12:00",
    ]  # fmt: skip
    assert cal.session(d) is not None and cal.session(d).minutes == 105  # type: ignore[union-attr]


def test_expected_bars_concatenate_trading_days(cal: NSECalendar) -> None:
    # 2024-01-19 (Fri), 20 (Sat session), 22 (holiday), 23 (Tue).
    bars = cal.expected_bars(date(2024, 1, 19), date(2024, 1, 23), Resolution.M1)
    assert len(bars) == 3 * 375
    assert np.all(np.diff(bars) > 0)
    assert {ist_date(int(t)) for t in bars} == {
        date(2024, 1, 19), date(2024, 1, 20), date(2024, 1, 23),
    }  # fmt: skip
    daily = cal.expected_bars(date(2024, 1, 19), date(2024, 1, 23), Resolution.D)
    assert [ist_date(int(t)) for t in daily] == [
        date(2024, 1, 19), date(2024, 1, 20), date(2024, 1, 23),
    ]  # fmt: skip
    assert len(cal.expected_bars(date(2024, 1, 23), date(2024, 1, 19), Resolution.M1)) == 0


def test_expected_bars_across_years_match_per_day(cal: NSECalendar) -> None:
    start, end = date(2024, 12, 20), date(2025, 1, 10)
    bars = cal.expected_bars(start, end, Resolution.M15)
    per_day = np.concatenate(
        [cal.bar_times(d, Resolution.M15) for d in cal.trading_days(start, end)]
    )
    assert np.array_equal(bars, per_day)
    total = cal.expected_bars(date(2024, 1, 1), date(2025, 12, 31), Resolution.M1)
    sessions = cal.sessions(date(2024, 1, 1), date(2025, 12, 31))
    assert len(total) == sum(s.minutes for s in sessions)


def test_bar_close_ts(cal: NSECalendar) -> None:
    one = ist_epoch(NORMAL_DAY, time(10, 0))
    assert cal.bar_close_ts(one, Resolution.M1) == one + 60
    last_hour = ist_epoch(NORMAL_DAY, time(15, 15))
    assert cal.bar_close_ts(last_hour, Resolution.M60) == ist_epoch(NORMAL_DAY, time(15, 30))
    day = ist_epoch(NORMAL_DAY)
    assert cal.bar_close_ts(day, Resolution.D) == ist_epoch(NORMAL_DAY, time(15, 30))
    # The first segment of a DR drill ends at 10:00, not at 10:15.
    drill = date(2024, 3, 2)
    assert cal.bar_close_ts(ist_epoch(drill, time(9, 15)), Resolution.M60) == ist_epoch(
        drill, time(10, 0)
    )
    assert cal.bar_close_ts(ist_epoch(drill), Resolution.D) == ist_epoch(drill, time(12, 30))


def test_bar_close_times_match_bar_close_ts(cal: NSECalendar) -> None:
    # Every minute (on and off session) of a normal day, a DR drill, a holiday, a Muhurat day
    # and a weekend, across a year boundary.
    days = [NORMAL_DAY, date(2024, 3, 2), date(2024, 3, 25), date(2024, 11, 1), date(2024, 12, 31)]
    days += [date(2025, 1, 4), date(2025, 1, 6)]
    ts = np.concatenate([np.arange(ist_epoch(d), ist_epoch(d) + 86_400, 60) for d in days])
    rng = np.random.default_rng(7)
    ts = rng.permutation(ts)
    for res in (Resolution.M1, Resolution.M5, Resolution.M60, Resolution.M240, Resolution.D):
        got = cal.bar_close_times(ts, res)
        assert got.tolist() == [cal.bar_close_ts(int(t), res) for t in ts], res
    assert len(cal.bar_close_times(np.empty(0, dtype=np.int64), Resolution.M1)) == 0


# --------------------------------------------------------------------------- navigation


def test_next_and_previous_across_a_holiday(cal: NSECalendar) -> None:
    # 2024-03-25 (Mon) Holi; 2024-03-29 (Fri) Good Friday.
    assert cal.next_trading_day(date(2024, 3, 22)) == date(2024, 3, 26)
    assert cal.previous_trading_day(date(2024, 3, 26)) == date(2024, 3, 22)
    assert cal.next_trading_day(date(2024, 3, 28)) == date(2024, 4, 1)
    assert cal.previous_trading_day(date(2024, 4, 1)) == date(2024, 3, 28)


def test_next_and_previous_across_the_saturday_session(cal: NSECalendar) -> None:
    assert cal.next_trading_day(date(2024, 1, 19)) == date(2024, 1, 20)
    assert cal.next_trading_day(date(2024, 1, 20)) == date(2024, 1, 23)
    assert cal.previous_trading_day(date(2024, 1, 23)) == date(2024, 1, 20)
    assert cal.previous_trading_day(date(2024, 1, 20)) == date(2024, 1, 19)


def test_navigation_across_a_year_boundary(cal: NSECalendar) -> None:
    assert cal.next_trading_day(date(2024, 12, 31)) == date(2025, 1, 1)
    assert cal.previous_trading_day(date(2025, 1, 1)) == date(2024, 12, 31)


# --------------------------------------------------------------------------- IST helpers


def test_ist_helpers_round_trip() -> None:
    ts = 1_717_386_300  # 2024-06-03 03:45 UTC
    assert to_ist(ts) == datetime(2024, 6, 3, 9, 15, tzinfo=IST)
    assert to_ist(ts).utcoffset() == timedelta(hours=5, minutes=30)
    assert ist_epoch(date(2024, 6, 3), time(9, 15)) == ts
    assert epoch(to_ist(ts)) == ts
    assert epoch(datetime(2024, 6, 3, 3, 45, tzinfo=UTC)) == ts
    assert ist_date(ts) == date(2024, 6, 3)
    # Just before and at IST midnight (18:30 UTC the previous day).
    midnight = ist_epoch(date(2024, 6, 3))
    assert ist_date(midnight) == date(2024, 6, 3)
    assert ist_date(midnight - 1) == date(2024, 6, 2)
    for probe in (0, midnight, midnight - 1, 2_000_000_000):
        assert epoch(to_ist(probe)) == probe
        assert ist_epoch(ist_date(probe)) <= probe < ist_epoch(ist_date(probe)) + 86_400


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        epoch(datetime(2024, 6, 3, 9, 15))
    with pytest.raises(ValueError, match="naive"):
        ist_epoch(date(2024, 6, 3), time(9, 15, tzinfo=IST))
