"""Fyers' request limits as sliding windows (:class:`SlidingWindowLimiter`).

Fyers allows 10 requests per second and 200 per minute, shared by every REST endpoint. A request
over either window is rejected (HTTP 429) and, like on the real server, a rejected request does not
use up budget. Windows slide (the last 1 s and the last 60 s before each request), so a client
that paces at exactly the limit is never rejected while a burst is.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """Thread-safe admission control over a per-second and a per-minute window."""

    def __init__(
        self,
        per_second: int,
        per_minute: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second < 1 or per_minute < 1:
            raise ValueError("rate limits must be at least 1 request per window")
        self._windows = ((1.0, per_second, deque[float]()), (60.0, per_minute, deque[float]()))
        self._monotonic = monotonic
        self._lock = threading.Lock()

    def admit(self) -> float:
        """Record a request if both windows have room and return 0; otherwise record nothing and
        return the seconds until the fullest window has room again (> 0)."""
        with self._lock:
            now = self._monotonic()
            wait = 0.0
            for span, limit, stamps in self._windows:
                while stamps and stamps[0] <= now - span:
                    stamps.popleft()
                if len(stamps) >= limit:
                    wait = max(wait, stamps[len(stamps) - limit] + span - now)
            if wait > 0:
                return wait
            for _span, _limit, stamps in self._windows:
                stamps.append(now)
            return 0.0

    def reset(self) -> None:
        """Forget every request seen so far."""
        with self._lock:
            for _span, _limit, stamps in self._windows:
                stamps.clear()


def retry_after_header(wait: float) -> str:
    """``Retry-After`` is whole seconds; never advertise 0 for a rejection."""
    return str(max(1, math.ceil(wait)))
