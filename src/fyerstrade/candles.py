"""Candles as parallel numpy arrays: the one in-memory form of bars (no I/O here).

The store (``store/candles.py``) reads and writes them, the backtest and the live engine trade
on them, the vectorized engine and the charts read them; none of those layers is needed to
build one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CandleArrays"]


@dataclass(slots=True)
class CandleArrays:
    """Candles of one symbol and resolution as parallel arrays, sorted by ``ts``."""

    ts: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls) -> CandleArrays:
        f = np.empty(0, dtype=np.float64)
        return cls(
            np.empty(0, dtype=np.int64), f, f.copy(), f.copy(), f.copy(), np.empty(0, np.int64)
        )

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[float | int]]) -> CandleArrays:
        """Build from rows ``(ts, open, high, low, close, volume)`` (e.g. Fyers' ``candles``)."""
        data = rows if isinstance(rows, list) else list(rows)
        if not data:
            return cls.empty()
        m = np.asarray(data, dtype=np.float64)
        if m.ndim != 2 or m.shape[1] < 6:
            raise ValueError("candle rows must be (ts, open, high, low, close, volume)")
        return cls.from_matrix(m)

    @classmethod
    def from_matrix(cls, m: npt.NDArray[np.float64]) -> CandleArrays:
        """Build from an (n, 6) float matrix of ts, open, high, low, close, volume."""
        return cls(
            ts=m[:, 0].astype(np.int64),
            open=np.ascontiguousarray(m[:, 1]),
            high=np.ascontiguousarray(m[:, 2]),
            low=np.ascontiguousarray(m[:, 3]),
            close=np.ascontiguousarray(m[:, 4]),
            volume=m[:, 5].astype(np.int64),
        )

    def slice(self, start: int, stop: int) -> CandleArrays:
        """Candles ``[start:stop)`` by position (views, no copy)."""
        return CandleArrays(
            self.ts[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
        )
