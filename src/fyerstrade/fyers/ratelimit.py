"""One process-wide pacer for every Fyers REST call, and the daily request budget.

Fyers allows 10 requests/s, 200/min and 100,000/day, shared by all REST endpoints; a user who
breaks the per-minute limit more than three times in a day is blocked for the rest of the day.
:class:`RateLimiter` therefore keeps a margin (9/s, 180/min by default) using *sliding* windows:
no 1-second or 60-second interval ever holds more than the cap, so no fixed server-side window
can either. A request sent through :meth:`RateLimiter.request` counts until its answer is back
(plus the window), so requests delayed on the way and delivered together cannot overfill the
server's window either (under load they did, and earned a 429). The fetcher also spaces
request starts evenly, so one request of margin per second is enough; the per-minute margin
(the limit whose breach blocks the account) stays at 10%.

A 429 from the server (:meth:`RateLimiter.penalize`) pauses every caller, not only the one that
got it. The daily count is kept per IST date in ``<data dir>/fyers_request_budget.json``, written
atomically every few requests and at exit, so a restart does not reset it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fyerstrade.config import Settings
from fyerstrade.errors import RateLimitError

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
BUDGET_FILE = "fyers_request_budget.json"
PER_SECOND = 9
PER_MINUTE = 180
DAILY_BUDGET = 100_000
_IN_FLIGHT_WAIT = 1.0  # longest wait for an answer to free a place (it notifies at once)
_FLUSH_EVERY = 25
_FLUSH_SECONDS = 5.0


def ist_date(epoch: float) -> str:
    """The IST calendar date (``YYYY-MM-DD``) of an epoch instant."""
    return datetime.fromtimestamp(epoch, IST).date().isoformat()


def seconds_to_ist_midnight(epoch: float) -> float:
    """Seconds from ``epoch`` to the next 00:00 IST (when the daily budget resets)."""
    now = datetime.fromtimestamp(epoch, IST)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), IST)
    return midnight.timestamp() - epoch


class RateLimiter:
    """Thread-safe pacer: :meth:`acquire` blocks until one more request fits every window.

    ``monotonic``/``sleep_until`` are injectable so tests and benchmarks can observe the pacing;
    ``wall`` gives the wall-clock epoch used for the IST date of the daily budget.
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
        self._second: deque[float] = deque()
        self._minute: deque[float] = deque()
        self._penalty_until = 0.0
        self._in_flight = 0  # requests sent through request() and not answered yet
        self._day, self._day_count = self._load_budget()
        self._unflushed = 0
        self._last_flush = monotonic()
        self.waited_seconds = 0.0  # total time callers spent blocked (for benchmarks)

    # ---- pacing ------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Block until a request may be sent, then count it. Raises :class:`RateLimitError` when
        today's budget is used up (``retry_after`` = seconds until 00:00 IST)."""
        with self._cond:
            self._take_from_budget()
            start = self._monotonic()
            while (wait := self._try_slot()) > 0:
                self._cond.wait(wait)
            self.waited_seconds += self._monotonic() - start

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Pace one request and keep its place while it is in flight.

        A request counts against the windows from when it is sent until a second (a minute)
        after its answer came back, the latest it can have reached the server. So requests
        held up on the way (a busy network, a stalled server) and then delivered in a burst
        still never put more than the cap into any server-side window."""
        with self._cond:
            self._take_from_budget()
            start = self._monotonic()
            while (wait := self._wait_needed(self._monotonic())) > 0:
                self._cond.wait(wait)
            self._in_flight += 1
            self.waited_seconds += self._monotonic() - start
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                done = self._monotonic()
                self._second.append(done)
                self._minute.append(done)
                self._cond.notify_all()

    def try_acquire(self) -> float:
        """Take a slot if one is free now and return 0; otherwise take nothing and return the
        seconds until one may be free. Counts against the daily budget only when it succeeds."""
        with self._cond:
            wait = self._wait_needed(self._monotonic())
            if wait > 0:
                return wait
            self._take_from_budget()
            return self._try_slot()

    def _try_slot(self) -> float:
        now = self._monotonic()
        wait = self._wait_needed(now)
        if wait <= 0:
            self._second.append(now)
            self._minute.append(now)
        return max(wait, 0.0)

    def _wait_needed(self, now: float) -> float:
        while self._second and self._second[0] <= now - 1.0:
            self._second.popleft()
        while self._minute and self._minute[0] <= now - 60.0:
            self._minute.popleft()
        wait = self._penalty_until - now
        busy = self._in_flight
        if len(self._second) + busy >= self.per_second:
            # the oldest counted request leaves the window then, or an answer frees a place
            wait = max(wait, self._second[0] + 1.0 - now if self._second else _IN_FLIGHT_WAIT)
        if len(self._minute) + busy >= self.per_minute:
            wait = max(wait, self._minute[0] + 60.0 - now if self._minute else _IN_FLIGHT_WAIT)
        return wait

    def penalize(self, seconds: float) -> None:
        """The server said "too many requests": hold every caller back for ``seconds``."""
        with self._cond:
            self._penalty_until = max(self._penalty_until, self._monotonic() + max(0.0, seconds))
            self._cond.notify_all()

    def in_last_minute(self) -> int:
        """Requests sent in the last 60 s (for status displays and tests)."""
        with self._cond:
            self._wait_needed(self._monotonic())
            return len(self._minute)

    # ---- daily budget -------------------------------------------------------------------------
    @property
    def used_today(self) -> int:
        with self._cond:
            self._roll_day()
            return self._day_count

    def _roll_day(self) -> None:
        today = ist_date(self._wall())
        if today != self._day:
            self._day, self._day_count = today, 0

    def _take_from_budget(self) -> None:
        self._roll_day()
        if self._day_count >= self.daily_budget:
            wait = seconds_to_ist_midnight(self._wall())
            raise RateLimitError(
                f"the daily Fyers budget of {self.daily_budget} requests is used up; "
                "it resets at 00:00 IST",
                retry_after=wait,
            )
        self._day_count += 1
        self._unflushed += 1
        if self._unflushed >= _FLUSH_EVERY or self._monotonic() - self._last_flush > _FLUSH_SECONDS:
            self._flush_locked()

    def flush(self) -> None:
        """Write the daily count to the budget file now."""
        with self._cond:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._unflushed = 0
        self._last_flush = self._monotonic()
        if self.budget_file is None:
            return
        payload = json.dumps({"date": self._day, "count": self._day_count})
        try:
            self.budget_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".budget-", dir=self.budget_file.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            Path(tmp).replace(self.budget_file)
        except OSError as exc:  # the budget is a safeguard; pacing goes on without the file
            log.warning("could not save the Fyers request budget to %s: %s", self.budget_file, exc)

    def _load_budget(self) -> tuple[str, int]:
        today = ist_date(self._wall())
        if self.budget_file is None or not self.budget_file.is_file():
            return today, 0
        try:
            data = json.loads(self.budget_file.read_text(encoding="utf-8"))
            day, count = str(data["date"]), int(data["count"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable Fyers request budget file %s", self.budget_file)
            return today, 0
        return (day, count) if day == today else (today, 0)


_limiters: dict[Path, RateLimiter] = {}
_limiters_lock = threading.Lock()


def get_rate_limiter(settings: Settings) -> RateLimiter:
    """The process-wide limiter (one per data directory, whose budget file it keeps)."""
    key = settings.data_dir.resolve()
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = RateLimiter(budget_file=key / BUDGET_FILE)
            _limiters[key] = limiter
        return limiter


@atexit.register
def _flush_all() -> None:
    with _limiters_lock:
        for limiter in _limiters.values():
            with contextlib.suppress(Exception):
                limiter.flush()
