"""What the live strategy sees before it trades: the instruments and the warm-up bars.

* :func:`load_instruments`: each symbol's instrument on the day (lot and tick size), from the
  symbol master; a symbol the master lacks but the store has candles of trades as a plain
  equity; one it has never heard of is an :class:`~fyerstrade.errors.UnknownSymbolError`.
* :func:`warmup_bars`: the last ``warmup_bars`` stored bars of the strategy's resolution before
  the day, plus the bars the engine built live on earlier days that the history store lacks (a
  positional strategy traded yesterday live and nobody fetched its candles since).
* :func:`today_so_far`: a segment that starts after the open gets the day's complete minutes
  before its start as warm-up (no trading): bars it did not trade on are not trades it pretends
  it made. A resumed segment calls it with the segment's start, so it rebuilds the same warm-up.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Sequence
from datetime import date

import numpy as np

from fyerstrade.calendar import IST_OFFSET, NSECalendar, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings
from fyerstrade.domain import DAY_SECONDS, Bar, Instrument, Resolution
from fyerstrade.errors import CalendarCoverageError, UnknownSymbolError
from fyerstrade.fyers.client import FyersClient
from fyerstrade.live.bars import Resampler
from fyerstrade.live.session_store import SessionStore

__all__ = [
    "close_times",
    "concat",
    "load_instruments",
    "load_warmup",
    "today_so_far",
    "warmup_bars",
]

log = logging.getLogger("fyerstrade.live.engine")

_FIELDS = ("ts", "open", "high", "low", "close", "volume")


def load_instruments(
    hist: sqlite3.Connection, symbols: Sequence[str], day: date
) -> dict[str, Instrument]:
    from fyerstrade.store.candles import candle_timestamps
    from fyerstrade.store.symbols import get_instrument

    out: dict[str, Instrument] = {}
    for sym in symbols:
        ins = get_instrument(hist, sym, day)
        if ins is None:
            if not len(candle_timestamps(hist, sym, Resolution.M1)):
                raise UnknownSymbolError(
                    f"unknown symbol {sym!r}: not in the symbol master; check the spelling "
                    "(e.g. NSE:SBIN-EQ) or run `fyerstrade data symbols`"
                )
            ins = Instrument(sym)
        out[sym] = ins
    return out


def load_warmup(
    settings: Settings,
    store: SessionStore,
    symbols: Sequence[str],
    resolution: Resolution,
    day: date,
    n: int,
) -> tuple[dict[str, Instrument], dict[str, CandleArrays]]:
    """The instruments of ``symbols`` on ``day`` and their warm-up bars (:func:`warmup_bars`),
    from the historical store (checked first)."""
    from fyerstrade.store.db import open_historical

    hist = open_historical(settings, verify=True)
    try:
        instruments = load_instruments(hist, symbols, day)
        return instruments, warmup_bars(hist, store, symbols, resolution, day, n)
    finally:
        hist.close()


def warmup_bars(
    hist: sqlite3.Connection,
    store: SessionStore,
    symbols: Sequence[str],
    resolution: Resolution,
    day: date,
    n: int,
) -> dict[str, CandleArrays]:
    """The last ``n`` stored bars of ``resolution`` before ``day``, per symbol."""
    from fyerstrade.store.candles import load_candles

    hi = ist_epoch(day) - 1
    per_day = max(1, 375 * 60 // resolution.seconds)
    lo = hi - (math.ceil(n / per_day) * 2 + 7) * DAY_SECONDS
    out: dict[str, CandleArrays] = {}
    for sym in symbols:
        arrays = load_candles(hist, sym, resolution, lo, hi) if n else CandleArrays.empty()
        if n:
            arrays = _with_earlier_live_days(store, sym, resolution, arrays, lo, hi)
        if len(arrays) > n:
            arrays = arrays.slice(len(arrays) - n, len(arrays))
        if len(arrays) < n:
            log.warning(
                "%s: only %d of %d warm-up bars stored; fetch more with `fyerstrade data "
                "fetch --symbol %s --resolution %s`",
                sym,
                len(arrays),
                n,
                sym,
                resolution.value,
            )
        out[sym] = arrays
    return out


def _with_earlier_live_days(
    store: SessionStore,
    symbol: str,
    resolution: Resolution,
    stored: CandleArrays,
    lo: int,
    hi: int,
) -> CandleArrays:
    """``stored`` plus the bars the engine built on earlier days the history store lacks."""
    have_days = {int(d) for d in (stored.ts + IST_OFFSET) // DAY_SECONDS}
    bars = [
        bar
        for bar, _ in store.bars_between([symbol], lo, hi + 1)
        if (bar.ts + IST_OFFSET) // DAY_SECONDS not in have_days
    ]
    if not bars:
        return stored
    if resolution is not Resolution.M1:
        resampler = Resampler(resolution)
        bars = resampler.on_bars(bars) + resampler.flush()
    merged = concat(stored, bars)
    order = np.argsort(merged.ts, kind="stable")
    log.info("%s: warm-up includes %d bar(s) built live on earlier days", symbol, len(bars))
    return CandleArrays(*(getattr(merged, f)[order] for f in _FIELDS))


def today_so_far(
    client: FyersClient,
    symbols: Sequence[str],
    resolution: Resolution,
    warm: dict[str, CandleArrays],
    open_ts: int,
    start: int,
) -> list[Bar]:
    """Append the day's complete minutes before ``start`` (from the history API) to ``warm``;
    return those 1-minute bars (the caller stores them: ticks of those minutes are late)."""
    last = start - start % 60 - 60
    out: list[Bar] = []
    if last < open_ts:
        return out
    for sym in symbols:
        bars = [
            Bar(sym, Resolution.M1, ts, o, h, lo, c, v)
            for ts, o, h, lo, c, v in client.history(sym, Resolution.M1, open_ts, last)
            if open_ts <= ts <= last
        ]
        out.extend(bars)
        if resolution is not Resolution.M1:
            rs = Resampler(resolution)
            bars = rs.on_bars(bars) + [b for b in rs.flush() if b.ts + resolution.seconds <= start]
        if bars:
            warm[sym] = concat(warm[sym], bars)
    return out


def concat(arrays: CandleArrays, bars: Sequence[Bar]) -> CandleArrays:
    """``arrays`` followed by ``bars``."""
    extra = CandleArrays.from_rows([(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars])
    return CandleArrays(*(np.concatenate((getattr(arrays, f), getattr(extra, f))) for f in _FIELDS))


def close_times(calendar: NSECalendar, ts: np.ndarray, resolution: Resolution) -> np.ndarray:
    """The close time of each bar opened at ``ts`` (by the calendar's sessions; nominal
    durations past the calendar's coverage)."""
    try:
        return calendar.bar_close_times(ts, resolution)
    except CalendarCoverageError:
        return ts.astype(np.int64) + resolution.seconds
