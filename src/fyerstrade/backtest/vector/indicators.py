"""Compiled twins of built-in indicators, for the vectorized engine's indicator caches.

A sweep computes each indicator once per distinct parameter value, over every bar; in numpy the
built-in SMA (``strategies.sma_crossover.running_sma``: TA-Lib's running sum, one
``np.add.accumulate`` over twice the bars) is a fifth of a 90-combination sweep. The twin here
does the same additions in the same order in one compiled loop, so its values are the same to
the bit (``tests/strategies/test_running_sma.py`` holds both to ``talib.SMA``). The strategy
module keeps the numpy version: an event-engine backtest never imports numba.

:data:`COMPILED` maps an indicator function a strategy declares (``Indicator(compute, ...)``) to
its twin; ``IndicatorCache(..., compiled=COMPILED)`` computes through the twin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from fyerstrade.candles import CandleArrays
from fyerstrade.strategies import sma_crossover

from .layout import F1, I0, jit


@jit(F1(F1, I0))
def running_sma(x: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    """``sma_crossover.running_sma`` in one loop: leading NaNs skipped, then the running total
    of ``np.add.accumulate`` over the values interleaved with the negated leaving ones."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    begin = 0
    while begin < n and math.isnan(x[begin]):
        begin += 1
    windows = n - begin - length + 1
    if length < 1 or windows < 1:
        return out
    y = x[begin:]
    total = y[0]  # the accumulation's first element is the first value itself
    if length == 1:
        out[begin] = total / length
        for w in range(1, windows):
            total = total + -y[w - 1]
            total = total + y[w]
            out[begin + w] = total / length
        return out
    for i in range(1, length - 1):
        total = total + y[i]
    for w in range(windows):
        total = total + y[length - 1 + w]
        out[begin + length - 1 + w] = total / length
        total = total + -y[w]
    return out


def sma(bars: CandleArrays, length: int) -> npt.NDArray[np.float64]:
    """``sma_crossover.sma`` through :func:`running_sma` (numba takes writeable arrays: bars
    shared with a worker process are read-only, and copied here)."""
    return running_sma(np.require(bars.close, np.float64, ["C", "W"]), int(length))


COMPILED: Mapping[Callable[..., npt.ArrayLike], Callable[..., npt.ArrayLike]] = {
    sma_crossover.sma: sma,
}
