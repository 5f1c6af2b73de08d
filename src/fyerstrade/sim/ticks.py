"""Ticks inside the synthetic market's 1-minute bars, for the simulator's data socket.

:func:`minute_ticks` turns one candle into a short sequence of trades that is consistent with
it: the first tick is at the minute's first second at the open, the path touches the high and the
low, the last tick is at the close, and the traded quantities add up to the candle's volume. So a
bar builder fed these ticks rebuilds exactly the candle the history API serves. Everything is
deterministic per ``(seed, symbol, minute)``.

:class:`TickSource` serves those ticks for a symbol over any time window, with the cumulative day
volume each tick carries (the sum of the day's earlier candles plus the trades so far).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import numpy as np

from fyerstrade.calendar import ist_date
from fyerstrade.sim.market import Bars, symbol_key
from fyerstrade.sim.state import SimState
from fyerstrade.sim.universe import SimInstrument

__all__ = ["SimTick", "TickSource", "minute_ticks"]

MIN_TICKS = 4
MAX_TICKS = 9


@dataclass(frozen=True, slots=True)
class SimTick:
    """One trade: time, price, quantity and the day's cumulative volume including it."""

    ts: int
    price: float
    qty: int
    cum_volume: int


def _on_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 2)


def minute_ticks(
    seed: int,
    symbol: str,
    ts: int,
    ohlcv: tuple[float, float, float, float, int],
    tick: float,
    cum_before: int,
) -> list[SimTick]:
    """The trades of the minute opened at ``ts`` whose candle is ``ohlcv``; ``cum_before`` is the
    day's cumulative volume at the end of the previous minute."""
    o, h, lo, c, v = ohlcv
    rng = random.Random(seed * 1_000_003 + symbol_key(symbol) * 7 + ts)
    n = rng.randint(MIN_TICKS, MAX_TICKS)
    prices = [o]
    extremes = [h, lo] if rng.random() < 0.5 else [lo, h]
    middle = n - 2  # ticks between the open and the close; at least two carry high and low
    fillers = [_on_tick(rng.uniform(lo, h), tick) for _ in range(middle - 2)]
    inner = extremes + fillers
    rng.shuffle(inner)
    prices += inner
    prices.append(c)
    seconds = [0, *sorted(rng.sample(range(1, 59), n - 2)), 59]
    # Split the volume: random cut points in [0, v]; zero-quantity ticks are price-only updates.
    cuts = sorted(rng.randint(0, v) for _ in range(n - 1)) if v > 0 else [0] * (n - 1)
    edges = [0, *cuts, v]
    out: list[SimTick] = []
    cum = cum_before
    for i in range(n):
        qty = edges[i + 1] - edges[i]
        cum += qty
        out.append(SimTick(ts + seconds[i], prices[i], qty, cum))
    return out


class TickSource:
    """Ticks of the simulator's instruments over time windows (thread-unsafe; one per socket)."""

    def __init__(self, state: SimState) -> None:
        self._state = state
        self._days: dict[tuple[str, date], tuple[Bars, np.ndarray]] = {}

    def day(self, inst: SimInstrument, d: date) -> tuple[Bars, np.ndarray]:
        """The day's 1-minute candles and the cumulative volume before each one."""
        key = (inst.symbol, d)
        hit = self._days.get(key)
        if hit is None:
            bars = self._state.market.minute_bars(inst, d, self._state.root_of(inst))
            before = np.concatenate(([0], np.cumsum(bars.volume)[:-1])) if len(bars) else bars.ts
            hit = (bars, before.astype(np.int64))
            if len(self._days) > 512:
                self._days.clear()
            self._days[key] = hit
        return hit

    def ticks(self, inst: SimInstrument, start: int, end: int) -> list[SimTick]:
        """Trades with ``start < ts <= end`` (at most one IST day is crossed per call in practice;
        longer windows are walked minute by minute)."""
        out: list[SimTick] = []
        if end <= start:
            return out
        minute = (start + 1) - (start + 1) % 60
        while minute <= end:
            d = ist_date(minute)
            bars, before = self.day(inst, d)
            if len(bars):
                i = int(np.searchsorted(bars.ts, minute))
                while i < len(bars) and int(bars.ts[i]) <= end:
                    for t in self.candle_ticks(inst, bars, before, i):
                        if start < t.ts <= end:
                            out.append(t)
                    i += 1
            # next IST day
            minute = (minute + 19_800) // 86_400 * 86_400 + 86_400 - 19_800
        return out

    def candle_ticks(
        self, inst: SimInstrument, bars: Bars, before: np.ndarray, i: int
    ) -> list[SimTick]:
        """The trades of the ``i``-th candle of a day."""
        ohlcv = (
            float(bars.open[i]),
            float(bars.high[i]),
            float(bars.low[i]),
            float(bars.close[i]),
            int(bars.volume[i]),
        )
        return minute_ticks(
            self._state.config.seed, inst.symbol, int(bars.ts[i]), ohlcv, inst.tick, int(before[i])
        )

    def last_trade(self, inst: SimInstrument, at: int) -> SimTick | None:
        """The latest trade at or before ``at`` on ``at``'s IST day (for snapshots)."""
        bars, before = self.day(inst, ist_date(at))
        if not len(bars):
            return None
        i = int(np.searchsorted(bars.ts, at - at % 60, side="right")) - 1
        while i >= 0:
            ticks = [t for t in self.candle_ticks(inst, bars, before, i) if t.ts <= at]
            if ticks:
                return ticks[-1]
            i -= 1
        return None
