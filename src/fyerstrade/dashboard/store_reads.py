"""The dashboard's reads of the stores, cached per database file version.

Every read opens its own short-lived connection (Streamlit runs each session in a thread of its
own, and a SQLite connection belongs to the thread that opened it), and is cached with
``st.cache_data`` keyed on the file's *stamp*: the modification time and size of the database
and of its ``-wal`` file. In WAL mode a commit touches the ``-wal`` file before any checkpoint
touches the database, so the stamp changes on every commit and a cached answer is never stale,
while a page rerun that changes nothing reads nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import streamlit as st

from fyerstrade.backtest.journal import RunSummary, StoredRun, list_runs, load_run
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings, load_settings
from fyerstrade.data.bars import load_bars
from fyerstrade.data.coverage import CoverageRow, coverage_report, missing_by_day
from fyerstrade.data.resample import source_candidates
from fyerstrade.domain import Instrument, Resolution
from fyerstrade.errors import FyersTradeError
from fyerstrade.store.candles import CandleStats, candle_stats
from fyerstrade.store.db import connect
from fyerstrade.store.symbols import search_symbols, symbol_count

Stamp = tuple[int, int, int, int]


def dashboard_settings() -> Settings:
    """The settings of this dashboard process (its parent passes FYERSTRADE_DATA_DIR)."""
    return load_settings()


def stamp(path: Path) -> Stamp:
    """Modification time and size of a database and its WAL file (zeros when absent)."""
    out: list[int] = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            st_ = p.stat()
            out += [st_.st_mtime_ns, st_.st_size]
        except FileNotFoundError:
            out += [0, 0]
    return (out[0], out[1], out[2], out[3])


@contextmanager
def _open(path: str) -> Iterator[sqlite3.Connection]:
    conn = connect(Path(path))
    try:
        yield conn
    finally:
        conn.close()


# ---- historical store --------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def _candle_stats(path: str, version: Stamp) -> list[CandleStats]:
    with _open(path) as conn:
        return candle_stats(conn)


def series_stats(settings: Settings) -> list[CandleStats]:
    """First/last candle and count of every stored symbol × resolution."""
    p = settings.historical_db
    return _candle_stats(str(p), stamp(p))


def stored_symbols(settings: Settings) -> list[str]:
    """Symbols with candles in the store, sorted."""
    return sorted({s.symbol for s in series_stats(settings)})


def buildable(settings: Settings, symbol: str) -> set[Resolution]:
    """Every resolution ``symbol``'s bars can be read or built at from what is stored."""
    have = {s.resolution for s in series_stats(settings) if s.symbol == symbol and s.count}
    return {r for r in Resolution if source_candidates(r, have)}


def sources(
    settings: Settings, symbols: list[str], resolution: Resolution
) -> dict[str, CandleStats]:
    """Per symbol, the stored series ``resolution`` bars come from (itself, or the finer series
    with the widest range that can build them); symbols with none are left out."""
    by_symbol: dict[str, dict[Resolution, CandleStats]] = {}
    for s in series_stats(settings):
        if s.count:
            by_symbol.setdefault(s.symbol, {})[s.resolution] = s
    out: dict[str, CandleStats] = {}
    for sym in symbols:
        have = by_symbol.get(sym, {})
        ranked = source_candidates(resolution, set(have))
        if ranked:
            best = max(ranked, key=lambda r: (have[r].last_ts - have[r].first_ts, r is resolution))
            out[sym] = have[best]
    return out


def stored_range(settings: Settings, symbols: list[str], resolution: Resolution) -> tuple[int, int]:
    """The epoch-second span (first, last bar open) that every one of ``symbols`` has stored at
    ``resolution`` or can build it from: the intersection of their ranges, or ``(0, 0)`` when
    one has none."""
    found = sources(settings, symbols, resolution)
    first, last = 0, 2**62
    for sym in symbols:
        st_ = found.get(sym)
        if st_ is None:
            return (0, 0)
        first, last = max(first, st_.first_ts), min(last, st_.last_ts)
    return (first, last) if symbols and first <= last else (0, 0)


@st.cache_data(show_spinner=False, max_entries=16)
def _coverage(path: str, version: Stamp) -> list[CoverageRow]:
    with _open(path) as conn:
        return coverage_report(conn, max_holes=3)


def coverage(settings: Settings) -> list[CoverageRow]:
    """The coverage report of the whole store (see :mod:`fyerstrade.data.coverage`)."""
    p = settings.historical_db
    return _coverage(str(p), stamp(p))


@st.cache_data(show_spinner=False, max_entries=64)
def _missing_by_day(
    path: str, version: Stamp, symbol: str, resolution: str, start: date, end: date
) -> dict[date, int]:
    with _open(path) as conn:
        return missing_by_day(conn, symbol, Resolution(resolution), start, end)


def missing_days(
    settings: Settings, symbol: str, resolution: Resolution, start: date, end: date
) -> dict[date, int]:
    """Missing bars per trading day of one series, for the heatmap."""
    p = settings.historical_db
    return _missing_by_day(str(p), stamp(p), symbol, resolution.value, start, end)


@st.cache_data(show_spinner=False, max_entries=32)
def _candles(
    path: str, version: Stamp, symbol: str, resolution: str, start: date, end: date
) -> CandleArrays:
    with _open(path) as conn:
        try:
            return load_bars(conn, [symbol], Resolution(resolution), start, end).bars[symbol]
        except FyersTradeError:
            return CandleArrays.empty()


def candles(
    settings: Settings, symbol: str, resolution: Resolution, start: date, end: date
) -> CandleArrays:
    """One symbol's bars from ``start`` to ``end`` (IST dates), through the bar loader: read,
    or built from finer stored bars; empty when none."""
    p = settings.historical_db
    return _candles(str(p), stamp(p), symbol, resolution.value, start, end)


@st.cache_data(show_spinner=False, max_entries=64)
def _closes(
    path: str, version: Stamp, symbol: str, resolution: str, start: date, end: date, points: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    from fyerstrade.reporting.charts import downsample

    with _open(path) as conn:
        try:
            bars = load_bars(conn, [symbol], Resolution(resolution), start, end).bars[symbol]
        except FyersTradeError:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    t, v = downsample(bars.ts, bars.close, points)
    return np.asarray(t, dtype=np.int64), np.asarray(v, dtype=np.float64)


def closes(
    settings: Settings, symbol: str, resolution: Resolution, start: date, end: date, points: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """One symbol's closes from ``start`` to ``end`` thinned to about ``points`` (first, last,
    lows and highs kept): what a small chart needs. Only the thinned arrays are cached, so a
    trader trying many date ranges over years of one-minute bars keeps kilobytes, not the bars."""
    p = settings.historical_db
    return _closes(str(p), stamp(p), symbol, resolution.value, start, end, points)


@st.cache_data(show_spinner=False, max_entries=64)
def _search(path: str, version: Stamp, text: str, limit: int) -> list[Instrument]:
    with _open(path) as conn:
        return search_symbols(conn, text, limit)


def find_instruments(settings: Settings, text: str, limit: int = 50) -> list[Instrument]:
    """Symbol master rows whose symbol or name contains ``text``."""
    p = settings.historical_db
    return _search(str(p), stamp(p), text, limit)


@st.cache_data(show_spinner=False, max_entries=4)
def _symbol_count(path: str, version: Stamp) -> int:
    with _open(path) as conn:
        return symbol_count(conn)


def instrument_count(settings: Settings) -> int:
    """Rows in the symbol master."""
    p = settings.historical_db
    return _symbol_count(str(p), stamp(p))


# ---- trading log -------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def _runs(path: str, version: Stamp, limit: int) -> list[RunSummary]:
    with _open(path) as conn:
        return list_runs(conn, limit=limit)


def runs(settings: Settings, limit: int = 500) -> list[RunSummary]:
    """Saved backtest runs, newest first."""
    p = settings.trading_db
    return _runs(str(p), stamp(p), limit)


@st.cache_data(show_spinner=False, max_entries=16)
def _run(path: str, version: Stamp, run_id: str) -> StoredRun:
    with _open(path) as conn:
        return load_run(conn, run_id)


def run(settings: Settings, run_id: str) -> StoredRun:
    """One saved run in full (InputError for an unknown id)."""
    p = settings.trading_db
    return _run(str(p), stamp(p), run_id)


def clear() -> None:
    """Forget every cached read (after this process wrote to a store)."""
    for fn in (_candle_stats, _coverage, _missing_by_day, _candles, _search, _symbol_count):
        fn.clear()
    _runs.clear()
    _run.clear()
