"""The clocks of live trading, injected so that nothing in the live runner reads the time itself.

* The **market clock** (:class:`LiveClock`): epoch seconds of the market. The wall clock against
  Fyers (:class:`SystemClock`); the simulator's clock against the simulator
  (:class:`SimMarketClock`, read over HTTP, or :class:`FunctionClock` over the simulator's clock
  object in the same process); a :class:`ManualClock` that only moves when told, for tests.
* The **monotonic clock** (:data:`Monotonic`, ``time.monotonic`` by default): seconds for
  pacing (flushes, status writes) and for "nothing arrived for a while".
* The **wall clock** (:data:`Wall`, ``time.time``): receipt stamps and status times only.

The simulator can play a session at any speed from any instant (``/_sim/clock``); when
``FYERSTRADE_FYERS_URL`` points at a server that answers ``GET /_sim/clock``, the live engine and
the scheduler run on that clock (:func:`market_clock`), so one market minute may pass in a wall
second. Against the real Fyers (no URL set) it is the machine's clock.

Every market clock offers ``now()`` (epoch seconds, the
:class:`~fyerstrade.trading.clock.Clock` protocol), ``now_float()`` and ``wait_until(ts, stop)``:
block until market time ``ts`` or until ``stop`` is set (returns True when stopped), waking
regularly so a stop is seen within a fraction of a second.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fyerstrade.config import Settings

__all__ = [
    "Clocks",
    "FunctionClock",
    "LiveClock",
    "ManualClock",
    "Monotonic",
    "SimMarketClock",
    "SystemClock",
    "Wall",
    "market_clock",
]

MAX_WAIT_SLICE = 0.5  # wall seconds between checks of the stop event and the clock
POLL_SECONDS = 0.05  # how often SimMarketClock reads the simulator's clock
IDLE_SECONDS = 2.0  # SimMarketClock's reader stops after this long without a reading asked for

Monotonic = Callable[[], float]
Wall = Callable[[], float]


class LiveClock(Protocol):
    def now(self) -> int: ...

    def now_float(self) -> float: ...

    def wait_until(self, ts: float, stop: threading.Event) -> bool: ...


@dataclass(frozen=True, slots=True)
class Clocks:
    """The clocks a live run is handed: market, monotonic, wall."""

    market: LiveClock
    monotonic: Monotonic = field(default=time.monotonic)
    wall: Wall = field(default=time.time)


def _wait_on(read: Callable[[], float], ts: float, stop: threading.Event, slice_: float) -> bool:
    while True:
        if read() >= ts:
            return stop.is_set()
        if stop.wait(slice_):
            return True


class SystemClock:
    """The machine's clock."""

    speed = 1.0

    def now(self) -> int:
        return int(time.time())

    def now_float(self) -> float:
        return time.time()

    def wait_until(self, ts: float, stop: threading.Event) -> bool:
        while True:
            left = ts - self.now_float()
            if left <= 0:
                return stop.is_set()
            if stop.wait(min(left, MAX_WAIT_SLICE)):
                return True


class FunctionClock:
    """A market clock read from a function: the simulator's clock object in the same process
    (``FunctionClock(hub.clock.now)``), so the engine and the ticks it receives share exactly
    one clock. Waits look at it every ``slice_seconds``."""

    def __init__(self, read: Callable[[], float], *, slice_seconds: float = 0.01) -> None:
        self._read = read
        self._slice = slice_seconds

    def now(self) -> int:
        return int(self._read())

    def now_float(self) -> float:
        return float(self._read())

    def wait_until(self, ts: float, stop: threading.Event) -> bool:
        return _wait_on(self._read, ts, stop, self._slice)


class ManualClock:
    """A market clock that moves only when told (:meth:`set`, :meth:`advance`); waits return as
    soon as another thread moves it far enough."""

    def __init__(self, start: float) -> None:
        self._now = float(start)
        self._moved = threading.Condition()

    def now(self) -> int:
        return int(self._now)

    def now_float(self) -> float:
        return self._now

    def set(self, ts: float) -> None:
        with self._moved:
            self._now = float(ts)
            self._moved.notify_all()

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)

    def wait_until(self, ts: float, stop: threading.Event) -> bool:
        with self._moved:
            while self._now < ts and not stop.is_set():
                self._moved.wait(0.05)
        return stop.is_set()


class SimMarketClock:
    """The simulator's market clock, read over HTTP by a helper thread every
    :data:`POLL_SECONDS`: ``now`` is the last reading, never a guess beyond it. So when the
    simulator stops its market (paused, or stalled on a loaded machine) this clock stops with
    it, and it never says a minute is over before the simulator's clock did (it lags it by a
    poll at most). The engine thread never waits on HTTP after the first reading; the reader
    stops after :data:`IDLE_SECONDS` without a look at the clock and starts again on the next."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, poll: float = POLL_SECONDS) -> None:
        self.url = base_url.rstrip("/") + "/_sim/clock"
        self.timeout = timeout
        self.poll = poll
        self._lock = threading.Lock()
        self._reading = 0.0
        self._last_use = 0.0
        self._reader: threading.Thread | None = None
        self.speed = 1.0
        self.paused = False
        self._sync()

    @classmethod
    def probe(cls, base_url: str) -> SimMarketClock | None:
        """The simulator's clock, or None when the server has none (it is not the simulator)."""
        try:
            return cls(base_url, timeout=2.0)
        except (OSError, ValueError, KeyError, urllib.error.URLError):
            return None

    def _sync(self) -> None:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:  # noqa: S310 (our URL)
            body = json.loads(resp.read().decode())
        now, speed = float(body["now"]), float(body["speed"])
        paused = bool(body.get("paused", False))
        with self._lock:
            self._reading, self.speed, self.paused = now, speed, paused

    def _read_loop(self) -> None:
        pause = threading.Event()
        while True:
            with self._lock:
                if time.monotonic() - self._last_use > IDLE_SECONDS:
                    self._reader = None
                    return
            # on a failed reading keep the last one: the clock stands still meanwhile
            with contextlib.suppress(OSError, ValueError, KeyError, urllib.error.URLError):
                self._sync()
            pause.wait(self.poll)

    def now_float(self) -> float:
        with self._lock:
            self._last_use = time.monotonic()
            if self._reader is None:
                self._reader = threading.Thread(
                    target=self._read_loop, name="sim-clock", daemon=True
                )
                self._reader.start()
            return self._reading

    def now(self) -> int:
        return int(self.now_float())

    def wait_until(self, ts: float, stop: threading.Event) -> bool:
        while True:
            left = ts - self.now_float()
            if left <= 0:
                return stop.is_set()
            speed = 0.0 if self.paused else self.speed
            step = MAX_WAIT_SLICE if speed <= 0 else min(left / speed, MAX_WAIT_SLICE)
            if stop.wait(max(step, self.poll / 5)):
                return True


def market_clock(settings: Settings) -> LiveClock:
    """The simulator's clock when the configured server is the simulator, else the system's."""
    if settings.fyers_url:
        sim = SimMarketClock.probe(settings.fyers_url)
        if sim is not None:
            return sim
    return SystemClock()
