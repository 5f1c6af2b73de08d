"""Your own NSE holidays and sessions in ``nse_calendar.yaml`` (issue 13.7): validated, shown by
``fyerstrade calendar show``, used by backtests and the scheduler on 2 January 2027 without a
library release; and the missing-holiday-list warning only for a range that reaches such a
year."""

from __future__ import annotations

import logging
import threading
from datetime import date
from pathlib import Path

import pytest

from fyerstrade import cli
from fyerstrade.calendar import NSECalendar, get_calendar, ist_date, user_calendar_path
from fyerstrade.calendar_file import template
from fyerstrade.config import Settings
from fyerstrade.data.bars import load_bars
from fyerstrade.domain import Resolution
from fyerstrade.errors import CalendarCoverageError, ConfigError
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.scheduler import TradingScheduler
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import open_historical
from plugins.dashboard import random_walk

FILE_2027 = """\
years: [2027]
holidays:
  - {date: 2027-01-26, name: Republic Day}
  - {date: 2027-03-22, name: Holi}
sessions:
  - {date: 2027-02-06, open: "09:15", close: "15:30", name: Saturday session}
  - {date: 2027-03-06, open: 09:15, close: 10:00, name: DR drill}
  - {date: 2027-03-06, open: "11:30", close: "12:30", name: DR drill}
"""


def _write(settings: Settings, text: str) -> Path:
    path = user_calendar_path()
    assert path == settings.data_dir / "nse_calendar.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_published_year_from_the_user_file(settings: Settings) -> None:
    with pytest.raises(CalendarCoverageError, match=r"calendar init 2027"):
        get_calendar().session(date(2027, 1, 4))
    _write(settings, FILE_2027)
    cal = get_calendar()
    assert cal.is_published(2027) and cal.coverage_end == date(2027, 12, 31)
    assert cal.is_trading_day(date(2027, 1, 4))
    assert not cal.is_trading_day(date(2027, 1, 26))  # the user's holiday
    assert cal.next_trading_day(date(2027, 1, 2)) == date(2027, 1, 4)  # Saturday 2 Jan 2027
    saturday = cal.session(date(2027, 2, 6))
    assert saturday is not None and saturday.special and saturday.label == "Saturday session"
    drill = cal.session(date(2027, 3, 6))
    assert drill is not None and len(drill.segments) == 2 and drill.minutes == 105
    assert cal.session(date(2027, 1, 5)) is not None and not cal.session(date(2027, 1, 5)).special  # type: ignore[union-attr]
    assert not cal.is_trading_day(date(2028, 1, 4)) if cal.is_published(2028) else True
    with pytest.raises(CalendarCoverageError):
        cal.session(date(2028, 1, 4))  # 2028 is still unpublished


def test_an_ad_hoc_holiday_in_a_library_year(settings: Settings) -> None:
    assert get_calendar().is_trading_day(date(2026, 12, 1))
    _write(settings, "holidays:\n  - {date: 2026-12-01, name: election}\n")
    assert not get_calendar().is_trading_day(date(2026, 12, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("holidayz: []\n", "unknown key 'holidayz' (did you mean 'holidays'?)"),
        ("holidays:\n  - {date: 2027-01-02}\nyears: [2027]\n", "2027-01-02 is a Saturday"),
        ("holidays:\n  - {date: 2027-01-26}\n", "2027 to years once its whole holiday list"),
        ("sessions:\n  - {date: 2027-02-06, open: '15:30', close: '09:15'}\nyears: [2027]\n",
         "closes at 09:15, not after its open 15:30"),
        ("sessions:\n  - {date: 2026-02-07, open: '09:15', close: '11:00'}\n"
         "  - {date: 2026-02-07, open: '10:00', close: '12:00'}\n", "overlap"),
        ("holidays:\n  - {date: 2026-12-01}\nsessions:\n"
         "  - {date: 2026-12-01, open: '09:15', close: '10:00'}\n", "both a holiday and a session"),
        ("holidays: [2026-13-01]\n", "a date is not a date (month must be in 1..12)"),
        ("years: [2027\n", "not valid YAML at line"),
    ],
)  # fmt: skip
def test_every_mistake_is_one_line_naming_the_file(
    settings: Settings, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = _write(settings, text)
    with pytest.raises(ConfigError, match=None) as err:
        get_calendar()
    assert message in str(err.value) and str(path) in str(err.value)
    assert cli.main(["calendar", "show", "2026"]) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and message in out.err


def test_calendar_init_and_show(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["calendar", "show", "2027"]) == 0
    assert "no published holiday list" in capsys.readouterr().out
    assert cli.main(["calendar", "init"]) == 0
    path = user_calendar_path()
    assert path.read_text() == template(2027)
    assert cli.main(["calendar", "init"]) == 2  # never overwritten
    capsys.readouterr()
    path.write_text(FILE_2027)
    assert cli.main(["calendar", "show", "2027"]) == 0
    out = capsys.readouterr().out
    assert "2027: published (your file)" in out
    assert "2027-01-26 Tue Republic Day  (your file)" in out
    assert "2027-03-06 Sat 09:15-10:00, 11:30-12:30 DR drill" in out
    assert cli.main(["calendar", "show", "2026"]) == 0
    out = capsys.readouterr().out
    assert "weekday holidays (16)" in out and "2026-11-08 Sun 18:00-19:00 Muhurat" in out


def test_the_scheduler_runs_on_2_january_2027_with_the_user_file(settings: Settings) -> None:
    from live.test_scheduler import JumpClock, Recorder, at

    _write(settings, FILE_2027)
    clock = JumpClock(at(date(2027, 1, 2), 10), settings.live_status_file)  # a Saturday
    rec = Recorder(clock)
    sched = TradingScheduler(
        settings, LiveConfig(), clock=clock, run_engine=rec.engine, archive=rec.archive,
        check_token=rec.check_token,
    )  # fmt: skip
    sched.run(threading.Event(), sessions=1)
    assert rec.of("engine") == [
        ("engine", at(date(2027, 1, 4), 9, 10), at(date(2027, 1, 4), 15, 35))
    ]


def test_backtests_run_into_2027_with_the_user_file(settings: Settings) -> None:
    _write(settings, FILE_2027)
    conn = open_historical(settings)
    try:
        ts = get_calendar().expected_bars(date(2026, 12, 28), date(2027, 1, 29), Resolution.M5)
        upsert_candles(conn, "NSE:SBIN-EQ", Resolution.M5, random_walk(ts, 3, 500.0))
        loaded = load_bars(conn, ["NSE:SBIN-EQ"], Resolution.M15, date(2026, 12, 28),
                           date(2027, 1, 29), today=date(2027, 2, 1))  # fmt: skip
    finally:
        conn.close()
    assert loaded.notes == [] and not loaded.outside
    stamps = {ist_date(int(t)) for t in loaded.bars["NSE:SBIN-EQ"].ts}
    assert date(2027, 1, 26) not in stamps and date(2027, 1, 4) in stamps


def test_the_holiday_warning_only_for_a_range_reaching_an_unpublished_year(
    settings: Settings,
) -> None:
    warning_records: list[logging.LogRecord] = []

    class Collect(logging.Handler):  # the fyerstrade logger may not propagate to caplog
        def emit(self, record: logging.LogRecord) -> None:
            warning_records.append(record)

    handler = Collect(level=logging.WARNING)
    logging.getLogger("fyerstrade.calendar").addHandler(handler)
    try:
        _quiet_years_then_a_warned_range(settings, warning_records)
    finally:
        logging.getLogger("fyerstrade.calendar").removeHandler(handler)


def _quiet_years_then_a_warned_range(
    settings: Settings, warning_records: list[logging.LogRecord]
) -> None:
    cal = NSECalendar(assume_weekdays=True)
    cal.next_trading_day(date(2026, 12, 31))  # building 2027 (expiries, the simulator)
    cal.session(date(2027, 6, 1))
    assert warning_records == []  # says nothing by itself
    assert cal.assumption_note(date(2026, 6, 1), date(2026, 12, 1)) is None
    note = cal.assumption_note(date(2026, 12, 1), date(2027, 1, 15))
    assert note is not None and "2027" in note and "calendar init 2027" in note
    _write(settings, FILE_2027)
    assert get_calendar().assumption_note(date(2026, 12, 1), date(2027, 1, 15)) is None


def test_yaml_is_read_only_when_there_is_a_file(tmp_path: Path) -> None:
    """Every backtest and fetch asks for the user calendar; without the file nothing imports
    the YAML parser (the start-up cost is paid only by those who have one)."""
    import subprocess
    import sys

    probe = (
        "import sys; from pathlib import Path; from fyerstrade.calendar import get_calendar; "
        "cal = get_calendar(user_file=Path(sys.argv[1])); cal.session(cal.library_end); "
        "print('yaml' in sys.modules)"
    )
    missing = tmp_path / "nse_calendar.yaml"
    run = [sys.executable, "-c", probe, str(missing)]
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip() == "False"
    missing.write_text("holidays: []\n", encoding="utf-8")
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip() == "True"
