"""The one bar loader: a run's candles of any resolution from the store, and what it really used.

Backtests, the dashboard and the optimizer load bars through :func:`load_bars`. For each symbol
it picks the stored resolution to read: the run's own resolution when stored, otherwise a finer
one it can be built from (:mod:`fyerstrade.data.resample`, by NSE session) — whichever covers
the asked range best, the finest on a tie. It says which source each symbol came from, the period
the bars actually span, and whether the asked range reaches outside the stored data
(:attr:`LoadedBars.outside`), so no caller changes dates silently.

When a symbol has no bars in range the error names the real cause: a range without NSE trading
days (a weekend, a holiday, the future), a symbol nobody knows (no fetch advice: check the
spelling), or candles not fetched yet (with the fetch command).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from fyerstrade.calendar import get_calendar, ist_date, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.data.resample import resample, source_candidates
from fyerstrade.domain import DAY_SECONDS, IST_OFFSET, Instrument, InstrumentKind, Resolution
from fyerstrade.errors import CalendarCoverageError, DataError, UnknownSymbolError
from fyerstrade.store.candles import load_candles, stored_spans

__all__ = [
    "LoadedBars",
    "is_index",
    "load_bars",
    "resolution_label",
    "stored_span",
    "trading_days",
]

InstrumentLookup = Callable[[str, date], Instrument]


def resolution_label(r: Resolution) -> str:
    """``daily``, ``1-minute``, ``15-minute``."""
    return "daily" if r is Resolution.D else f"{r.value}-minute"


def is_index(instrument: Instrument) -> bool:
    """Whether the symbol is an index (readable as a signal, never tradable)."""
    return instrument.kind is InstrumentKind.INDEX or instrument.symbol.upper().endswith("-INDEX")


def trading_days(start: date, end: date) -> list[date]:
    """NSE trading days in ``[start, end]``; in a year without a published holiday list,
    Mon–Fri (:meth:`~fyerstrade.calendar.NSECalendar.assumption_note` says so)."""
    try:
        return get_calendar().trading_days(start, end)
    except CalendarCoverageError:
        return get_calendar(assume_weekdays=True).trading_days(start, end)


@dataclass(slots=True)
class LoadedBars:
    """A run's bars per symbol, with where they came from and the period they span."""

    resolution: Resolution
    requested: tuple[date, date]
    bars: dict[str, CandleArrays]
    sources: dict[str, Resolution]
    instruments: dict[str, Instrument]
    lookup: InstrumentLookup
    #: per symbol, the dates of its first and last bar in range
    spans: dict[str, tuple[date, date]] = field(default_factory=dict)
    #: the trading days the asked range holds, first and last
    wanted: tuple[date, date] | None = None
    #: what else the run must say: a range reaching a year without a published holiday list
    notes: list[str] = field(default_factory=list)

    @property
    def period(self) -> tuple[date, date]:
        """The dates the run really covers: first bar of any symbol → last bar of any."""
        firsts = [s[0] for s in self.spans.values()]
        lasts = [s[1] for s in self.spans.values()]
        return min(firsts), max(lasts)

    @property
    def short_symbols(self) -> list[str]:
        """Symbols whose stored bars start after the first or end before the last trading day
        of the asked range."""
        if self.wanted is None:
            return []
        lo, hi = self.wanted
        return [s for s, (a, b) in self.spans.items() if a > lo or b < hi]

    @property
    def outside(self) -> bool:
        """Whether the asked range reaches outside the stored data."""
        return bool(self.short_symbols)

    def outside_message(self) -> str:
        """One line naming the asked range, what is stored and the period the run uses."""
        a, b = self.requested
        lo, hi = self.period
        stored = "; ".join(
            f"{s} {x} → {y}" for s, (x, y) in self.spans.items() if s in self.short_symbols
        )
        return (
            f"the range {a} → {b} reaches outside the stored {resolution_label(self.resolution)} "
            f"bars ({stored}); the run uses {lo} → {hi}"
        )

    def source_text(self) -> str:
        """``built from 1-minute bars`` when any symbol was resampled, else ``""``."""
        built = {r for s, r in self.sources.items() if r is not self.resolution}
        if not built:
            return ""
        return "built from " + ", ".join(
            f"{resolution_label(r)} bars" for r in sorted(built, key=lambda r: r.seconds)
        )


def _day_bounds(start: date, end: date) -> tuple[int, int]:
    return ist_epoch(start), ist_epoch(end + timedelta(days=1)) - 1


def _overlap(first: int, last: int, lo: int, hi: int) -> int:
    return max(0, min(last, hi) - max(first, lo))


def _no_bars_error(
    conn: sqlite3.Connection,
    symbol: str,
    res: Resolution,
    start: date,
    end: date,
    known: bool,
    stored: dict[Resolution, tuple[int, int]],
    today: date,
) -> Exception:
    label = resolution_label(res)
    if not known and not stored:
        return UnknownSymbolError(
            f"unknown symbol {symbol!r}: not in the symbol master and no candles stored; check "
            "the spelling (e.g. NSE:SBIN-EQ), or load the master with `fyerstrade data symbols`"
        )
    if start > today:
        return DataError(
            f"{start} → {end} is in the future: no trading day has happened yet; "
            f"pick dates up to {today}"
        )
    days = trading_days(start, end)
    if not days:
        return DataError(
            f"no NSE trading days between {start} and {end} (a weekend or holidays); "
            "widen the range"
        )
    usable = source_candidates(res, set(stored))
    fetch = (
        f"run `fyerstrade data fetch --symbol {symbol} --resolution {res.value} "
        f"--from {days[0]} --to {min(days[-1], today)}`"
    )
    if not usable:
        return DataError(
            f"no {label} candles stored for {symbol}, nor finer ones to build them from; {fetch}"
        )
    have = "; ".join(
        f"{resolution_label(r)} {ist_date(stored[r][0])} → {ist_date(stored[r][1])}" for r in usable
    )
    return DataError(
        f"no {label} candles for {symbol} between {start} and {end} (stored: {have}); {fetch}"
    )


def stored_span(
    conn: sqlite3.Connection, symbols: Sequence[str], resolution: Resolution
) -> tuple[date, date] | None:
    """The dates the store can give ``resolution`` bars for, for any of ``symbols`` (read or
    built from finer ones): first → last; ``None`` when nothing is stored."""
    firsts: list[int] = []
    lasts: list[int] = []
    for sym in symbols:
        stored = stored_spans(conn, sym)
        for r in source_candidates(Resolution(resolution), set(stored)):
            firsts.append(stored[r][0])
            lasts.append(stored[r][1])
    if not firsts:
        return None
    return ist_date(min(firsts)), ist_date(max(lasts))


def load_bars(
    conn: sqlite3.Connection,
    symbols: Sequence[str],
    resolution: Resolution,
    start: date,
    end: date,
    *,
    today: date | None = None,
) -> LoadedBars:
    """Every symbol's ``resolution`` bars from ``start`` to ``end`` (inclusive IST dates), read
    from the store or built from finer stored bars (see the module docstring).

    Raises :class:`UnknownSymbolError` or :class:`DataError` with the real cause when a symbol has
    no bars in range."""
    from fyerstrade.store.symbols import get_instrument

    res = Resolution(resolution)
    if today is None:
        import time

        today = ist_date(int(time.time()))
    lo, hi = _day_bounds(start, end)
    bars: dict[str, CandleArrays] = {}
    sources: dict[str, Resolution] = {}
    instruments: dict[str, Instrument] = {}
    spans: dict[str, tuple[date, date]] = {}
    for sym in symbols:
        stored = stored_spans(conn, sym)
        ins = get_instrument(conn, sym, start)
        ranked = sorted(
            enumerate(source_candidates(res, set(stored))),
            key=lambda kr: (-_overlap(*stored[kr[1]], lo, hi), kr[0]),
        )
        arrays = CandleArrays.empty()
        source = res
        for _, cand in ranked:
            arrays = load_candles(conn, sym, cand, lo, hi)
            if len(arrays):
                source = cand
                break
        if len(arrays) == 0:
            raise _no_bars_error(conn, sym, res, start, end, ins is not None, stored, today)
        if source is not res:
            arrays = resample(arrays, source, res)
        bars[sym] = arrays
        sources[sym] = source
        instruments[sym] = ins or Instrument(sym)
        spans[sym] = (ist_date(int(arrays.ts[0])), ist_date(int(arrays.ts[-1])))
    lots: dict[tuple[str, date], Instrument] = {}
    for sym, ins in instruments.items():
        if ins.is_derivative:
            # lot sizes change over time: read the one in force on every traded day
            for day in np.unique((bars[sym].ts + IST_OFFSET) // DAY_SECONDS).tolist():
                d = date(1970, 1, 1) + timedelta(days=int(day))
                lots[(sym, d)] = get_instrument(conn, sym, d) or ins

    def lookup(symbol: str, d: date) -> Instrument:
        return lots.get((symbol, d), instruments[symbol])

    days = trading_days(start, end)
    wanted = (days[0], days[-1]) if days else None
    notes = []
    assumed = get_calendar().assumption_note(start, end)
    if assumed is not None:
        notes.append(assumed)
    return LoadedBars(res, (start, end), bars, sources, instruments, lookup, spans, wanted, notes)
