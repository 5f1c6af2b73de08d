"""Per-symbol state of a run: its bars, cursor, indicators, open orders and session marks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

import numpy as np

from fyerstrade.candles import CandleArrays
from fyerstrade.data.resample import bucket_bounds
from fyerstrade.domain import IST_OFFSET, Bar, Instrument, Order, Resolution
from fyerstrade.trading.bars import BarsView, Cursor, SeriesView
from fyerstrade.trading.session import DAY

InstrumentLookup = Callable[[str, date], Instrument]


class SymbolState:
    """Everything the engine keeps for one symbol.

    ``cursor.i`` is the index of the latest closed bar; ``close_ts[i]`` the instant bar ``i``
    became known (the clock at ``on_data``)."""

    __slots__ = (
        "_buffer",
        "_close_buffer",
        "_instrument_day",
        "arrays",
        "bars",
        "close_ts",
        "cursor",
        "higher",
        "index",
        "indicator_arrays",
        "indicator_views",
        "instrument",
        "lookup",
        "orders",
        "resolution",
        "sq_close",
        "sq_open",
        "symbol",
    )

    def __init__(
        self,
        index: int,
        symbol: str,
        arrays: CandleArrays,
        resolution: Resolution,
        instrument: Instrument,
        close_ts: np.ndarray | None = None,
        lookup: InstrumentLookup | None = None,
    ) -> None:
        self.index = index
        self.symbol = symbol
        self.arrays = arrays
        self.resolution = resolution
        self.instrument = instrument
        self.lookup = lookup
        self._instrument_day = -1
        self.cursor = Cursor()
        self.bars = BarsView(symbol, arrays, self.cursor)
        if close_ts is None:
            close_ts = arrays.ts.astype(np.int64) + resolution.seconds
        self.close_ts: np.ndarray = np.asarray(close_ts, dtype=np.int64)
        self.indicator_arrays: dict[str, np.ndarray] = {}
        self.indicator_views: dict[str, SeriesView] = {}
        self.orders: list[Order] = []  # the engine's open orders of this symbol, oldest first
        self.sq_open: frozenset[int] = frozenset()
        self.sq_close: frozenset[int] = frozenset()
        self.higher: dict[Resolution, HigherBars] = {}
        self._buffer: CandleArrays | None = None
        self._close_buffer: np.ndarray | None = None

    def close_ts_at(self, i: int) -> int:
        return int(self.close_ts[i])

    def open_at(self, i: int) -> float:
        return float(self.arrays.open.item(i))

    def close_at(self, i: int) -> float:
        return float(self.arrays.close.item(i))

    def set_indicators(self, values: Mapping[str, np.ndarray]) -> None:
        n = len(self.arrays)
        for name, arr in values.items():
            a = np.asarray(arr, dtype=np.float64)
            if a.shape != (n,):
                raise ValueError(
                    f"indicator {name!r} of {self.symbol} has shape {a.shape}, "
                    f"expected ({n},) aligned with the bars"
                )
            self.indicator_arrays[name] = a
            view = self.indicator_views.get(name)
            if view is None:
                self.indicator_views[name] = SeriesView(f"{self.symbol}.{name}", a, self.cursor)
            else:
                view.rebind(a)

    def append_bar(self, bar: Bar, close_ts: int) -> int:
        """Add a bar that has just closed (a live bar source); return its index.

        The columns live in buffers that grow by doubling; ``arrays`` and every view are
        rebound to the filled part, so views a strategy holds stay valid. Higher-resolution
        bars are rebuilt on their next request."""
        n = len(self.arrays)
        if n and bar.ts <= int(self.arrays.ts[n - 1]):
            raise ValueError(f"{self.symbol}: bar at {bar.ts} is not after the last bar")
        buf = self._buffer
        if buf is None or n == len(buf.ts):
            cap = max(64, 2 * n)
            old = self.arrays
            buf = CandleArrays(
                np.empty(cap, np.int64),
                np.empty(cap, np.float64),
                np.empty(cap, np.float64),
                np.empty(cap, np.float64),
                np.empty(cap, np.float64),
                np.empty(cap, np.int64),
            )
            for name in ("ts", "open", "high", "low", "close", "volume"):
                getattr(buf, name)[:n] = getattr(old, name)
            self._buffer = buf
            grown = np.empty(cap, np.int64)
            grown[:n] = self.close_ts[:n]
            self._close_buffer = grown
        buf.ts[n] = bar.ts
        buf.open[n] = bar.open
        buf.high[n] = bar.high
        buf.low[n] = bar.low
        buf.close[n] = bar.close
        buf.volume[n] = bar.volume
        k = n + 1
        self.arrays = CandleArrays(
            buf.ts[:k], buf.open[:k], buf.high[:k], buf.low[:k], buf.close[:k], buf.volume[:k]
        )
        self.bars.rebind(self.arrays)
        closes = self._close_buffer
        assert closes is not None
        closes[n] = close_ts
        self.close_ts = closes[:k]
        self.higher.clear()
        return n

    def replace_bar(self, bar: Bar) -> bool:
        """Put ``bar`` in place of the bar of the same open time that a live bar source appended
        (:meth:`append_bar`); False when there is none (nothing changed). Views a strategy
        holds see the new values; higher-resolution bars are rebuilt on their next request."""
        arrays = self.arrays
        if self._buffer is None:
            return False  # no bar was appended: these are the run's own (warm-up) bars
        i = int(np.searchsorted(arrays.ts, bar.ts))
        if i >= len(arrays) or int(arrays.ts[i]) != bar.ts:
            return False
        arrays.open[i] = bar.open
        arrays.high[i] = bar.high
        arrays.low[i] = bar.low
        arrays.close[i] = bar.close
        arrays.volume[i] = bar.volume
        self.higher.clear()
        return True

    def instrument_at(self, ts: int) -> Instrument:
        """The instrument with the lot size in force on the IST date of ``ts``."""
        if self.lookup is None:
            return self.instrument
        day = (ts + IST_OFFSET) // DAY
        if day != self._instrument_day:
            d = date.fromordinal(date(1970, 1, 1).toordinal() + day)
            self.instrument = self.lookup(self.symbol, d)
            self._instrument_day = day
        return self.instrument

    def higher_bars(self, resolution: Resolution) -> HigherBars:
        hb = self.higher.get(resolution)
        if hb is None:
            hb = self.higher[resolution] = HigherBars(self.symbol, self.arrays, resolution)
        return hb


class HigherBars:
    """Bars of a higher resolution built from the primary bars, revealed only once closed.

    Bars are bucketed by the calendar's session segments, as stored bars are resampled
    (``data/resample.py``) and live bars are built (``live/bars.py``): minute buckets start at
    each segment's open (09:15 on a normal day, 18:00 for a Muhurat session) and close at the
    bucket's end, cut at the segment's close (the short 15:15–15:30 hour); a daily bar closes
    with the day's last segment, so it is never visible before the session has closed.
    ``update(now)`` moves the cursor to the last bar with close time ≤ now."""

    __slots__ = ("arrays", "close_ts", "cursor", "view")

    def __init__(self, symbol: str, primary: CandleArrays, resolution: Resolution) -> None:
        starts, ends = bucket_bounds(primary.ts, resolution)
        if len(starts):
            first = np.flatnonzero(np.concatenate(([True], starts[1:] != starts[:-1])))
        else:
            first = np.empty(0, dtype=np.int64)
        last = np.concatenate((first[1:] - 1, [len(starts) - 1])) if len(first) else first
        self.arrays = CandleArrays(
            ts=starts[first].astype(np.int64),
            open=primary.open[first],
            high=np.maximum.reduceat(primary.high, first) if len(first) else primary.high[:0],
            low=np.minimum.reduceat(primary.low, first) if len(first) else primary.low[:0],
            close=primary.close[last],
            volume=np.add.reduceat(primary.volume, first) if len(first) else primary.volume[:0],
        )
        self.close_ts = ends[first].astype(np.int64)
        self.cursor = Cursor()
        self.view = BarsView(symbol, self.arrays, self.cursor)

    def update(self, now: int) -> BarsView:
        self.cursor.i = int(np.searchsorted(self.close_ts, now, side="right")) - 1
        return self.view
