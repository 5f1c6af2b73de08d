"""``opening_price_crossover``: long-only breakout through the day's opening price, with a trend
filter, a stop under the signal bars and two R-multiple targets.

* Filter: EMA(``ema_fast``) of the close above EMA(``ema_slow``) on the signal bar.
* Entry: the signal bar closes above the current IST day's opening price (the open of the day's
  first bar) while the previous bar *of the same day* closed at or below it; a market buy at the
  next bar's open. The day's first bar is never a signal bar (it has no previous bar that day).
* Stop: the lower of the signal bar's low and the previous bar's low. R = entry fill − stop; if
  the entry fills at or below the stop (a gap down), the position is closed at the next open.
* Exits: ``exit_pct1`` of the position (rounded down to whole lots) at entry + ``rr1``·R (limit),
  the rest at entry + ``rr2``·R (limit), or everything left at the stop; when a bar reaches both
  the stop and a target the stop is assumed first. No new entry in a symbol while a position or an
  entry order is open. In intraday mode the square-off closes what is left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Fill, Side
from fyerstrade.strategies.base import Param, Strategy
from fyerstrade.strategies.signals import Indicator, SignalBars, Signals, Target
from fyerstrade.trading.context import Context
from fyerstrade.trading.session import ist_day_number


def day_open_prices(bars: CandleArrays) -> tuple[np.ndarray, np.ndarray]:
    """(the IST day's opening price at each bar, True where the previous bar is the same day)."""
    day = ist_day_number(bars.ts)
    n = len(day)
    if n == 0:
        return np.empty(0), np.empty(0, dtype=bool)
    first = np.concatenate(([True], day[1:] != day[:-1]))
    idx = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    return bars.open[idx].astype(np.float64), ~first


def ema(bars: CandleArrays, length: int) -> np.ndarray:
    """TA-Lib's EMA of the close."""
    import talib  # here, not at import: talib imports pandas, which listing strategies needn't

    return talib.EMA(bars.close.astype(np.float64), timeperiod=length)


def breakout(bars: CandleArrays) -> np.ndarray:
    """1.0 where a bar closes above the day's opening price and the previous bar of the same
    day closed at or below it, else 0.0."""
    close = bars.close.astype(np.float64)
    day_open, same_day = day_open_prices(bars)
    prev_close = np.concatenate(([np.nan], close[:-1]))
    with np.errstate(invalid="ignore"):
        return (same_day & (close > day_open) & (prev_close <= day_open)).astype(np.float64)


def stop_level(bars: CandleArrays) -> np.ndarray:
    """The lower of each bar's low and the previous bar's low (NaN at the first bar)."""
    low = bars.low.astype(np.float64)
    prev_low = np.concatenate(([np.nan], low[:-1]))
    return np.minimum(low, prev_low)


class OpeningPriceCrossover(Strategy):
    name: ClassVar[str] = "opening_price_crossover"
    description: ClassVar[str] = (
        "Long when a bar closes above the day's opening price (EMA fast > EMA slow filter); "
        "stop under the signal bars, exits at rr1·R (exit_pct1 of the position) and rr2·R."
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("ema_fast", int, 9, min=1, max=500, step=1, help="fast EMA length (filter)"),
        Param("ema_slow", int, 21, min=2, max=1000, step=1, help="slow EMA length (filter)"),
        Param(
            "exit_pct1",
            float,
            0.7,
            min=0.0,
            max=1.0,
            step=0.05,
            help="fraction of the position sold at the first target",
        ),
        Param("rr1", float, 1.0, min=0.1, max=20.0, step=0.1, help="first target in R"),
        Param("rr2", float, 3.0, min=0.1, max=50.0, step=0.1, help="second target in R"),
    )
    # the EMAs and the day's open over the candles; the 0/1 entry signal is for the strategy
    plots: ClassVar[Mapping[str, str]] = {"ema_fast": "overlay", "ema_slow": "overlay",
                                           "day_open": "overlay", "signal": "none"}  # fmt: skip
    # on_data acts only on a signal bar: the engine calls it there only
    wake_on: ClassVar[str | None] = "signal"

    signal_indicators: ClassVar[Mapping[str, Indicator]] = {
        "ema_fast": Indicator(ema, uses=("ema_fast",)),
        "ema_slow": Indicator(ema, uses=("ema_slow",)),
        "breakout": Indicator(breakout),
        "stop": Indicator(stop_level),
    }

    ema_fast: int
    ema_slow: int
    exit_pct1: float
    rr1: float
    rr2: float

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._stop: dict[str, float] = {}

    def indicators(self, bars: CandleArrays) -> Mapping[str, np.ndarray]:
        ema_f = ema(bars, self.ema_fast)
        ema_s = ema(bars, self.ema_slow)
        with np.errstate(invalid="ignore"):
            signal = (breakout(bars) > 0.0) & (ema_f > ema_s)
        return {
            "ema_fast": ema_f,
            "ema_slow": ema_s,
            "day_open": day_open_prices(bars)[0],
            "signal": signal.astype(np.float64),
        }

    @classmethod
    def signals(cls, bars: SignalBars, params: Mapping[str, Any]) -> Signals:
        with np.errstate(invalid="ignore"):
            entries = (bars.indicator("breakout") > 0.0) & (
                bars.indicator("ema_fast") > bars.indicator("ema_slow")
            )
        return Signals(
            entries=entries,
            stop=bars.indicator("stop"),
            targets=(Target(params["rr1"], params["exit_pct1"]), Target(params["rr2"])),
            entry_tag="entry",
        )

    def on_data(self, ctx: Context) -> None:
        for symbol in ctx.updated:
            if ctx.indicator(symbol, "signal").last == 0.0:
                continue
            if ctx.qty(symbol) != 0 or ctx.open_orders(symbol):
                continue
            low = ctx.bars(symbol).low
            stop = min(low[-1], low[-2])
            order = ctx.buy(symbol, tag="entry")
            if order.status.is_open:
                self._stop[symbol] = stop

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        if fill.tag != "entry" or fill.side is not Side.BUY:
            return
        symbol = fill.symbol
        stop = self._stop.pop(symbol)
        qty = ctx.qty(symbol)
        risk = fill.price - stop
        if risk <= 0:
            ctx.close(symbol, tag="stop")
            return
        lot = max(1, ctx.instrument(symbol).lot_size)
        q1 = int(qty * self.exit_pct1) // lot * lot
        ctx.sell(symbol, qty, stop=stop, tag="stop", reduce_only=True)
        if q1 > 0:
            ctx.sell(
                symbol, q1, limit=fill.price + self.rr1 * risk, tag="target1", reduce_only=True
            )
        if qty - q1 > 0:
            ctx.sell(
                symbol,
                qty - q1,
                limit=fill.price + self.rr2 * risk,
                tag="target2",
                reduce_only=True,
            )
