"""One pacer for every Fyers REST call from every process of a data directory, and the daily
request budget.

Fyers allows 10 requests/s, 200/min and 100,000/day, shared by all REST endpoints; a user who
breaks the per-minute limit more than three times in a day is blocked for the rest of the day.
:class:`RateLimiter` therefore keeps a margin (9/s, 180/min by default) using *sliding* windows:
no 1-second or 60-second interval ever holds more than the cap, so no fixed server-side window
can either. A request sent through :meth:`RateLimiter.request` counts until its answer is back
(plus the window), so requests delayed on the way and delivered together cannot overfill the
server's window either (under load they did, and earned a 429). The fetcher also spaces
request starts evenly, so one request of margin per second is enough; the per-minute margin
(the limit whose breach blocks the account) stays at 10%.

**Across processes.** The dashboard's fetch, ``data fetch`` in a terminal and the live engine's
backfill are separate processes using one Fyers account. With a ``budget_file`` (what
:func:`get_rate_limiter` gives every client of a data directory) the windows, the requests in
flight, a 429 pause and the day's count live in that file, read and rewritten under an exclusive
``flock`` of ``<file>.lock`` for every request, so all processes of the data directory share one
pacer and one exact daily count. The file is replaced atomically (a temporary file renamed over
it, removed again if the disk is full); window times are ``CLOCK_MONOTONIC``, which all processes
of one boot share (a new boot id discards them); a request in flight from a process that died is
forgotten. Without a file the limiter is per process (tests, benchmarks).

A 429 from the server (:meth:`RateLimiter.penalize`) pauses every caller, not only the one that
got it. The daily count is kept per IST date and survives restarts.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import itertools
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fyerstrade.config import Settings
from fyerstrade.errors import RateLimitError

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
BUDGET_FILE = "fyers_request_budget.json"
PER_SECOND = 9
PER_MINUTE = 180
DAILY_BUDGET = 100_000
_IN_FLIGHT_WAIT = 1.0  # longest wait for an answer to free a place (in-process: notified at once)
_SHARED_POLL = 0.02  # another process may free a place at any time: look again this often
_STALE_IN_FLIGHT = 120.0  # a request "in flight" longer than this was lost with its process
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def ist_date(epoch: float) -> str:
    """The IST calendar date (``YYYY-MM-DD``) of an epoch instant."""
    return datetime.fromtimestamp(epoch, IST).date().isoformat()


def seconds_to_ist_midnight(epoch: float) -> float:
    """Seconds from ``epoch`` to the next 00:00 IST (when the daily budget resets)."""
    now = datetime.fromtimestamp(epoch, IST)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), IST)
    return midnight.timestamp() - epoch


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(slots=True)
class _Budget:
    """What the pacer knows: the windows, requests in flight, a 429 pause and today's count."""

    day: str
    count: int = 0
    sent: list[float] = field(default_factory=list)  # stamps counted in the windows, oldest first
    in_flight: dict[str, float] = field(default_factory=dict)  # "pid:n" -> sent at
    penalty_until: float = 0.0

    def to_json(self, boot: str) -> str:
        return json.dumps(
            {
                "date": self.day,
                "count": self.count,
                "boot": boot,
                "sent": self.sent,
                "in_flight": self.in_flight,
                "penalty_until": self.penalty_until,
            }
        )

    @classmethod
    def from_json(cls, data: dict[str, Any], boot: str, today: str) -> _Budget:
        day, count = str(data["date"]), int(data["count"])
        budget = cls(day=day, count=count) if day == today else cls(day=today)
        if data.get("boot") == boot:  # monotonic stamps are only comparable within one boot
            budget.sent = [float(t) for t in data.get("sent", [])]
            budget.in_flight = {str(k): float(v) for k, v in data.get("in_flight", {}).items()}
            budget.penalty_until = float(data.get("penalty_until", 0.0))
        return budget


class _SharedFile:
    """The budget in a file, changed only under an exclusive ``flock`` of ``<file>.lock``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.boot = _boot_id()
        self._fd: int | None = None
        self._warned = False

    def _lock_fd(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        try:
            fd = self._lock_fd()
        except OSError as exc:  # cannot even create the lock: pace alone (and say so once)
            self._warn(f"cannot use {self.lock_path}: {exc.strerror}")
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def load(self, today: str) -> _Budget:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return _Budget.from_json(data, self.boot, today)
        except FileNotFoundError:
            return _Budget(day=today)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring unreadable Fyers request budget file %s", self.path)
            return _Budget(day=today)

    def save(self, budget: _Budget) -> bool:
        """Replace the file atomically; a failed write (full disk) leaves no temporary file and
        returns False."""
        tmp: Path | None = None
        try:
            fd, name = tempfile.mkstemp(prefix=".budget-", dir=self.path.parent)
            tmp = Path(name)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(budget.to_json(self.boot))
            tmp.replace(self.path)
            tmp = None
            return True
        except OSError as exc:  # the budget is a safeguard; pacing goes on in this process
            self._warn(f"could not save the Fyers request budget to {self.path}: {exc.strerror}")
            return False
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def _warn(self, message: str) -> None:
        # the log file only: what the user must know (a full disk) the command's error says
        if not self._warned:
            self._warned = True
            log.warning("%s", message, extra={"console": False})

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


class RateLimiter:
    """Thread- and process-safe pacer: :meth:`request` blocks until one more request fits every
    window, then counts it.

    ``monotonic``/``sleep_until`` are injectable so tests and benchmarks can observe the pacing;
    ``wall`` gives the wall-clock epoch used for the IST date of the daily budget. With a
    ``budget_file`` the state is shared by every process using that file (see the module).
    """

    def __init__(
        self,
        *,
        per_second: int = PER_SECOND,
        per_minute: int = PER_MINUTE,
        daily_budget: int = DAILY_BUDGET,
        budget_file: Path | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if per_second < 1 or per_minute < 1 or daily_budget < 1:
            raise ValueError("rate limits must be positive")
        self.per_second = per_second
        self.per_minute = per_minute
        self.daily_budget = daily_budget
        self.budget_file = budget_file
        self._monotonic = monotonic
        self._wall = wall
        self._cond = threading.Condition()
        self._file = _SharedFile(budget_file) if budget_file is not None else None
        self._budget = _Budget(day=ist_date(wall()))
        self._unsaved = False
        self._ids = itertools.count()
        self.waited_seconds = 0.0  # total time callers spent blocked (for benchmarks)

    # ---- the state, in memory or in the shared file -------------------------------------------
    @contextlib.contextmanager
    def _state(self, *, write: bool = True) -> Iterator[_Budget]:
        """The budget, under this process's lock and (shared) the file lock; saved after."""
        if self._file is None:
            self._roll_day(self._budget)
            yield self._budget
            return
        with self._file.locked():
            # After a failed save (full disk) the file is behind this process: keep ours.
            budget = self._budget if self._unsaved else self._file.load(ist_date(self._wall()))
            self._roll_day(budget)
            self._budget = budget
            yield budget
            if write:
                self._unsaved = not self._file.save(budget)

    def _roll_day(self, budget: _Budget) -> None:
        today = ist_date(self._wall())
        if today != budget.day:
            budget.day, budget.count = today, 0

    # ---- pacing ------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Block until a request may be sent, then count it. Raises :class:`RateLimitError` when
        today's budget is used up (``retry_after`` = seconds until 00:00 IST)."""
        self._pace(None)

    def _pace(self, key: str | None) -> None:
        """Wait for a slot and take it: counted today, then sent now (``key`` None) or in
        flight under ``key`` until :meth:`request` says it came back."""
        start = self._monotonic()
        with self._cond:
            while True:
                with self._state() as budget:
                    self._check_budget(budget)
                    now = self._monotonic()
                    wait = self._wait_needed(budget, now)
                    if wait <= 0:
                        budget.count += 1
                        if key is None:
                            budget.sent.append(now)
                        else:
                            budget.in_flight[key] = now
                        break
                self._cond.wait(self._poll(wait))
            self.waited_seconds += self._monotonic() - start

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Pace one request and keep its place while it is in flight.

        A request counts against the windows from when it is sent until a second (a minute)
        after its answer came back, the latest it can have reached the server. So requests
        held up on the way (a busy network, a stalled server) and then delivered in a burst
        still never put more than the cap into any server-side window."""
        key = f"{os.getpid()}:{next(self._ids)}"
        self._pace(key)
        try:
            yield
        finally:
            with self._cond:
                with self._state() as budget:
                    budget.in_flight.pop(key, None)
                    budget.sent.append(self._monotonic())
                self._cond.notify_all()

    def try_acquire(self) -> float:
        """Take a slot if one is free now and return 0; otherwise take nothing and return the
        seconds until one may be free. Counts against the daily budget only when it succeeds."""
        with self._cond, self._state() as budget:
            now = self._monotonic()
            wait = self._wait_needed(budget, now)
            if wait > 0:
                return wait
            self._check_budget(budget)
            budget.count += 1
            budget.sent.append(now)
            return 0.0

    def _poll(self, wait: float) -> float:
        return min(wait, _SHARED_POLL) if self._file is not None else wait

    def _check_budget(self, budget: _Budget) -> None:
        if budget.count >= self.daily_budget:
            raise RateLimitError(
                f"the daily Fyers budget of {self.daily_budget} requests is used up; "
                "it resets at 00:00 IST",
                retry_after=seconds_to_ist_midnight(self._wall()),
            )

    def _wait_needed(self, budget: _Budget, now: float) -> float:
        sent = budget.sent
        drop = 0
        while drop < len(sent) and sent[drop] <= now - 60.0:
            drop += 1
        if drop:
            del sent[:drop]
        if self._file is not None and budget.in_flight:
            me = os.getpid()
            for key, at in list(budget.in_flight.items()):
                pid = int(key.split(":", 1)[0])
                if at < now - _STALE_IN_FLIGHT or (pid != me and not _pid_alive(pid)):
                    del budget.in_flight[key]
        in_second = sum(1 for t in sent if t > now - 1.0)
        busy = len(budget.in_flight)
        wait = budget.penalty_until - now
        if in_second + busy >= self.per_second:
            # the oldest counted request leaves the window then, or an answer frees a place
            oldest = next((t for t in sent if t > now - 1.0), None)
            wait = max(wait, oldest + 1.0 - now if oldest is not None else _IN_FLIGHT_WAIT)
        if len(sent) + busy >= self.per_minute:
            wait = max(wait, sent[0] + 60.0 - now if sent else _IN_FLIGHT_WAIT)
        return wait

    def penalize(self, seconds: float) -> None:
        """The server said "too many requests": hold every caller back for ``seconds``."""
        with self._cond:
            with self._state() as budget:
                until = self._monotonic() + max(0.0, seconds)
                budget.penalty_until = max(budget.penalty_until, until)
            self._cond.notify_all()

    def in_last_minute(self) -> int:
        """Requests sent in the last 60 s (for status displays and tests)."""
        with self._cond, self._state(write=False) as budget:
            now = self._monotonic()
            return sum(1 for t in budget.sent if t > now - 60.0)

    # ---- daily budget -------------------------------------------------------------------------
    @property
    def used_today(self) -> int:
        with self._cond, self._state(write=False) as budget:
            return budget.count

    def flush(self) -> None:
        """Write the budget file now (every request already does; kept for callers)."""
        if self._file is None:
            return
        with self._cond, self._state():
            pass

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


_limiters: dict[Path, RateLimiter] = {}
_limiters_lock = threading.Lock()


def get_rate_limiter(settings: Settings) -> RateLimiter:
    """The limiter of a data directory: one object per process, one shared state (its budget
    file) for every process of that directory."""
    key = settings.data_dir.resolve()
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = RateLimiter(budget_file=key / BUDGET_FILE)
            _limiters[key] = limiter
        return limiter


@atexit.register
def _close_all() -> None:
    with _limiters_lock:
        for limiter in _limiters.values():
            with contextlib.suppress(Exception):
                limiter.close()
