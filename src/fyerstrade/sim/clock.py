"""The simulator's market clock: a start instant and a speed, paced by the simulator itself.

``MarketClock(start, speed)`` reads ``start + elapsed × speed`` (60 = one market minute per
wall second). It is one clock for REST (history, quotes) and the data socket's ticks.

**Paced.** While a simulator serves, its event loop beats the clock every
:data:`BEAT_SECONDS` (:meth:`MarketClock.beat`), and market time never runs more than
:data:`MAX_LEAD_SECONDS` of wall time past the last beat. A simulator that cannot run (a
loaded machine, a stalled process) therefore stops its market instead of letting its clock run
ahead of the ticks it streams: a client never sees the clock say a minute is over while that
minute's trades are still unsent. Without a server (no beats) it is plain wall time × speed.

**Paused.** :meth:`MarketClock.pause` stops market time where it is and :meth:`resume` goes on
from there (tests freeze the market at an exact instant: a crash point, a restart).
:meth:`MarketClock.run_until` lets it run and pauses it at an exact market instant, however
late whoever asked gets round to looking: the market never runs past it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["BEAT_SECONDS", "MAX_LEAD_SECONDS", "MAX_SPEED", "MarketClock"]

BEAT_SECONDS = 0.02  # the simulator's loop beats its clock this often (wall seconds)
MAX_LEAD_SECONDS = 0.1  # market time runs at most this long (wall) past the last beat
MAX_SPEED = 100_000.0


class MarketClock:
    """Market time = ``start + (paced wall time elapsed since set) × speed``; thread-safe."""

    def __init__(
        self,
        start: float | None = None,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_speed(speed)
        self._mono = monotonic
        self._lock = threading.Lock()
        self._start = start if start is not None else time.time()
        self._speed = speed
        self._anchor = monotonic()
        self._paused = False
        self._stop_at: float | None = None  # market time it pauses at by itself (run_until)
        self._last_beat: float | None = None  # None: not paced (no simulator beats it)

    def set(
        self, start: float | None = None, speed: float | None = None, *, paused: bool | None = None
    ) -> None:
        """Restart the clock at ``start`` (default: where it is now) running at ``speed``;
        ``paused`` pauses or resumes it too."""
        if speed is not None:
            _check_speed(speed)
        with self._lock:
            mono = self._mono()
            now = self._now_locked(mono)
            self._start = start if start is not None else now
            if speed is not None:
                self._speed = speed
            if paused is not None:
                self._paused = paused
            self._stop_at = None
            self._anchor = mono
            if self._last_beat is not None:
                self._last_beat = mono

    def pause(self) -> None:
        """Stop market time where it is (until :meth:`resume`)."""
        self.set(paused=True)

    def resume(self) -> None:
        """Let market time run again from where it stood."""
        self.set(paused=False)

    def run_until(self, ts: float) -> None:
        """Let market time run from where it stands and pause it at ``ts`` exactly (at once
        when it is there already). Any :meth:`set`, :meth:`pause` or :meth:`resume` cancels the
        stop."""
        with self._lock:
            mono = self._mono()
            now = self._now_locked(mono)
            self._start = now
            self._anchor = mono
            if self._last_beat is not None:
                self._last_beat = mono
            self._paused = now >= ts
            self._stop_at = None if self._paused else ts

    def beat(self) -> None:
        """The simulator's loop is running (called every :data:`BEAT_SECONDS`). A beat after a
        longer silence starts the clock again from where the lead stopped it: the time the loop
        could not run is lost to the market."""
        with self._lock:
            mono = self._mono()
            last = self._last_beat
            if last is not None and mono - last > MAX_LEAD_SECONDS:
                self._start = self._now_locked(mono)
                self._anchor = mono
            self._last_beat = mono

    def unpace(self) -> None:
        """No simulator beats this clock any more: plain wall time × speed again."""
        with self._lock:
            mono = self._mono()
            self._start = self._now_locked(mono)
            self._anchor = mono
            self._last_beat = None

    def now(self) -> float:
        """Market time, epoch seconds."""
        with self._lock:
            return self._now_locked(self._mono())

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        with self._lock:
            self._now_locked(self._mono())  # (a run_until instant passed pauses it)
            return self._paused

    def _now_locked(self, mono: float) -> float:
        if self._paused:
            return self._start
        end = mono
        if self._last_beat is not None:
            end = min(mono, max(self._last_beat, self._anchor) + MAX_LEAD_SECONDS)
        now = self._start + max(0.0, end - self._anchor) * self._speed
        stop = self._stop_at
        if stop is not None and now >= stop:  # run_until's instant: paused there from now on
            self._start, self._anchor, self._paused, self._stop_at = stop, mono, True, None
            return stop
        return now


def _check_speed(speed: float) -> None:
    if not 0 < speed <= MAX_SPEED:
        raise ValueError(f"speed must be in (0, {MAX_SPEED:g}], got {speed}")
