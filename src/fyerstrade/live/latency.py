"""Latency of the live engine, measured from the moment the SDK's callback thread received a
message (``Tick.recv_ns``, monotonic nanoseconds).

Two windows of the most recent samples:

* tick latency: receipt → the engine has persisted-queued the tick, built it into its bar and
  offered it to the paper broker (every tick);
* tick-to-strategy latency: receipt of the tick that completed a minute (the last symbol's first
  tick of the next minute) → the strategy is handed that minute's bars.

Recording is one integer store into a preallocated ring; percentiles are computed only when the
status is written.
"""

from __future__ import annotations

from array import array

__all__ = ["LatencyWindow"]


class LatencyWindow:
    """The last ``size`` latencies in nanoseconds, and their percentiles."""

    __slots__ = ("_ring", "_size", "count")

    def __init__(self, size: int = 4096) -> None:
        self._ring = array("q", bytes(8 * size))
        self._size = size
        self.count = 0  # samples recorded in total

    def add(self, ns: int) -> None:
        self._ring[self.count % self._size] = ns
        self.count += 1

    def samples(self) -> list[int]:
        n = min(self.count, self._size)
        return sorted(self._ring[:n])

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile (0–100) of the window in milliseconds; 0.0 without samples."""
        data = self.samples()
        if not data:
            return 0.0
        k = min(len(data) - 1, max(0, round(q / 100 * (len(data) - 1))))
        return data[k] / 1e6
