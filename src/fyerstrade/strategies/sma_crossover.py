"""``sma_crossover``: long when the fast SMA of the close crosses above the slow one, flat when it
crosses below; with ``allow_short`` the position reverses to short instead of going flat.

A cross above while already long (possible after a tie) changes nothing, and a cross below while
already short likewise. The entry quantity is the run's (``--quantity``, or sized by free margin);
a size of zero is recorded as a rejected order, so a run that cannot afford one lot says why.

"Crosses above" at bar t means ``fast[t-1] <= slow[t-1] and fast[t] > slow[t]``; "crosses below"
is the mirror (``fast[t-1] >= slow[t-1] and fast[t] < slow[t]``). Tie rule: equal averages on the
current bar are never a cross; equal averages on the previous bar followed by a strict
difference are. "Equal" is within ``fyerstrade.ties.TIE_RTOL`` (a billionth, relatively): the
running averages carry rounding from every earlier bar, and without it a live session and a
backtest starting from another day decided the same exact tie differently. Bars where either
average is not yet defined (the first ``slow - 1`` bars) are never a cross. The vectorized
engine uses the same rule (:func:`crossover_signal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from fyerstrade.candles import CandleArrays
from fyerstrade.errors import InputError
from fyerstrade.strategies.base import Param, Strategy
from fyerstrade.strategies.signals import Indicator, SignalBars, Signals
from fyerstrade.ties import sides
from fyerstrade.trading.bars import SeriesView
from fyerstrade.trading.context import Context


def crossings(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(True where ``fast`` crosses above ``slow``, True where it crosses below), by the tie rule
    of the module docstring; causal: element t uses elements t-1 and t only."""
    up = np.zeros(len(fast), dtype=np.bool_)
    down = np.zeros(len(fast), dtype=np.bool_)
    if len(fast) >= 2:
        f = np.asarray(fast, dtype=np.float64)
        s = np.asarray(slow, dtype=np.float64)
        above, below, valid = sides(f, s)  # (above and below: False for a tie and for NaN)
        np.logical_and(valid[:-1] & ~above[:-1], above[1:], out=up[1:])
        np.logical_and(valid[:-1] & ~below[:-1], below[1:], out=down[1:])
    return up, down


def crossover_signal(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """+1 where ``fast`` crosses above ``slow``, -1 where it crosses below, else 0 (see the
    module docstring for the tie rule); causal: element t uses elements t-1 and t only."""
    up, down = crossings(fast, slow)
    out = np.zeros(len(fast), dtype=np.float64)
    out[up] = 1.0
    out[down] = -1.0
    return out


def running_sma(values: np.ndarray, length: int) -> np.ndarray:
    """TA-Lib's SMA bit for bit (NaN for the first ``length - 1`` values), without importing
    TA-Lib, whose package imports pandas: about 77 MB and a third of a second of start-up in
    every process that runs this strategy (a backtest, each optimizer worker).

    TA-Lib keeps a running total: add the newest value, take the average, subtract the oldest.
    Those additions and subtractions, in that order, are one ``np.add.accumulate`` over the values
    interleaved with the negated values leaving the window (accumulate adds strictly left to
    right, and ``a - b`` is ``a + (-b)`` exactly), so every rounding is TA-Lib's own. Leading NaNs
    are skipped as TA-Lib's wrapper skips them; a later NaN makes the rest NaN, as there.
    ``tests/strategies/test_running_sma.py`` checks equality with ``talib.SMA``.
    """
    x = np.asarray(values, dtype=np.float64)
    out = np.full(x.shape[0], np.nan)
    missing = np.isnan(x)
    begin = int(np.argmin(missing)) if not missing.all() else x.shape[0]
    y = x[begin:]
    windows = y.shape[0] - length + 1
    if length < 1 or windows < 1:
        return out
    steps = np.empty(length - 1 + 2 * windows)
    steps[: length - 1] = y[: length - 1]
    steps[length - 1 :: 2] = y[length - 1 :]
    np.negative(y[:windows], out=steps[length::2])
    totals = np.add.accumulate(steps)[length - 1 :: 2]
    out[begin + length - 1 :] = totals / length
    return out


def sma(bars: CandleArrays, length: int) -> np.ndarray:
    """The SMA of the close, as TA-Lib computes it (:func:`running_sma`)."""
    return running_sma(bars.close, length)


class SmaCrossover(Strategy):
    name: ClassVar[str] = "sma_crossover"
    description: ClassVar[str] = (
        "Long when the fast SMA of the close crosses above the slow SMA, flat (or short with "
        "allow_short) when it crosses below."
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("fast", int, 10, min=1, max=1000, step=1, help="fast SMA length in bars"),
        Param("slow", int, 30, min=2, max=5000, step=1, help="slow SMA length in bars"),
        Param("allow_short", bool, False, help="reverse to short on a cross below"),
    )

    # the averages over the candles; the -1/0/+1 crossing signal is for the strategy only
    plots: ClassVar[Mapping[str, str]] = {"sma_fast": "overlay", "sma_slow": "overlay",
                                           "cross": "none"}  # fmt: skip
    # on_data acts only where the averages cross: the engine calls it there only
    wake_on: ClassVar[str | None] = "cross"
    signal_indicators: ClassVar[Mapping[str, Indicator]] = {
        "sma_fast": Indicator(sma, uses=("fast",)),
        "sma_slow": Indicator(sma, uses=("slow",)),
    }

    fast: int
    slow: int
    allow_short: bool

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        if self.fast >= self.slow:
            raise InputError(
                f"sma_crossover needs fast < slow, got fast={self.fast} slow={self.slow}"
            )
        self._signal: dict[str, SeriesView] = {}

    def indicators(self, bars: CandleArrays) -> Mapping[str, np.ndarray]:
        fast = sma(bars, self.fast)
        slow = sma(bars, self.slow)
        return {"sma_fast": fast, "sma_slow": slow, "cross": crossover_signal(fast, slow)}

    @classmethod
    def signals(cls, bars: SignalBars, params: Mapping[str, Any]) -> Signals:
        up, down = bars.twin(crossings)(bars.indicator("sma_fast"), bars.indicator("sma_slow"))
        if params["allow_short"]:
            return Signals(entries=up, short_entries=down, entry_tag="signal")
        return Signals(entries=up, exits=down, entry_tag="signal")

    def init(self, ctx: Context) -> None:
        self._signal = {s: ctx.indicator(s, "cross") for s in ctx.symbols}

    def on_data(self, ctx: Context) -> None:
        signals = self._signal
        for symbol in ctx.updated:
            cross = signals[symbol].last
            if cross == 0.0:
                continue
            qty = ctx.qty(symbol)
            if cross > 0:
                if qty <= 0:  # from flat, or reversing a short
                    ctx.buy(symbol, ctx.size(symbol) - qty, tag="signal")
            elif self.allow_short:
                if qty >= 0:  # from flat, or reversing a long
                    ctx.sell(symbol, ctx.size(symbol) + qty, tag="signal")
            elif qty > 0:
                ctx.close(symbol, tag="signal")
