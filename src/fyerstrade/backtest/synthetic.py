"""Synthetic candles for tests, examples and benchmarks (deterministic for a seed).

Bars sit on NSE session times (09:15–15:30 IST, weekdays; holidays ignored) so that intraday
rules behave as on real data; prices are a geometric random walk rounded to the tick size, so two
moving averages practically never tie exactly.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fyerstrade.candles import CandleArrays
from fyerstrade.domain import IST_OFFSET, Resolution

_IST = IST_OFFSET
_OPEN = 9 * 3600 + 15 * 60
_CLOSE = 15 * 3600 + 30 * 60


def session_bar_times(start: date, n: int, resolution: Resolution) -> np.ndarray:
    """The first ``n`` bar open times from ``start`` on weekdays' 09:15–15:30 IST sessions."""
    if resolution is Resolution.D:
        per_day = 1
        offsets = np.array([_OPEN], dtype=np.int64)
    else:
        offsets = np.arange(_OPEN, _CLOSE, resolution.seconds, dtype=np.int64)
        per_day = len(offsets)
    days_needed = n // per_day + 2
    first = (start - date(1970, 1, 1)).days
    cal = np.arange(first, first + days_needed * 7 // 5 + 7, dtype=np.int64)
    weekday = (cal + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    days = cal[weekday < 5][:days_needed]
    ts = (days[:, None] * 86_400 - _IST + offsets[None, :]).ravel()
    return ts[:n]


def synthetic_candles(
    n: int,
    *,
    start: date = date(2024, 1, 1),
    resolution: Resolution = Resolution.M1,
    seed: int = 7,
    price: float = 1000.0,
    volatility: float = 0.001,
    tick: float = 0.05,
) -> CandleArrays:
    """``n`` random-walk candles of one symbol on session times from ``start``."""
    rng = np.random.default_rng(seed)
    ts = session_bar_times(start, n, resolution)
    steps = rng.normal(0.0, volatility, size=(n, 4))
    path = price * np.exp(np.cumsum(steps.ravel())).reshape(n, 4)
    open_ = path[:, 0]
    close = path[:, 3]
    high = np.maximum(path.max(axis=1), np.maximum(open_, close))
    low = np.minimum(path.min(axis=1), np.minimum(open_, close))

    def rt(x: np.ndarray) -> np.ndarray:
        return np.round(np.round(x / tick) * tick, 2)

    return CandleArrays(
        ts=ts.astype(np.int64),
        open=rt(open_),
        high=rt(high),
        low=rt(low),
        close=rt(close),
        volume=rng.integers(100, 10_000, size=n).astype(np.int64),
    )
