"""What the simulator saw (:class:`SimStats`), for tests and benchmarks to assert on."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """One ``/data/history`` call that passed authentication and the rate limit.

    ``symbol``, ``resolution``, ``date_format``, ``range_from``/``range_to`` are the raw query
    values; ``start``/``end`` the half-open epoch window ``[start, end)`` the simulator read them
    as (0 when they could not be read); ``status`` is the envelope's ``s`` (``ok``, ``no_data`` or
    ``error``) and ``candles`` how many came back.
    """

    symbol: str
    resolution: str
    date_format: str
    range_from: str
    range_to: str
    start: int
    end: int
    status: str
    candles: int


class SimStats:
    """Counters, safe to read from any thread while the server runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._rejected_429 = 0
        self._history: list[HistoryRequest] = []

    def count_request(self, path: str) -> None:
        with self._lock:
            self._requests[path] += 1

    def count_rejection(self) -> None:
        with self._lock:
            self._rejected_429 += 1

    def record_history(self, request: HistoryRequest) -> None:
        with self._lock:
            self._history.append(request)

    @property
    def requests(self) -> dict[str, int]:
        """Requests by path (every path except the ``/_sim/`` control plane), including the
        rejected ones."""
        with self._lock:
            return dict(self._requests)

    @property
    def rejected_429(self) -> int:
        """Requests answered with HTTP 429."""
        with self._lock:
            return self._rejected_429

    @property
    def history(self) -> list[HistoryRequest]:
        """Every history request that passed authentication and the rate limit, in order
        (including the ones answered with an error)."""
        with self._lock:
            return list(self._history)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._rejected_429 = 0
            self._history.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready view (``GET /_sim/stats``)."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "rejected_429": self._rejected_429,
                "history": [asdict(h) for h in self._history],
            }
