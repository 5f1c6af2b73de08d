"""Your own NSE holidays and special sessions: ``nse_calendar.yaml`` in the data directory.

NSE publishes each year's holiday list in mid-December and the calendar library follows weeks
later. Until it does, write the list here and the scheduler, backtests and fetches use it at
once (``fyerstrade calendar init`` writes a commented template; ``fyerstrade calendar show``
prints the calendar with this file applied). Example::

    years: [2027]                  # years whose holiday list below is complete: they count as
                                   # published (every other weekday is a 09:15-15:30 session)
    holidays:                      # full-day weekday closures (in any year: ad hoc ones too)
      - {date: 2027-01-26, name: Republic Day}
    sessions:                      # special sessions (weekend, Muhurat, DR drill); one row per
      - {date: 2027-02-01, open: "09:15", close: "15:30", name: Budget}   # segment of a day

Every mistake is one :class:`~fyerstrade.errors.ConfigError` line naming the file and the entry:
an unknown key, a date that is not a date, a weekend "holiday", a session that ends before it
starts or overlaps another segment of its day, a date that is both a holiday and a session, a
holiday in a year not listed under ``years`` after the library's last year (the year would still
count as unpublished).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fyerstrade.errors import ConfigError

__all__ = ["USER_CALENDAR_FILE", "UserCalendar", "load_user_calendar", "template"]

#: your own holidays and special sessions, in the data directory
USER_CALENDAR_FILE = "nse_calendar.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HolidayRow(_Strict):
    date: date
    name: str = ""


class SessionRow(_Strict):
    date: date
    open: time
    close: time
    name: str = "special session"

    @field_validator("open", "close", mode="before")
    @classmethod
    def _clock(cls, v: Any) -> Any:
        if isinstance(v, int):  # YAML reads 09:15 unquoted as 555 (sexagesimal minutes)
            return time(v // 60, v % 60)
        return v


class CalendarFile(_Strict):
    years: list[int] = Field(default_factory=list)
    holidays: list[HolidayRow] = Field(default_factory=list)
    sessions: list[SessionRow] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UserCalendar:
    """The validated file: published years, holidays, and special sessions by date."""

    path: Path
    years: frozenset[int]
    holidays: dict[date, str]
    sessions: dict[date, tuple[tuple[tuple[time, time], ...], str]]

    def for_year(self, year: int) -> tuple[dict[date, str], dict[date, Any]]:
        return (
            {d: n for d, n in self.holidays.items() if d.year == year},
            {d: s for d, s in self.sessions.items() if d.year == year},
        )


def _problem(path: Path, exc: ValidationError) -> ConfigError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    if err.get("type") == "extra_forbidden":
        key = str(err["loc"][-1])
        known = {"years", "holidays", "sessions", "date", "name", "open", "close"}
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return ConfigError(f"{path}: unknown key '{loc}'{hint}")
    return ConfigError(f"{path}: {loc}: {err.get('msg', 'invalid')}")


def _check(path: Path, data: CalendarFile, last_library_year: int) -> UserCalendar:
    years = frozenset(data.years)
    holidays: dict[date, str] = {}
    for h in data.holidays:
        if h.date.weekday() >= 5:
            raise ConfigError(
                f"{path}: holiday {h.date} is a {h.date:%A}; weekends are closed anyway — list "
                "weekday closures only (a weekend session goes under sessions)"
            )
        if h.date.year > last_library_year and h.date.year not in years:
            raise ConfigError(
                f"{path}: holiday {h.date} is in {h.date.year}, which is not under years; add "
                f"{h.date.year} to years once its whole holiday list is here"
            )
        holidays[h.date] = h.name
    by_day: dict[date, list[SessionRow]] = {}
    for s in data.sessions:
        if s.close <= s.open:
            raise ConfigError(
                f"{path}: session {s.date} closes at {s.close:%H:%M}, not after its open "
                f"{s.open:%H:%M}"
            )
        if s.date in holidays:
            raise ConfigError(f"{path}: {s.date} is both a holiday and a session; keep one")
        by_day.setdefault(s.date, []).append(s)
    sessions: dict[date, tuple[tuple[tuple[time, time], ...], str]] = {}
    for d, rows in by_day.items():
        rows.sort(key=lambda r: r.open)
        for a, b in pairwise(rows):
            if b.open < a.close:
                raise ConfigError(
                    f"{path}: sessions of {d} overlap ({a.open:%H:%M}-{a.close:%H:%M} and "
                    f"{b.open:%H:%M}-{b.close:%H:%M})"
                )
        sessions[d] = (tuple((r.open, r.close) for r in rows), rows[0].name)
    return UserCalendar(path, years, holidays, sessions)


def load_user_calendar(path: Path, last_library_year: int) -> UserCalendar | None:
    """The validated file at ``path``, or ``None`` when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    import yaml  # only with a file to read: every backtest and fetch asks, few have one

    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    except ValueError as exc:  # YAML's own date parsing: 2026-13-01
        raise ConfigError(f"{path}: a date is not a date ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected keys years, holidays, sessions at the top")
    try:
        data = CalendarFile.model_validate(raw)
    except ValidationError as exc:
        raise _problem(path, exc) from None
    return _check(path, data, last_library_year)


def template(year: int, known: Iterable[date] = ()) -> str:
    """A commented file for ``year`` (what ``fyerstrade calendar init`` writes)."""
    listed = "".join(f"  - {{date: {d.isoformat()}, name: holiday}}\n" for d in known)
    return (
        "# NSE holidays and special sessions the calendar library does not know yet.\n"
        "# fyerstrade reads this file from the data directory on every run;\n"
        "# `fyerstrade calendar show` prints the calendar with it applied.\n"
        "#\n"
        "# years: the years whose holiday list below is complete. They count as published:\n"
        "#   every weekday is a 09:15-15:30 session except the holidays listed.\n"
        f"years: [{year}]\n"
        "# holidays: full-day weekday closures (NSE circular of mid-December; ad hoc ones too).\n"
        "holidays:\n"
        + (listed or f"  # - {{date: {year}-01-26, name: Republic Day}}\n")
        + "# sessions: special sessions, one row per segment (a DR drill has two).\n"
        "sessions: []\n"
        f'  # - {{date: {year}-02-01, open: "09:15", close: "15:30", name: Budget}}\n'
    )
