"""The market clock of live trading: the wall clock against Fyers, the simulator's clock against
the simulator.

The simulator can play a session at any speed from any instant (``/_sim/clock``); when
``FYERSTRADE_FYERS_URL`` points at a server that answers ``GET /_sim/clock``, the live engine and
the scheduler run on that clock, so one market minute may pass in a wall second. Against the
real Fyers (no URL set) it is the machine's clock.

Both clocks offer ``now()`` (epoch seconds, the :class:`~fyerstrade.trading.clock.Clock`
protocol) and ``wait_until(ts, stop)``: block until market time ``ts`` or until ``stop`` is set
(returns True when stopped), waking regularly so a stop is seen within a fraction of a second.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Protocol

from fyerstrade.config import Settings

__all__ = ["LiveClock", "SimMarketClock", "SystemClock", "market_clock"]

MAX_WAIT_SLICE = 0.5  # wall seconds between checks of the stop event and the clock


class LiveClock(Protocol):
    def now(self) -> int: ...

    def now_float(self) -> float: ...

    def wait_until(self, ts: float, stop: threading.Event) -> bool: ...


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


class SimMarketClock:
    """The simulator's market clock, read once over HTTP and then run locally
    (``start + elapsed × speed``), re-read every ``resync`` wall seconds (on a helper thread)
    so a clock the simulator was told to move is followed."""

    def __init__(self, base_url: str, *, resync: float = 2.0, timeout: float = 5.0) -> None:
        self.url = base_url.rstrip("/") + "/_sim/clock"
        self.resync = resync
        self.timeout = timeout
        self._lock = threading.Lock()
        self._start = 0.0
        self._anchor = 0.0
        self._next_sync = 0.0
        self._syncing = False
        self.speed = 1.0
        self._sync()

    @classmethod
    def probe(cls, base_url: str) -> SimMarketClock | None:
        """The simulator's clock, or None when the server has none (it is not the simulator)."""
        try:
            return cls(base_url, timeout=2.0)
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def _sync(self) -> None:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:  # noqa: S310 (our URL)
            body = json.loads(resp.read().decode())
        now, speed = float(body["now"]), float(body["speed"])
        with self._lock:
            self._start, self._anchor, self.speed = now, time.monotonic(), speed
            self._next_sync = self._anchor + self.resync

    def _resync(self) -> None:
        try:
            # on a failed reading keep running on the last one
            with contextlib.suppress(OSError, ValueError, KeyError, urllib.error.URLError):
                self._sync()
        finally:
            self._syncing = False

    def now_float(self) -> float:
        mono = time.monotonic()
        with self._lock:
            if mono > self._next_sync and not self._syncing:
                # re-read on a helper thread: the engine thread never waits on HTTP
                self._syncing = True
                self._next_sync = mono + self.resync
                threading.Thread(target=self._resync, name="sim-clock", daemon=True).start()
            return self._start + (mono - self._anchor) * self.speed

    def now(self) -> int:
        return int(self.now_float())

    def wait_until(self, ts: float, stop: threading.Event) -> bool:
        while True:
            left = ts - self.now_float()
            if left <= 0:
                return stop.is_set()
            if stop.wait(min(left / max(self.speed, 1e-9), MAX_WAIT_SLICE)):
                return True


def market_clock(settings: Settings) -> LiveClock:
    """The simulator's clock when the configured server is the simulator, else the system's."""
    if settings.fyers_url:
        sim = SimMarketClock.probe(settings.fyers_url)
        if sim is not None:
            return sim
    return SystemClock()
