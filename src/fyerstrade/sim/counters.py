"""Counters of every order request the simulator saw (:class:`OrderCounters`), for tests: which
order endpoints were called, when each order request arrived, the busiest second."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class OrderCounters:
    """Every order request the simulator saw, for tests: calls by ``"METHOD /path"``, the
    monotonic time of each order request (place, modify, cancel, each multi-order item, exit),
    and how many were refused for the order rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.times: list[float] = []
        self.rate_refusals = 0

    def call(self, method: str, path: str) -> None:
        with self._lock:
            self.calls[f"{method} {path}"] += 1

    def order_request(self, kind: str, at: float) -> None:
        with self._lock:
            self.kinds[kind] += 1
            self.times.append(at)

    def refused_for_rate(self) -> None:
        with self._lock:
            self.rate_refusals += 1

    @property
    def total_calls(self) -> int:
        """Calls to any order, position, trade or holdings endpoint (reads included)."""
        with self._lock:
            return sum(self.calls.values())

    @property
    def order_requests(self) -> int:
        with self._lock:
            return len(self.times)

    def max_per_second(self) -> int:
        """The most order requests seen inside any one-second window."""
        with self._lock:
            times = sorted(self.times)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.kinds.clear()
            self.times.clear()
            self.rate_refusals = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            calls, kinds, n = dict(self.calls), dict(self.kinds), len(self.times)
            refusals = self.rate_refusals
        return {
            "calls": calls,
            "kinds": kinds,
            "order_requests": n,
            "max_per_second": self.max_per_second(),
            "rate_refusals": refusals,
        }
