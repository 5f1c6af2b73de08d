"""NSE trading days, session times and expected bar times, plus the IST helpers.

The holiday lists and regular/Muhurat hours come from ``pandas_market_calendars`` (calendar
``"XNSE"``, ≥ 5.5). That library cannot represent weekend sessions, so a project-owned table,
:data:`SPECIAL_SESSIONS`, adds them (Saturday makeup sessions, DR drills with two segments, budget
days, weekend Muhurat) and overrides the library for those dates.

Your own holidays and sessions: ``nse_calendar.yaml`` in the data directory
(:mod:`fyerstrade.calendar_file`) adds holidays and special sessions, and a year listed under its
``years`` counts as published (its weekdays are sessions except the holidays listed), so the
scheduler and backtests work in January before the library knows the year.
:func:`get_calendar` reads it (and rereads it when it changes).

Coverage guard: the library silently treats every weekday after its last holiday list as a
normal session. :class:`NSECalendar` refuses any date in a year without a published list (after
the library's last year and not in the user file) with :class:`CalendarCoverageError`, unless it
was built with ``assume_weekdays=True``; then such dates are plain Mon–Fri 09:15–15:30 sessions.
Building such a year says nothing by itself (the simulator and the symbol master look ahead for
expiries); :meth:`NSECalendar.assumption_note` gives the warning for a range a user asked for,
and :func:`warn_if_assumed` logs it.

What is not modelled: pre-open and post-close sessions, and the changes announced from
2026-08-03 (F&O continuous session to 15:40, the cash closing auction 15:15–15:35). Sessions from
2026-08-03 keep the library's 09:15–15:30, which is what Fyers' cash candles cover.

Performance: importing this module does not import pandas or the calendar library (the IST
helpers are used everywhere). What the library says about a year is kept on disk per installed
library version (:mod:`fyerstrade.calendar_library`), so the library and pandas are imported only
when a year is not cached yet. Each year is built once per process and kept as numpy arrays;
the per-resolution bar times of a year are built once on first use, so :meth:`expected_bars`
over years of 1-minute bars is a few array slices.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from fyerstrade.calendar_library import LibraryCalendar, LibrarySession
from fyerstrade.domain import DAY_SECONDS, IST_OFFSET, Resolution
from fyerstrade.errors import CalendarCoverageError

if TYPE_CHECKING:
    from fyerstrade.calendar_file import UserCalendar

__all__ = [
    "IST",
    "IST_OFFSET",
    "SPECIAL_SESSIONS",
    "NSECalendar",
    "Session",
    "SpecialSession",
    "epoch",
    "get_calendar",
    "ist_date",
    "ist_epoch",
    "to_ist",
    "user_calendar_path",
    "warn_if_assumed",
]

log = logging.getLogger("fyerstrade.calendar")


IST = ZoneInfo("Asia/Kolkata")
_DAY = DAY_SECONDS
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_REGULAR_OPEN = time(9, 15)
_REGULAR_CLOSE = time(15, 30)

Int64Array = npt.NDArray[np.int64]
_EMPTY: Int64Array = np.empty(0, dtype=np.int64)
_EMPTY.flags.writeable = False


# ----------------------------------------------------------------------------- IST helpers


def to_ist(ts: int) -> datetime:
    """Aware IST datetime of an epoch-seconds instant."""
    return datetime.fromtimestamp(ts, IST)


def ist_date(ts: int) -> date:
    """IST calendar date of an epoch-seconds instant."""
    return date.fromordinal((ts + IST_OFFSET) // _DAY + _EPOCH_ORDINAL)


def ist_epoch(d: date, t: time = time(0)) -> int:
    """Epoch seconds of wall time ``t`` on date ``d`` in IST (``t`` must be naive: it is IST)."""
    if t.tzinfo is not None:
        raise ValueError(f"ist_epoch takes a naive time meaning IST, got {t!r}")
    return _day_number(d) * _DAY + t.hour * 3600 + t.minute * 60 + t.second - IST_OFFSET


def epoch(dt: datetime) -> int:
    """Epoch seconds (floored) of an aware datetime; a naive datetime raises ``ValueError``."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no time zone; attach one (IST?)")
    return (dt - _EPOCH_UTC) // timedelta(seconds=1)


def _day_number(d: date) -> int:
    """Days since 1970-01-01 (the IST midnight of ``d`` is ``n * 86400 - 19800``)."""
    return d.toordinal() - _EPOCH_ORDINAL


def _date_of(day: int) -> date:
    return date.fromordinal(day + _EPOCH_ORDINAL)


# ----------------------------------------------------------------------------- sessions


@dataclass(frozen=True, slots=True)
class Session:
    """One trading date: its continuous-trading segments as ``(open_ts, close_ts)`` pairs.

    Most days have one segment (09:15–15:30); DR drills have two. ``special`` marks days whose
    hours differ from the era's regular hours (Muhurat, weekend sessions, outages).
    """

    date: date
    segments: tuple[tuple[int, int], ...]
    label: str = ""
    special: bool = False

    @property
    def open_ts(self) -> int:
        """First open (epoch seconds)."""
        return self.segments[0][0]

    @property
    def close_ts(self) -> int:
        """Last close (epoch seconds)."""
        return self.segments[-1][1]

    @property
    def open(self) -> datetime:
        return to_ist(self.open_ts)

    @property
    def close(self) -> datetime:
        return to_ist(self.close_ts)

    @property
    def minutes(self) -> int:
        """Minutes of continuous trading (segments summed; gaps between them excluded)."""
        return sum(c - o for o, c in self.segments) // 60

    def contains(self, ts: int) -> bool:
        """Whether the market is open at ``ts`` (open inclusive, close exclusive)."""
        return any(o <= ts < c for o, c in self.segments)


@dataclass(frozen=True, slots=True)
class SpecialSession:
    """A session the calendar library lacks; overrides the library on its date."""

    date: date
    segments: tuple[tuple[time, time], ...]  # IST wall times
    label: str
    verified: bool = True


#: Sessions pandas_market_calendars cannot represent (it builds sessions from a Mon–Fri
#: weekmask). Sources: nse-market reference §2.5 and §3. Weekday Muhurat sessions (2024-11-01
#: 18:00–19:00, 2025-10-21 13:45–14:45) come from the library and are checked by the tests.
SPECIAL_SESSIONS: tuple[SpecialSession, ...] = (
    # Planned as a DR drill; became a full session when Mon 2024-01-22 was declared a holiday.
    SpecialSession(date(2024, 1, 20), ((time(9, 15), time(15, 30)),), "Saturday session"),
    # DR drills: primary site 09:15–10:00, DR site 11:30–12:30.
    SpecialSession(
        date(2024, 3, 2), ((time(9, 15), time(10, 0)), (time(11, 30), time(12, 30))), "DR drill"
    ),
    # Cash legs; some sources give the F&O second leg as 11:45–12:40 (conflict, unresolved).
    SpecialSession(
        date(2024, 5, 18), ((time(9, 15), time(10, 0)), (time(11, 30), time(12, 30))), "DR drill"
    ),
    SpecialSession(date(2025, 2, 1), ((time(9, 15), time(15, 30)),), "Budget"),
    SpecialSession(date(2026, 2, 1), ((time(9, 15), time(15, 30)),), "Budget"),
    # Diwali Laxmi Pujan on a Sunday: the date is verified, the times are NOT (18:00–19:00 is
    # the usual evening slot). Correct this row once NSE's circular is confirmed.
    SpecialSession(date(2026, 11, 8), ((time(18, 0), time(19, 0)),), "Muhurat", verified=False),
)


def _special_session(s: SpecialSession) -> Session:
    segs = tuple((ist_epoch(s.date, o), ist_epoch(s.date, c)) for o, c in s.segments)
    return Session(s.date, segs, s.label, special=True)


# ----------------------------------------------------------------------------- year tables


@dataclass(slots=True)
class _Year:
    """Everything known about one calendar year, built once."""

    sessions: dict[int, Session]  # keyed by day number
    days: Int64Array  # sorted day numbers of the trading days
    day_closes: Int64Array  # last close of each of ``days``
    seg_opens: Int64Array  # every segment of the year, sorted by open
    seg_closes: Int64Array
    bars: dict[Resolution, Int64Array]  # sorted bar open times per resolution (lazy)


def _frozen(a: Int64Array) -> Int64Array:
    a.flags.writeable = False
    return a


def _utc_seconds(col: object) -> Int64Array:
    """Epoch seconds of a tz-aware pandas datetime column (NaT -> -1)."""
    import pandas as pd

    series = pd.Series(col).dt.tz_convert(None)
    mask = series.isna().to_numpy()
    out: Int64Array = (
        series.fillna(pd.Timestamp(0)).to_numpy().astype("datetime64[s]").astype(np.int64)
    )
    out[mask] = -1
    return out


class NSECalendar:
    """NSE (cash and F&O continuous session) trading calendar.

    All date arguments are IST calendar dates; every timestamp is int epoch seconds. Dates after
    :attr:`coverage_end` raise :class:`CalendarCoverageError` unless ``assume_weekdays``; dates
    before :attr:`coverage_start` always raise. Instances are thread-safe.

    Sessions cover continuous trading only. From 2026-08-03 they stay 09:15–15:30 as the library
    gives them: the F&O 15:40 close and the cash closing auction (15:15–15:35) are not modelled.
    """

    def __init__(self, *, assume_weekdays: bool = False, user_file: Path | None = None) -> None:
        # The library's answers come from the on-disk cache when it has them; the library (and
        # pandas) are imported only on a miss, never when this module is imported.
        self.assume_weekdays = assume_weekdays
        self._library = LibraryCalendar()
        coverage = self._library.coverage()
        self.coverage_start: date = coverage.start
        #: the last day of the library's last published year
        self.library_end: date = coverage.end
        self.user: UserCalendar | None = None
        if user_file is not None:
            # pydantic and YAML only when there is a file to read
            from fyerstrade.calendar_file import load_user_calendar

            self.user = load_user_calendar(user_file, self.library_end.year)
        published = set(self.user.years) if self.user is not None else set()
        last = self.library_end.year
        while last + 1 in published:
            last += 1
        #: the last day of the last year with a published holiday list (library or user file)
        self.coverage_end: date = date(last, 12, 31)
        self._specials = {_day_number(s.date): _special_session(s) for s in SPECIAL_SESSIONS}
        self._years: dict[int, _Year] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ queries by date

    def is_trading_day(self, d: date) -> bool:
        """Whether NSE holds any session on ``d`` (Muhurat-only days count)."""
        return self.session(d) is not None

    def session(self, d: date) -> Session | None:
        """The session on ``d``, or ``None`` when the exchange is closed."""
        return self._year(d.year).sessions.get(_day_number(d))

    def sessions(self, start: date, end: date) -> list[Session]:
        """Sessions from ``start`` to ``end`` inclusive, in date order."""
        return [self._year(_date_of(n).year).sessions[n] for n in self._days(start, end)]

    def trading_days(self, start: date, end: date) -> list[date]:
        """Trading dates from ``start`` to ``end`` inclusive."""
        return [_date_of(int(n)) for n in self._days(start, end)]

    def next_trading_day(self, d: date) -> date:
        """The first trading day strictly after ``d``."""
        n = _day_number(d)
        year = d.year
        while True:
            days = self._year(year).days
            i = int(np.searchsorted(days, n, side="right"))
            if i < len(days):
                return _date_of(int(days[i]))
            year += 1

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before ``d``."""
        n = _day_number(d)
        year = d.year
        while True:
            days = self._year(year).days
            i = int(np.searchsorted(days, n, side="left"))
            if i > 0:
                return _date_of(int(days[i - 1]))
            year -= 1

    # ------------------------------------------------------------------ bar times

    def minute_bars(self, d: date) -> Int64Array:
        """Open times of the 1-minute bars the session on ``d`` should hold (375 on a normal day:
        09:15 … 15:29); empty when closed."""
        return self.bar_times(d, Resolution.M1)

    def bar_times(self, d: date, resolution: Resolution) -> Int64Array:
        """Expected bar open times on ``d`` (read-only int64 array; empty when closed).

        Intraday bars are aligned to each segment's open, as Fyers aligns candles to 09:15
        (60-minute bars: 09:15, 10:15, …, 15:15, the last one truncated at 15:30). A daily bar is
        stamped at IST midnight of the date, the platform's canonical daily stamp.
        """
        s = self.session(d)
        if s is None:
            return _EMPTY
        if resolution is Resolution.D:
            return _frozen(np.array([ist_epoch(d)], dtype=np.int64))
        return _frozen(_segment_bars(s.segments, resolution.seconds))

    def expected_bars(self, start: date, end: date, resolution: Resolution) -> Int64Array:
        """Expected bar open times of every trading day from ``start`` to ``end`` inclusive,
        sorted (read-only when it is a view of the cache)."""
        if end < start:
            return _EMPTY
        lo = ist_epoch(start)
        hi = ist_epoch(end) + _DAY
        parts = []
        for year in range(start.year, end.year + 1):
            bars = self._year_bars(year, resolution)
            i, j = np.searchsorted(bars, (lo, hi))
            parts.append(bars[i:j])
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts)

    def bar_close_ts(self, bar_ts: int, resolution: Resolution) -> int:
        """The instant the bar opened at ``bar_ts`` becomes known.

        Intraday: ``min(open + duration, close of the segment holding the bar)``; a bar outside
        every segment (off-session data) closes after its nominal duration. Daily: the session's
        last close (IST midnight after the date when the date has no session).
        """
        day = (bar_ts + IST_OFFSET) // _DAY
        s = self._year(_date_of(day).year).sessions.get(day)
        if resolution is Resolution.D:
            return s.close_ts if s is not None else (day + 1) * _DAY - IST_OFFSET
        end = bar_ts + resolution.seconds
        if s is not None:
            for o, c in s.segments:
                if o <= bar_ts < c:
                    return min(end, c)
        return end

    # ------------------------------------------------------------------ internals

    def bar_close_times(self, bar_ts: Int64Array, resolution: Resolution) -> Int64Array:
        """Vectorised :meth:`bar_close_ts` over an array of bar open times (any order)."""
        ts = np.asarray(bar_ts, dtype=np.int64)
        if ts.size == 0:
            return np.empty(0, dtype=np.int64)
        # the years first, from the extreme times alone: a range outside the calendar's
        # coverage raises before any pass over the bars
        first = _date_of((int(ts.min()) + IST_OFFSET) // _DAY).year
        last = _date_of((int(ts.max()) + IST_OFFSET) // _DAY).year
        years = [self._year(y) for y in range(first, last + 1)]
        if resolution is Resolution.D:
            day = (ts + IST_OFFSET) // _DAY
            days = np.concatenate([y.days for y in years])
            closes = np.concatenate([y.day_closes for y in years])
            next_midnight = (day + 1) * _DAY - IST_OFFSET
            if days.size == 0:
                return next_midnight
            i = np.minimum(np.searchsorted(days, day), days.size - 1)
            return np.where(days[i] == day, closes[i], next_midnight)
        opens = np.concatenate([y.seg_opens for y in years])
        seg_closes = np.concatenate([y.seg_closes for y in years])
        end = ts + resolution.seconds
        if opens.size == 0:
            return end
        k = np.searchsorted(opens, ts, side="right") - 1
        k_safe = np.maximum(k, 0)
        inside = (k >= 0) & (ts < seg_closes[k_safe])
        return np.where(inside, np.minimum(end, seg_closes[k_safe]), end)

    def _days(self, start: date, end: date) -> list[int]:
        lo, hi = _day_number(start), _day_number(end)
        out: list[int] = []
        for year in range(start.year, end.year + 1):
            days = self._year(year).days
            i = np.searchsorted(days, lo, side="left")
            j = np.searchsorted(days, hi, side="right")
            out.extend(days[int(i) : int(j)].tolist())
        return out

    def _year_bars(self, year: int, resolution: Resolution) -> Int64Array:
        y = self._year(year)
        bars = y.bars.get(resolution)
        if bars is None:
            sessions = [y.sessions[int(n)] for n in y.days]
            if resolution is Resolution.D:
                bars = np.array([ist_epoch(s.date) for s in sessions], dtype=np.int64)
            elif sessions:
                step = resolution.seconds
                bars = np.concatenate([_segment_bars(s.segments, step) for s in sessions])
            else:
                bars = np.empty(0, dtype=np.int64)
            bars = _frozen(bars)
            with self._lock:
                y.bars.setdefault(resolution, bars)
        return bars

    def is_published(self, year: int) -> bool:
        """Whether ``year``'s holiday list is known (the library's, or the user file's)."""
        if self.coverage_start.year <= year <= self.library_end.year:
            return True
        return self.user is not None and year in self.user.years

    def assumption_note(self, start: date, end: date) -> str | None:
        """The warning for a range reaching years without a published holiday list (None when
        every year is published): what is assumed, and how to give the real list."""
        missing = [y for y in range(start.year, end.year + 1) if not self.is_published(y)]
        if not missing:
            return None
        years = ", ".join(str(y) for y in missing)
        from fyerstrade.calendar_file import USER_CALENDAR_FILE

        return (
            f"the NSE holiday list for {years} is not published in the calendar library (it "
            f"covers up to {self.library_end}) nor in {USER_CALENDAR_FILE}; assuming every "
            "weekday is a 09:15-15:30 session, so holidays will look like missing data — add "
            f"the list with `fyerstrade calendar init {missing[0]}`"
        )

    def _year(self, year: int) -> _Year:
        y = self._years.get(year)
        if y is not None:
            return y
        if (
            year > self.library_end.year
            and not self.is_published(year)
            and not self.assume_weekdays
        ):
            from fyerstrade.calendar_file import USER_CALENDAR_FILE

            raise CalendarCoverageError(
                f"the NSE holiday list for {year} is not published in the calendar library "
                f"yet (pandas_market_calendars covers up to {self.library_end}); add it to "
                f"{USER_CALENDAR_FILE} in the data directory (`fyerstrade calendar init "
                f"{year}`); `data fetch` and `data coverage` also take --assume-weekdays to "
                "treat every weekday as a 09:15-15:30 session",
                year=year,
            )
        if year < self.coverage_start.year:
            raise CalendarCoverageError(
                f"the NSE calendar starts on {self.coverage_start}; {year} is before it"
            )
        with self._lock:
            y = self._years.get(year)
            if y is None:
                y = self._build_year(year)
                self._years[year] = y
        return y

    def _build_year(self, year: int) -> _Year:
        if year > self.library_end.year:
            sessions = self._weekday_sessions(year)
            if self.user is not None and year in self.user.years:
                # a year published in the user file: regular sessions, not assumed ones
                sessions = {n: Session(s.date, s.segments) for n, s in sessions.items()}
        else:
            sessions = self._library_sessions(year)
        for n, s in self._specials.items():
            if s.date.year == year:
                sessions[n] = s
        if self.user is not None:
            holidays, specials = self.user.for_year(year)
            for d in holidays:
                sessions.pop(_day_number(d), None)
            for d, (segments, name) in specials.items():
                sessions[_day_number(d)] = _special_session(SpecialSession(d, segments, name))
        ordered = [sessions[n] for n in sorted(sessions)]
        days = np.array([s.date.toordinal() - _EPOCH_ORDINAL for s in ordered], dtype=np.int64)
        day_closes = np.array([s.close_ts for s in ordered], dtype=np.int64)
        segs = np.array([seg for s in ordered for seg in s.segments], dtype=np.int64)
        segs = segs.reshape(-1, 2)
        return _Year(
            sessions,
            _frozen(days),
            _frozen(day_closes),
            _frozen(segs[:, 0].copy()),
            _frozen(segs[:, 1].copy()),
            {},
        )

    def _library_sessions(self, year: int) -> dict[int, Session]:
        out: dict[int, Session] = {}
        for n, segments, label in self._library.sessions(year, _schedule_sessions):
            out[n] = Session(_date_of(n), segments, label, special=bool(label))
        return out

    @staticmethod
    def _weekday_sessions(year: int) -> dict[int, Session]:
        out: dict[int, Session] = {}
        first, last = _day_number(date(year, 1, 1)), _day_number(date(year, 12, 31))
        for n in range(first, last + 1):
            d = _date_of(n)
            if d.weekday() < 5:
                seg = (ist_epoch(d, _REGULAR_OPEN), ist_epoch(d, _REGULAR_CLOSE))
                out[n] = Session(d, (seg,), "assumed")
        return out


def _schedule_sessions(year: int, lib: Any) -> list[LibrarySession]:
    """The library's sessions of ``year`` (asked of the library itself: the cache's miss path)."""
    muhurat_days = {
        _day_number(date.fromisoformat(str(d))) for _, days in lib.special_opens_adhoc for d in days
    }
    # Early closes and extensions the library lists (1990s auction days, outages).
    odd_hours_days = {
        _day_number(date.fromisoformat(str(d)))
        for _, days in lib.special_closes_adhoc
        for d in days
    }
    sched = lib.schedule(f"{year}-01-01", f"{year}-12-31", interruptions=True)
    days = sched.index.to_numpy().astype("datetime64[D]").astype(np.int64)
    opens = _utc_seconds(sched["market_open"])
    closes = _utc_seconds(sched["market_close"])
    n_breaks = sum(1 for c in sched.columns if str(c).startswith("interruption_start_"))
    breaks = [
        (
            _utc_seconds(sched[f"interruption_start_{k}"]),
            _utc_seconds(sched[f"interruption_end_{k}"]),
        )
        for k in range(1, n_breaks + 1)
    ]
    out: list[LibrarySession] = []
    for i, n in enumerate(days.tolist()):
        o, c = int(opens[i]), int(closes[i])
        cuts = sorted((int(bs[i]), int(be[i])) for bs, be in breaks if bs[i] >= 0)
        segments: list[tuple[int, int]] = []
        for bs, be in cuts:
            segments.append((o, bs))
            o = be
        segments.append((o, c))
        if n in muhurat_days:
            label = "Muhurat"
        elif cuts:
            label = "interrupted"
        elif n in odd_hours_days:
            label = "special hours"
        else:
            label = ""
        out.append((n, tuple(segments), label))
    return out


def _segment_bars(segments: tuple[tuple[int, int], ...], step: int) -> Int64Array:
    if len(segments) == 1:
        o, c = segments[0]
        return np.arange(o, c, step, dtype=np.int64)
    return np.concatenate([np.arange(o, c, step, dtype=np.int64) for o, c in segments])


_CALENDARS: dict[tuple[bool, str, tuple[int, int] | None], NSECalendar] = {}
_CALENDARS_LOCK = threading.Lock()


def user_calendar_path() -> Path:
    """``nse_calendar.yaml`` in the data directory (``FYERSTRADE_DATA_DIR``, or the settings'
    default) of this process."""
    from fyerstrade.calendar_file import USER_CALENDAR_FILE

    data_dir = os.environ.get("FYERSTRADE_DATA_DIR")
    if data_dir:
        return Path(data_dir) / USER_CALENDAR_FILE
    return _default_data_dir(str(Path.cwd())) / USER_CALENDAR_FILE


@functools.lru_cache(maxsize=8)
def _default_data_dir(cwd: str) -> Path:
    from fyerstrade.config import load_settings

    return load_settings().data_dir


def get_calendar(*, assume_weekdays: bool = False, user_file: Path | None = None) -> NSECalendar:
    """The process-wide calendar for ``assume_weekdays`` and the user file (default:
    :func:`user_calendar_path`), built on first use and rebuilt when the file changes.

    A broken user file raises :class:`~fyerstrade.errors.ConfigError` naming it."""
    path = user_file if user_file is not None else user_calendar_path()
    try:
        st = path.stat()
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    key = (assume_weekdays, str(path) if stamp is not None else "", stamp)
    cal = _CALENDARS.get(key)
    if cal is None:
        with _CALENDARS_LOCK:
            cal = _CALENDARS.get(key)
            if cal is None:
                cal = NSECalendar(
                    assume_weekdays=assume_weekdays, user_file=path if stamp else None
                )
                _CALENDARS[key] = cal
    return cal


def warn_if_assumed(start: date, end: date, calendar: NSECalendar | None = None) -> str | None:
    """Log (once per range and process) and return the warning for a range that reaches a year
    without a published holiday list; None when there is nothing to say."""
    note = (calendar or get_calendar()).assumption_note(start, end)
    if note is not None and (start, end) not in _WARNED:
        _WARNED.add((start, end))
        log.warning("%s", note)
    return note


_WARNED: set[tuple[date, date]] = set()


def live_coverage_message(exc: CalendarCoverageError) -> str:
    """``exc`` said for live trading, which has no ``--assume-weekdays``: trading live on a
    guessed calendar would wait through a holiday as if the feed had died, so the year's real
    sessions are asked for."""
    if exc.year is None:
        return str(exc)
    from fyerstrade.calendar_file import USER_CALENDAR_FILE

    return (
        f"the NSE holiday list for {exc.year} is not published in the calendar library yet, and "
        f"live trading needs the real sessions: list the year's holidays in {USER_CALENDAR_FILE} "
        f"in the data directory (`fyerstrade calendar init {exc.year}` writes a template to fill "
        "in), then start again"
    )
