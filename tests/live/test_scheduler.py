"""TradingScheduler on a simulated market clock: which sessions it serves (holidays, Muhurat, the
calendar's end), when the engine starts and stops, the token check, errors, archive, stop.

The clock is a test double of time: ``wait_until`` jumps to the target at once and records it.
The engine, archive and token check are recorders passed through the scheduler's injection
points; one test runs the real archive against real SQLite files, one the real token check, and
one the real system clock for the stop event."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from datetime import time as dtime
from pathlib import Path

from fyerstrade.calendar import NSECalendar, get_calendar, ist_epoch
from fyerstrade.config import Settings
from fyerstrade.errors import AuthError, BrokerError, StoreError
from fyerstrade.fyers.tokens import TokenRecord, save_token
from fyerstrade.live.clock import SystemClock
from fyerstrade.live.config import LiveConfig, Schedule
from fyerstrade.live.scheduler import TOKEN_POLL_SECONDS, TradingScheduler
from fyerstrade.live.status import EngineStatus, read_status
from fyerstrade.logs import setup_logging
from fyerstrade.store.db import open_historical, open_live
from fyerstrade.store.ticks import archived_tick_count, insert_live_ticks, live_tick_count

CAL = get_calendar()
EXPIRED = "the Fyers access token expired at 2026-11-23 06:00 IST; run `fyerstrade auth login`"


def at(d: date, hh: int, mm: int = 0) -> int:
    return ist_epoch(d, dtime(hh, mm))


class JumpClock:
    """LiveClock whose waits return at once with the time moved to their target; it records
    every wait, the state of the status file when the wait began, and runs ``on_wait`` hooks."""

    speed = 1.0

    def __init__(self, start: int, status_file: Path) -> None:
        self.t = float(start)
        self.status_file = status_file
        self.waits: list[tuple[int, EngineStatus | None]] = []
        self.on_wait: Callable[[int], None] | None = None

    def now(self) -> int:
        return int(self.t)

    def now_float(self) -> float:
        return self.t

    def wait_until(self, ts: float, stop: threading.Event) -> bool:
        self.waits.append((int(ts), read_status(self.status_file)))
        if stop.is_set():
            return True
        if self.on_wait is not None:
            self.on_wait(int(ts))
        self.t = max(self.t, float(ts))
        return stop.is_set()

    def states(self) -> list[str]:
        return [s.state for _, s in self.waits if s is not None]


@dataclass
class Recorder:
    """Records the scheduler's calls in order: ("token", now), ("engine", now, until),
    ("archive", now). The engine 'runs' until ``until`` on the clock, or raises the next of
    ``engine_errors``; the token check raises the next of ``token_errors``."""

    clock: JumpClock
    engine_errors: list[BaseException | None] = field(default_factory=list)
    token_errors: list[BaseException | None] = field(default_factory=list)
    archive_error: BaseException | None = None
    calls: list[tuple[object, ...]] = field(default_factory=list)

    def engine(self, until: int, stop: threading.Event) -> None:
        self.calls.append(("engine", self.clock.now(), until))
        err = self.engine_errors.pop(0) if self.engine_errors else None
        if err is not None:
            raise err
        self.clock.wait_until(until, stop)

    def archive(self) -> str:
        self.calls.append(("archive", self.clock.now()))
        if self.archive_error is not None:
            raise self.archive_error
        return "moved 0 ticks"

    def check_token(self) -> None:
        self.calls.append(("token", self.clock.now()))
        err = self.token_errors.pop(0) if self.token_errors else None
        if err is not None:
            raise err

    def of(self, kind: str) -> list[tuple[object, ...]]:
        return [c for c in self.calls if c[0] == kind]


def make(
    settings: Settings,
    start: int,
    *,
    config: LiveConfig | None = None,
    calendar: NSECalendar | None = None,
) -> tuple[TradingScheduler, JumpClock, Recorder]:
    clock = JumpClock(start, settings.live_status_file)
    rec = Recorder(clock)
    sched = TradingScheduler(
        settings,
        config or LiveConfig(),
        clock=clock,
        calendar=calendar or CAL,
        run_engine=rec.engine,
        archive=rec.archive,
        check_token=rec.check_token,
    )
    return sched, clock, rec


def test_holiday_runs_nothing_and_waits_for_the_next_trading_day(settings: Settings) -> None:
    # Tue 2026-11-24 is an NSE holiday (Guru Nanak Jayanti); Wed 2026-11-25 trades.
    holiday, next_day = date(2026, 11, 24), date(2026, 11, 25)
    assert CAL.session(holiday) is None
    sched, clock, rec = make(settings, at(holiday, 8))
    sched.run(threading.Event(), sessions=1)

    start = at(next_day, 9, 10)  # 5 minutes before the 09:15 open
    assert clock.waits[0][0] == start
    waiting = clock.waits[0][1]
    assert waiting is not None and waiting.state == "waiting"
    assert waiting.next_start == start and waiting.session_id == "2026-11-25"
    assert "2026-11-25 09:10 IST" in waiting.message
    assert rec.calls == [
        ("token", start),
        ("engine", start, at(next_day, 15, 35)),
        ("archive", at(next_day, 15, 35)),
    ]
    final = read_status(settings.live_status_file)
    assert final is not None and final.state == "stopped"


def test_starts_before_open_stops_after_close_then_archives(settings: Settings) -> None:
    day = date(2026, 11, 23)  # a Monday
    cfg = LiveConfig(schedule=Schedule(start_before_open=20, stop_after_close=12))
    sched, _, rec = make(settings, at(day, 6), config=cfg)
    sched.run(threading.Event(), sessions=1)
    assert rec.calls == [
        ("token", at(day, 8, 55)),
        ("engine", at(day, 8, 55), at(day, 15, 42)),
        ("archive", at(day, 15, 42)),
    ]


def test_no_archive_when_the_schedule_says_so(settings: Settings) -> None:
    day = date(2026, 11, 23)
    cfg = LiveConfig(schedule=Schedule(archive=False))
    sched, _, rec = make(settings, at(day, 6), config=cfg)
    sched.run(threading.Event(), sessions=1)
    assert [c[0] for c in rec.calls] == ["token", "engine"]


def test_every_status_carries_pid_start_and_strategy(settings: Settings) -> None:
    import os

    day = date(2026, 11, 23)
    cfg = LiveConfig(symbols=["NSE:SBIN-EQ", "NSE:INFY-EQ"])
    sched, clock, _ = make(settings, at(day, 6), config=cfg)
    sched.run(threading.Event(), sessions=2)
    snapshots = [s for _, s in clock.waits if s is not None]
    assert {s.state for s in snapshots} >= {"waiting", "starting"}
    for s in snapshots:
        assert s.pid == os.getpid()
        assert s.started_at > 0 and s.updated_at >= s.started_at
        assert s.strategy == "sma_crossover"
        assert s.symbols == ["NSE:SBIN-EQ", "NSE:INFY-EQ"]
    second_wait = [s for s in snapshots if s.state == "waiting"][1]
    assert second_wait.session_id == "2026-11-25"  # the 24th is a holiday
    assert "last session: 2026-11-23 traded; archive: moved 0 ticks" in second_wait.message


def test_joins_a_session_already_under_way_and_skips_one_that_closed(settings: Settings) -> None:
    day = date(2026, 11, 23)
    sched, _, rec = make(settings, at(day, 11, 7))
    sched.run(threading.Event(), sessions=1)
    assert rec.of("engine") == [("engine", at(day, 11, 7), at(day, 15, 35))]

    # After the close today's session is over; Tuesday is a holiday, so Wednesday's is next.
    sched, _, rec = make(settings, at(day, 15, 31))
    sched.run(threading.Event(), sessions=1)
    wed = date(2026, 11, 25)
    assert rec.of("engine") == [("engine", at(wed, 9, 10), at(wed, 15, 35))]


def test_muhurat_sunday_session_and_the_diwali_holiday(settings: Settings) -> None:
    # 2026-11-08 (Sunday) has the Muhurat session 18:00-19:00; Mon 11-09 trades; Tue 11-10 is
    # a holiday; Wed 11-11 trades.
    sat = date(2026, 11, 7)
    sched, _, rec = make(settings, at(sat, 12))
    sched.run(threading.Event(), sessions=3)
    assert rec.of("engine") == [
        ("engine", at(date(2026, 11, 8), 17, 55), at(date(2026, 11, 8), 19, 5)),
        ("engine", at(date(2026, 11, 9), 9, 10), at(date(2026, 11, 9), 15, 35)),
        ("engine", at(date(2026, 11, 11), 9, 10), at(date(2026, 11, 11), 15, 35)),
    ]


def test_expired_token_no_engine_no_retry_and_the_next_session_runs(settings: Settings) -> None:
    setup_logging(settings.log_dir, console=False)
    day, next_day = date(2026, 11, 23), date(2026, 11, 25)
    sched, clock, rec = make(settings, at(day, 6))
    rec.token_errors = [AuthError(EXPIRED)]
    sched.run(threading.Event(), sessions=2)

    assert rec.of("token") == [("token", at(day, 9, 10)), ("token", at(next_day, 9, 10))]
    assert rec.of("engine") == [("engine", at(next_day, 9, 10), at(next_day, 15, 35))]
    # While the session lasts it watches the token file once a market minute, quietly.
    polls = [ts for ts, s in clock.waits if s is not None and s.state == "auth_failed"]
    assert len(polls) == (at(day, 15, 35) - at(day, 9, 10)) // TOKEN_POLL_SECONDS
    skipped = next(s for _, s in clock.waits if s is not None and s.state == "auth_failed")
    assert skipped.message == EXPIRED and skipped.session_id == "2026-11-23"
    waiting = [s for _, s in clock.waits if s is not None and s.state == "waiting"][1]
    assert f"last session: 2026-11-23 skipped: {EXPIRED}" in waiting.message
    log_text = (settings.log_dir / "fyerstrade.log").read_text(encoding="utf-8")
    assert log_text.count(f"live auth_failed: {EXPIRED}") == 1  # once, not once a minute


def test_a_new_login_during_the_session_starts_the_engine(settings: Settings) -> None:
    day = date(2026, 11, 23)
    sched, clock, rec = make(settings, at(day, 6))
    rec.token_errors = [AuthError(EXPIRED)]
    login_at = at(day, 10, 30)

    def login(ts: int) -> None:
        if ts >= login_at and not settings.token_file.exists():
            settings.token_file.parent.mkdir(parents=True, exist_ok=True)
            settings.token_file.write_text("{}", encoding="utf-8")

    clock.on_wait = login
    sched.run(threading.Event(), sessions=1)
    assert rec.of("token") == [("token", at(day, 9, 10)), ("token", login_at)]
    assert rec.of("engine") == [("engine", login_at, at(day, 15, 35))]


def test_default_token_check_without_a_login_says_how_to_log_in(settings: Settings) -> None:
    day = date(2026, 11, 23)
    clock = JumpClock(at(day, 6), settings.live_status_file)
    engine_calls: list[int] = []
    sched = TradingScheduler(
        settings,
        LiveConfig(),
        clock=clock,
        calendar=CAL,
        run_engine=lambda until, stop: engine_calls.append(until),
        archive=lambda: "nothing",
    )
    sched.run(threading.Event(), sessions=1)
    assert engine_calls == []
    failed = next(s for _, s in clock.waits if s is not None and s.state == "auth_failed")
    assert "not logged in" in failed.message and "fyerstrade auth login" in failed.message


def test_waiting_says_to_log_in_when_the_stored_token_will_not_last(settings: Settings) -> None:
    day = date(2026, 11, 23)
    engine_calls: list[int] = []

    def scheduler(clock: JumpClock) -> TradingScheduler:
        return TradingScheduler(
            settings,
            LiveConfig(),
            clock=clock,
            calendar=CAL,
            run_engine=lambda until, stop: engine_calls.append(until),
            archive=lambda: "nothing",
        )

    # A token from Friday's login expired on Saturday morning: waiting says so before Monday.
    stale = TokenRecord("a.b.c", "APP-100", at(date(2026, 11, 20), 8), at(date(2026, 11, 21), 6))
    save_token(settings.token_file, stale)
    clock = JumpClock(at(date(2026, 11, 22), 12), settings.live_status_file)
    scheduler(clock).run(threading.Event(), sessions=1)
    waiting = clock.waits[0][1]
    assert waiting is not None and waiting.state == "waiting"
    assert "the stored token expires at 2026-11-21 06:00 IST, before then" in waiting.message
    assert engine_calls == []

    # Logged in on Monday morning: no hint, and the real check lets the engine run.
    fresh = TokenRecord("a.b.c", "APP-100", at(day, 8), at(date(2026, 11, 24), 6))
    save_token(settings.token_file, fresh)
    clock = JumpClock(at(day, 8, 30), settings.live_status_file)
    scheduler(clock).run(threading.Event(), sessions=1)
    waiting = clock.waits[0][1]
    assert waiting is not None and waiting.state == "waiting"
    assert "token" not in waiting.message and "log" not in waiting.message
    assert engine_calls == [at(day, 15, 35)]


def test_engine_auth_error_mid_session_is_not_retried(settings: Settings) -> None:
    day, next_day = date(2026, 11, 23), date(2026, 11, 25)
    sched, clock, rec = make(settings, at(day, 6))
    rec.engine_errors = [AuthError("the server rejected the token; run `fyerstrade auth login`")]
    sched.run(threading.Event(), sessions=2)
    assert [c[1] for c in rec.of("engine")] == [at(day, 9, 10), at(next_day, 9, 10)]
    assert "auth_failed" in clock.states()


def test_engine_errors_end_the_session_and_the_next_one_still_runs(settings: Settings) -> None:
    setup_logging(settings.log_dir, console=False)
    days = [date(2026, 11, 23), date(2026, 11, 25), date(2026, 11, 26)]
    sched, clock, rec = make(settings, at(days[0], 6))
    rec.engine_errors = [BrokerError("order rejected: margin"), RuntimeError("boom in the engine")]
    sched.run(threading.Event(), sessions=3)

    assert [c[1] for c in rec.of("engine")] == [at(d, 9, 10) for d in days]
    # each session's archive still runs once its window is over
    assert [c[1] for c in rec.of("archive")] == [at(d, 15, 35) for d in days]
    errors = [s for _, s in clock.waits if s is not None and s.state == "error"]
    assert errors[0].message == "engine: order rejected: margin"
    assert any("RuntimeError: boom in the engine" in s.message for s in errors)
    log_text = (settings.log_dir / "fyerstrade.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log_text
    assert "raise err\nRuntimeError: boom in the engine" in log_text


def test_archive_failure_is_shown_and_the_schedule_goes_on(settings: Settings) -> None:
    sched, clock, rec = make(settings, at(date(2026, 11, 23), 6))
    rec.archive_error = StoreError("historical_market_data.sqlite is not a SQLite database")
    sched.run(threading.Event(), sessions=2)
    assert len(rec.of("engine")) == 2
    waiting = [s for _, s in clock.waits if s is not None and s.state == "waiting"][1]
    assert "archive failed (historical_market_data.sqlite is not a SQLite" in waiting.message
    assert "rerun `fyerstrade data archive`" in waiting.message


def test_past_the_calendar_it_stops_with_a_clear_status(settings: Settings) -> None:
    sched, _, rec = make(settings, at(date(2026, 12, 31), 16))
    sched.run(threading.Event())  # no session limit: it must return by itself
    assert rec.calls == []
    status = read_status(settings.live_status_file)
    assert status is not None and status.state == "error"
    assert status.message.startswith("scheduler stopped: the NSE holiday list for 2027")
    # what to do, for live trading: the year's real sessions (no --assume-weekdays there)
    assert "`fyerstrade calendar init 2027`" in status.message
    assert "--assume-weekdays" not in status.message


def test_assume_weekdays_calendar_goes_on_into_the_next_year(settings: Settings) -> None:
    cal = NSECalendar(assume_weekdays=True)
    sched, _, rec = make(settings, at(date(2026, 12, 31), 16), calendar=cal)
    sched.run(threading.Event(), sessions=1)
    assert rec.of("engine") == [
        ("engine", at(date(2027, 1, 1), 9, 10), at(date(2027, 1, 1), 15, 35))
    ]


def test_stop_during_the_engine_skips_the_archive(settings: Settings) -> None:
    day = date(2026, 11, 23)
    calls: list[str] = []

    def engine(until: int, stop: threading.Event) -> None:
        calls.append("engine")
        stop.set()  # `live stop` while trading: the engine returns, nothing else runs

    sched = TradingScheduler(
        settings,
        LiveConfig(),
        clock=JumpClock(at(day, 6), settings.live_status_file),
        calendar=CAL,
        run_engine=engine,
        archive=lambda: calls.append("archive"),
        check_token=lambda: calls.append("token"),
    )
    sched.run(threading.Event())
    assert calls == ["token", "engine"]
    status = read_status(settings.live_status_file)
    assert status is not None and status.state == "stopped"
    assert status.message == "stopped on request"


class _SaturdayClock(SystemClock):
    """The real system clock shifted to a Saturday noon IST (no session for a day and a half)."""

    def __init__(self) -> None:
        self.offset = at(date(2026, 11, 28), 12) - time.time()

    def now_float(self) -> float:
        return time.time() + self.offset

    def now(self) -> int:
        return int(self.now_float())


def test_stop_ends_a_long_wait_promptly(settings: Settings) -> None:
    calls: list[str] = []
    sched = TradingScheduler(
        settings,
        LiveConfig(),
        clock=_SaturdayClock(),
        calendar=CAL,
        run_engine=lambda until, stop: calls.append("engine"),
        archive=lambda: calls.append("archive"),
        check_token=lambda: calls.append("token"),
    )
    stop = threading.Event()
    worker = threading.Thread(target=sched.run, args=(stop,), daemon=True)
    worker.start()
    deadline = time.monotonic() + 10
    while (s := read_status(settings.live_status_file)) is None or s.state != "waiting":
        assert time.monotonic() < deadline, "the scheduler never reached 'waiting'"
        stop.wait(0.01)
    assert s.next_start == at(date(2026, 11, 30), 9, 10)
    t0 = time.monotonic()
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - t0 < 3.0  # the clock wakes every half second, not on Monday
    assert calls == []
    final = read_status(settings.live_status_file)
    assert final is not None and final.state == "stopped"


def test_the_real_archive_moves_the_days_ticks_to_the_historical_store(
    settings: Settings,
) -> None:
    day = date(2026, 11, 23)
    t0 = at(day, 9, 15)
    rows = [
        (sym, t0 + i, 100.0 + i / 10, 10 * i, 99.95, 100.05, 5, 6, 1, t0 + i + 0.2)
        for i in range(50)
        for sym in ("NSE:SBIN-EQ", "NSE:INFY-EQ")
    ]
    live = open_live(settings)
    insert_live_ticks(live, rows)
    live.close()

    clock = JumpClock(at(day, 6), settings.live_status_file)
    sched = TradingScheduler(
        settings,
        LiveConfig(),
        clock=clock,
        calendar=CAL,
        run_engine=lambda until, stop: None,
        check_token=lambda: None,
    )
    sched.run(threading.Event(), sessions=1)

    live = open_live(settings)
    hist = open_historical(settings)
    try:
        assert live_tick_count(live) == 0
        assert archived_tick_count(hist) == 100
    finally:
        live.close()
        hist.close()
    final = read_status(settings.live_status_file)
    assert final is not None and "archive: moved 100 ticks" in final.message


def test_the_final_status_keeps_the_last_sessions_figures(settings: Settings) -> None:
    import os

    from fyerstrade.live.status import write_status

    day = date(2026, 11, 23)
    clock = JumpClock(at(day, 6), settings.live_status_file)
    rec = Recorder(clock)

    def engine(until: int, stop: threading.Event) -> None:
        rec.engine(until, stop)
        write_status(  # what the engine's last status says
            settings.live_status_file,
            EngineStatus(
                state="stopped",
                pid=os.getpid(),
                session_id=day.isoformat(),
                ticks=98_765,
                bars=750,
                trades=12,
                equity=1_000_250.0,
                day_pnl=250.0,
                tick_p99_ms=0.8,
            ),
        )

    sched = TradingScheduler(
        settings,
        LiveConfig(),
        clock=clock,
        calendar=CAL,
        run_engine=engine,
        archive=rec.archive,
        check_token=rec.check_token,
    )
    sched.run(threading.Event(), sessions=1)
    final = read_status(settings.live_status_file)
    assert final is not None and final.state == "stopped"
    assert "handled 1 session(s)" in final.message
    assert (final.session_id, final.ticks, final.bars, final.trades) == (
        day.isoformat(),
        98_765,
        750,
        12,
    )
    assert (final.day_pnl, final.equity, final.tick_p99_ms) == (250.0, 1_000_250.0, 0.8)
