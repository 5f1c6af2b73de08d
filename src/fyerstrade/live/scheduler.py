"""The trading scheduler: runs the live engine once per NSE session, day after day.

``fyerstrade live start`` runs a :class:`TradingScheduler` in the engine process. For each
trading session the calendar knows (holidays skipped, Muhurat and weekend sessions included) it

1. writes status ``waiting`` (``next_start`` says when) and sleeps on the market clock until
   ``start_before_open`` minutes before the open;
2. checks the access token; a missing or expired one means status ``auth_failed`` with the
   message (how to log in), logged once, and no engine. It then watches the token file once a
   market minute: after a new login it checks again and runs the engine for what is left of the
   session; otherwise the session is skipped;
3. runs the engine until ``stop_after_close`` minutes after the close. An engine error sets
   status ``error`` (an unexpected one also logs its traceback); the session is over for the
   scheduler either way, it never restarts the engine in a loop;
4. once the session's window has ended, runs the tick archive (``live_ticks`` →
   ``historical_ticks``) and logs its report; a failed archive leaves the ticks in ``live_ticks``
   and says so in the status;
5. goes on to the next session.

A session is *today's* while its close is still ahead, so a scheduler started mid-session joins
it at once (the engine resumes from the databases). A date past the calendar's published holiday
lists ends the scheduler with status ``error`` naming the fix, instead of guessing or restarting.

Every wait honours the ``stop`` event within the clock's wake-up slice (half a wall second).
All times are market-clock epoch seconds (the simulator's clock when it is the server), except
the status file's ``started_at``/``updated_at``, which are wall time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from fyerstrade.calendar import (
    NSECalendar,
    Session,
    get_calendar,
    ist_date,
    live_coverage_message,
    to_ist,
)
from fyerstrade.config import Settings
from fyerstrade.errors import AuthError, CalendarCoverageError, FyersTradeError
from fyerstrade.live.clock import LiveClock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.status import EngineStatus, read_status, write_status

__all__ = ["TOKEN_POLL_SECONDS", "TradingScheduler"]

log = logging.getLogger("fyerstrade.live.scheduler")

# what the engine reports about its session, kept on show when the scheduler stops
_SESSION_FIGURES = (
    "session_id",
    "last_tick_ts",
    "ticks",
    "bars",
    "trades",
    "equity",
    "cash",
    "day_pnl",
    "positions",
    "tick_p99_ms",
    "strategy_p99_ms",
)

#: Market seconds between looks at the token file while a session waits for a new login.
TOKEN_POLL_SECONDS = 60

RunEngine = Callable[[int, threading.Event], None]
_StepResult = Literal["ok", "auth", "error"]
_FileStamp = tuple[int, int, int] | None


def _ist_text(ts: int) -> str:
    return to_ist(ts).strftime("%Y-%m-%d %H:%M IST")


def _token_stamp(path: Path) -> _FileStamp:
    """What changes when the token file is rewritten (a login), or None when there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class TradingScheduler:
    """Sleeps until shortly before each NSE session, checks the token, runs the engine through
    the session, archives the day's ticks, and repeats.

    ``run_engine(until, stop)``, ``archive()`` and ``check_token()`` default to the real engine,
    :func:`fyerstrade.data.archive.archive_ticks` and
    :func:`fyerstrade.fyers.tokens.load_valid_token`; they are parameters so the schedule can be
    exercised on a simulated clock. ``check_token`` raises :class:`AuthError` when trading is
    not possible; ``archive`` returns a report (its ``describe()`` or ``str()`` is logged).
    """

    def __init__(
        self,
        settings: Settings,
        config: LiveConfig,
        *,
        clock: LiveClock,
        calendar: NSECalendar | None = None,
        run_engine: RunEngine | None = None,
        archive: Callable[[], object] | None = None,
        check_token: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        self.calendar = calendar if calendar is not None else get_calendar()
        self._run_engine = run_engine if run_engine is not None else self._default_run_engine
        self._archive = archive if archive is not None else self._default_archive
        self._check_token = check_token if check_token is not None else self._default_check_token
        self._token_hints = check_token is None  # hints read the token file the check reads
        self._pid = os.getpid()
        previous = read_status(settings.live_status_file)
        # Keep the start time `live start` recorded for this process; else this is the start.
        self._started_at = (
            previous.started_at
            if previous is not None and previous.pid == self._pid and previous.started_at
            else time.time()
        )
        self._state = ""
        self._message = ""

    # ------------------------------------------------------------------ default wiring

    def _default_run_engine(self, until: int, stop: threading.Event) -> None:
        from fyerstrade.live.engine import run_engine  # the engine pulls in the SDK: load late

        run_engine(self.settings, self.config, self.clock, stop, until)

    def _default_archive(self) -> object:
        from fyerstrade.data.archive import archive_ticks

        return archive_ticks(self.settings)

    def _default_check_token(self) -> None:
        from fyerstrade.fyers.tokens import load_valid_token

        load_valid_token(self.settings, now=self.clock.now())

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event, *, sessions: int | None = None) -> None:
        """Handle sessions until ``stop`` is set or ``sessions`` sessions were handled (run, or
        skipped for a missing login). Returns within the clock's wake-up slice of ``stop``."""
        handled = 0
        last_day: date | None = None
        outcome = ""
        log.info(
            "scheduler started: %s on %s (%s)",
            self.config.strategy,
            ", ".join(self.config.symbols),
            f"up to {sessions} session(s)" if sessions is not None else "every session",
        )
        while not stop.is_set() and (sessions is None or handled < sessions):
            try:
                session = self.next_session(self.clock.now(), after=last_day)
            except CalendarCoverageError as exc:
                message = live_coverage_message(exc)
                self._set_state("error", f"scheduler stopped: {message}", level=logging.ERROR)
                return
            if self._wait_for_start(session, outcome, stop):
                break
            outcome = self._handle_session(session, stop)
            last_day = session.date
            handled += 1
        if stop.is_set():
            self._set_state("stopped", "stopped on request")
        else:
            done = f"handled {handled} session(s)"
            self._set_state("stopped", f"{done}; last: {outcome}" if outcome else done)

    def next_session(self, now: int, *, after: date | None = None) -> Session:
        """The session the scheduler serves next at market time ``now``: today's while its close
        is ahead, else the next trading day's; never one on or before ``after`` (the last session
        handled). Raises :class:`CalendarCoverageError` past the published holiday lists."""
        d = ist_date(now)
        if after is not None and d <= after:
            d = after + timedelta(days=1)
        while True:
            session = self.calendar.session(d)
            if session is not None and now < session.close_ts:
                return session
            d = self.calendar.next_trading_day(d)

    def window(self, session: Session) -> tuple[int, int]:
        """``(start, until)``: when the engine starts and when it is told to stop."""
        sched = self.config.schedule
        return (
            session.open_ts - sched.start_before_open * 60,
            session.close_ts + sched.stop_after_close * 60,
        )

    # ------------------------------------------------------------------ one session

    def _wait_for_start(self, session: Session, outcome: str, stop: threading.Event) -> bool:
        """Sleep until the session's start; True when stopped meanwhile."""
        start, _ = self.window(session)
        if self.clock.now() >= start:
            return stop.is_set()
        label = f" ({session.label})" if session.label else ""
        message = f"next session {session.date.isoformat()}{label}: starts {_ist_text(start)}"
        hint = self._login_hint(start)
        if hint:
            message = f"{message}; {hint}"
        if outcome:
            message = f"{message}; last session: {outcome}"
        self._set_state("waiting", message, session=session, next_start=start)
        return self.clock.wait_until(start, stop)

    def _login_hint(self, start: int) -> str:
        """What to do about the login before ``start``, when the stored token will not last
        (Fyers tokens expire every morning); empty when it will, or when the server (a
        simulator) or an injected check judges the token."""
        if not self._token_hints or self.settings.uses_simulator:
            return ""
        from fyerstrade.fyers.tokens import read_token

        try:
            record = read_token(self.settings.token_file)
        except AuthError as exc:
            return str(exc)
        if record is None:
            return "not logged in yet: run `fyerstrade auth login` before then"
        if record.expired(start):
            return (
                f"the stored token expires at {_ist_text(record.expires_at)}, before then: "
                "run `fyerstrade auth login` on the morning of the session"
            )
        return ""

    def _handle_session(self, session: Session, stop: threading.Event) -> str:
        """Check the token, run the engine, archive; return a one-line outcome for the status."""
        _, until = self.window(session)
        day = session.date.isoformat()
        outcome = self._trade(session, until, stop)
        if stop.is_set():
            return outcome
        # Archive only once the session is over: a restarted engine replays today's ticks.
        if self.clock.now() < until and self.clock.wait_until(until, stop):
            return outcome
        if self.config.schedule.archive:
            outcome = f"{outcome}; {self._run_archive(session)}"
        log.info("session %s done: %s", day, outcome)
        return outcome

    def _trade(self, session: Session, until: int, stop: threading.Event) -> str:
        """Check the token and run the engine for the session; after a failed login, run it
        only once the token file changes (a new login). The outcome line."""
        day = session.date.isoformat()
        stamp = _token_stamp(self.settings.token_file)
        result, message = self._guard(self._check_token, session, "token check")
        while True:
            if result == "ok":
                self._set_state("starting", f"session {day}: starting the engine", session=session)
                result, message = self._guard(
                    lambda: self._run_engine(until, stop), session, "engine"
                )
                if result == "ok":
                    return f"{day} traded"
            if result == "error":
                return f"{day}: {message}"
            # Not logged in (before or during the session): wait for the token file to change.
            stamp, changed = self._await_login(stamp, until, stop)
            if not changed:
                return f"{day} skipped: {message}"
            log.info("session %s: the token file changed, checking the login again", day)
            result, message = self._guard(self._check_token, session, "token check")

    def _guard(
        self, step: Callable[[], None], session: Session, what: str
    ) -> tuple[_StepResult, str]:
        """Run ``step``: ``("ok", "")``; on AuthError status ``auth_failed`` (written and logged
        only when it changes) and ``("auth", message)``; on any other error status ``error``
        (an unexpected one logs its traceback) and ``("error", message)``."""
        try:
            step()
            return "ok", ""
        except AuthError as exc:
            message = str(exc)
            if self._state != "auth_failed" or self._message != message:
                self._set_state("auth_failed", message, session=session, level=logging.WARNING)
            return "auth", message
        except FyersTradeError as exc:
            message = f"{what}: {exc}"
        except Exception as exc:  # one bad session must not end the schedule
            log.exception("%s failed unexpectedly in session %s", what, session.date.isoformat())
            message = (
                f"{what} failed unexpectedly: {type(exc).__name__}: {exc} (traceback in the log)"
            )
        self._set_state("error", message, session=session, level=logging.ERROR)
        return "error", message

    def _await_login(
        self, stamp: _FileStamp, until: int, stop: threading.Event
    ) -> tuple[_FileStamp, bool]:
        """Look at the token file once a market minute until it changes (True) or the session
        window ends or ``stop`` is set (False)."""
        while True:
            now = self.clock.now()
            if now >= until or stop.is_set():
                return stamp, False
            if self.clock.wait_until(min(now + TOKEN_POLL_SECONDS, until), stop):
                return stamp, False
            current = _token_stamp(self.settings.token_file)
            if current != stamp and current is not None:
                return current, True
            stamp = current

    def _run_archive(self, session: Session) -> str:
        """Archive the ticks; the outcome line (a failure keeps them in live_ticks)."""
        try:
            report = self._archive()
        except Exception as exc:  # nor may a failed archive
            if isinstance(exc, FyersTradeError):
                log.error("tick archive after session %s failed: %s", session.date, exc)
            else:
                log.exception("tick archive after session %s failed", session.date)
            return (
                f"archive failed ({exc}); the ticks stay in live_ticks, "
                "rerun `fyerstrade data archive`"
            )
        describe = getattr(report, "describe", None)
        text = str(describe()) if callable(describe) else str(report)
        log.info("tick archive after session %s: %s", session.date, text)
        return f"archive: {text}"

    # ------------------------------------------------------------------ status

    def _set_state(
        self,
        state: str,
        message: str,
        *,
        session: Session | None = None,
        next_start: int = 0,
        level: int = logging.INFO,
    ) -> None:
        """Write the status file and log the change as one line."""
        self._state, self._message = state, message
        status = EngineStatus(
            state=state,
            pid=self._pid,
            started_at=self._started_at,
            updated_at=time.time(),
            session_id=session.date.isoformat() if session is not None else "",
            strategy=self.config.strategy,
            symbols=list(self.config.symbols),
            market_time=self.clock.now(),
            next_start=next_start,
            message=message,
        )
        if session is None:
            # the scheduler's last word keeps the figures of the last session it ran
            last = read_status(self.settings.live_status_file)
            if last is not None and last.pid == self._pid and last.session_id:
                for name in _SESSION_FIGURES:
                    setattr(status, name, getattr(last, name))
        write_status(self.settings.live_status_file, status)
        log.log(level, "live %s: %s", state, message)
