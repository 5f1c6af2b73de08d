"""The Paper trading page's reads: the live engine's tables in ``trading_log.sqlite`` and its
status.

The engine process writes ``live_paper_trades``, ``pt_portfolio_log``, ``live_positions`` and
``pt_live_debug_log`` while the page polls them every few seconds, so every read here opens a
short **read-only** connection (``mode=ro``: it can neither migrate nor write, so it never takes
the write lock) and closes it before returning; in WAL mode a reader never blocks the writer.
A database or table that does not exist yet reads as empty: before the first session there is
nothing to show, which is not an error.

Answers are cached with ``st.cache_data`` keyed on the file's stamp (see
:func:`fyerstrade.dashboard.store_reads.stamp`): every commit changes the stamp, so a cached
answer is never stale, and a refresh while the engine is idle reads nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import streamlit as st

from fyerstrade.config import Settings
from fyerstrade.dashboard.store_reads import Stamp, stamp
from fyerstrade.errors import StoreError
from fyerstrade.live.status import EngineStatus

__all__ = [
    "DEBUG_LEVELS",
    "DebugLine",
    "EquityCurve",
    "LiveOrder",
    "PaperTrade",
    "StoredPosition",
    "debug_log",
    "engine_state",
    "equity_curve",
    "missing_from_master",
    "read_only",
    "session_orders",
    "session_trades",
    "sessions",
    "stored_positions",
    "trading_day",
]

READ_TIMEOUT_S = 5.0
#: Levels of the debug log, least severe first (the engine writes logging's level names).
DEBUG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class PaperTrade:
    """One fill of a paper session (a row of ``live_paper_trades``)."""

    ts: int
    symbol: str
    side: str
    quantity: int
    price: float
    costs: float
    realized_pnl: float
    product: str
    tag: str
    order_id: str


@dataclass(frozen=True, slots=True)
class StoredPosition:
    """An open position as the engine last committed it (a row of ``live_positions``)."""

    symbol: str
    quantity: int
    avg_price: float
    realized_pnl: float
    product: str
    opened_ts: int | None
    updated_ts: int
    session_id: str


@dataclass(frozen=True, slots=True)
class DebugLine:
    """One engine or strategy message (a row of ``pt_live_debug_log``)."""

    id: int
    ts: int
    level: str
    source: str
    symbol: str
    message: str


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """A session's equity log (``pt_portfolio_log``), oldest first."""

    ts: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    cash: npt.NDArray[np.float64]
    realized_pnl: npt.NDArray[np.float64]
    unrealized_pnl: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.ts.shape[0])


class _NoTableError(Exception):
    """A table the read needs does not exist yet (reads as empty)."""


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection to ``path`` for the block, or None when the file does not exist."""
    if not path.is_file():
        yield None
        return
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=READ_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} for reading: {exc}") from exc
    try:
        yield conn
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):  # a database from before the live tables: nothing yet
            raise _NoTableError from None
        raise StoreError(f"cannot read {path}: {exc}") from exc
    finally:
        conn.close()


def _select(path: str, sql: str, args: Sequence[Any] = ()) -> list[Any]:
    """The rows of ``sql`` on the database at ``path``; none while the file or the table
    does not exist yet."""
    try:
        with read_only(Path(path)) as conn:
            return [] if conn is None else conn.execute(sql, args).fetchall()
    except _NoTableError:
        return []


# ---- sessions and trades -----------------------------------------------------------------


def trading_day(session_id: str) -> str:
    """The IST trading day of a session id: the engine journals each run of a day (a restart
    after a crash is another run) as ``2026-11-23#<run>``, its status says ``2026-11-23``."""
    return session_id.partition("#")[0]


#: Matches the rows of one trading day, whether journalled as ``day`` or ``day#run``.
_DAY_MATCH = "(session_id = ?1 OR substr(session_id, 1, ?2) = ?3)"


def _day_args(day: str) -> tuple[str, int, str]:
    return (day, len(day) + 1, f"{day}#")


@st.cache_data(show_spinner=False, max_entries=8)
def _sessions(path: str, version: Stamp) -> list[str]:
    rows = _select(
        path,
        "SELECT session_id FROM live_paper_trades UNION SELECT session_id FROM pt_portfolio_log"
        " UNION SELECT session_id FROM live_orders",
    )
    return sorted({trading_day(str(r[0])) for r in rows if r[0]}, reverse=True)


def sessions(settings: Settings) -> list[str]:
    """Trading days (IST, ``2026-11-23``) with trades, orders or equity, newest first."""
    p = settings.trading_db
    return _sessions(str(p), stamp(p))


@st.cache_data(show_spinner=False, max_entries=16)
def _trades(path: str, version: Stamp, session_id: str) -> list[PaperTrade]:
    rows = _select(
        path,
        "SELECT ts, symbol, side, quantity, price, costs, realized_pnl, product, tag, "
        f"order_id FROM live_paper_trades WHERE {_DAY_MATCH} ORDER BY ts, id",
        _day_args(session_id),
    )
    return [
        PaperTrade(
            ts=int(r[0]),
            symbol=str(r[1]),
            side=str(r[2]),
            quantity=int(r[3]),
            price=float(r[4]),
            costs=float(r[5]),
            realized_pnl=float(r[6]),
            product=str(r[7]),
            tag=str(r[8]),
            order_id=str(r[9]),
        )
        for r in rows
    ]


def session_trades(settings: Settings, session_id: str) -> list[PaperTrade]:
    """The fills of one trading day (every run of it), oldest first."""
    p = settings.trading_db
    return _trades(str(p), stamp(p), session_id)


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """One order of a live session as ``live_orders`` holds it (status as it now stands)."""

    order_id: str
    broker_id: str
    symbol: str
    side: str
    quantity: int
    order_type: str
    limit_price: float | None
    stop_price: float | None
    status: str
    filled_quantity: int
    avg_fill_price: float
    reject_reason: str
    tag: str
    created_ts: int
    updated_ts: int


@st.cache_data(show_spinner=False, max_entries=16)
def _orders(path: str, version: Stamp, session_id: str) -> list[LiveOrder]:
    rows = _select(
        path,
        "SELECT order_id, broker_id, symbol, side, quantity, order_type, limit_price, stop_price,"
        " status, filled_quantity, avg_fill_price, reject_reason, tag, created_ts, updated_ts"
        f" FROM live_orders WHERE {_DAY_MATCH} ORDER BY created_ts, order_id",
        _day_args(session_id),
    )
    return [
        LiveOrder(
            order_id=str(r[0]),
            broker_id=str(r[1] or ""),
            symbol=str(r[2]),
            side=str(r[3]),
            quantity=int(r[4]),
            order_type=str(r[5]),
            limit_price=None if r[6] is None else float(r[6]),
            stop_price=None if r[7] is None else float(r[7]),
            status=str(r[8]),
            filled_quantity=int(r[9]),
            avg_fill_price=float(r[10]),
            reject_reason=str(r[11] or ""),
            tag=str(r[12] or ""),
            created_ts=int(r[13]),
            updated_ts=int(r[14]),
        )
        for r in rows
    ]


def session_orders(settings: Settings, session_id: str) -> list[LiveOrder]:
    """The orders of one trading day (every run of it), oldest first."""
    p = settings.trading_db
    return _orders(str(p), stamp(p), session_id)


# ---- positions and equity ----------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def _positions(path: str, version: Stamp) -> list[StoredPosition]:
    rows = _select(
        path,
        "SELECT symbol, quantity, avg_price, realized_pnl, product, opened_ts, "
        "updated_ts, session_id FROM live_positions WHERE quantity != 0 ORDER BY symbol",
    )
    return [
        StoredPosition(
            symbol=str(r[0]),
            quantity=int(r[1]),
            avg_price=float(r[2]),
            realized_pnl=float(r[3]),
            product=str(r[4]),
            opened_ts=None if r[5] is None else int(r[5]),
            updated_ts=int(r[6]),
            session_id=str(r[7]),
        )
        for r in rows
    ]


def stored_positions(settings: Settings) -> list[StoredPosition]:
    """Open positions as the engine last committed them (with the trade that changed them)."""
    p = settings.trading_db
    return _positions(str(p), stamp(p))


@st.cache_data(show_spinner=False, max_entries=16)
def _equity(path: str, version: Stamp, session_id: str) -> EquityCurve:
    rows = _select(
        path,
        "SELECT ts, equity, cash, realized_pnl, unrealized_pnl FROM pt_portfolio_log "
        f"WHERE {_DAY_MATCH} ORDER BY ts",
        _day_args(session_id),
    )
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return EquityCurve(
        ts=np.asarray(cols[0], dtype=np.int64),
        equity=np.asarray(cols[1], dtype=np.float64),
        cash=np.asarray(cols[2], dtype=np.float64),
        realized_pnl=np.asarray(cols[3], dtype=np.float64),
        unrealized_pnl=np.asarray(cols[4], dtype=np.float64),
    )


def equity_curve(settings: Settings, session_id: str) -> EquityCurve:
    """The equity log of one trading day (every run of it; empty arrays when it has none)."""
    p = settings.trading_db
    return _equity(str(p), stamp(p), session_id)


# ---- debug log ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=32)
def _debug(
    path: str, version: Stamp, levels: tuple[str, ...], since_ts: int, limit: int
) -> list[DebugLine]:
    if not levels:
        return []
    marks = ",".join("?" * len(levels))
    rows = _select(
        path,
        "SELECT id, ts, level, source, symbol, message FROM pt_live_debug_log "
        f"WHERE UPPER(level) IN ({marks}) AND ts >= ? ORDER BY ts DESC, id DESC LIMIT ?",
        (*levels, since_ts, limit),
    )
    return [
        DebugLine(
            id=int(r[0]),
            ts=int(r[1]),
            level=str(r[2]).upper(),
            source=str(r[3] or ""),
            symbol=str(r[4] or ""),
            message=str(r[5]),
        )
        for r in rows
    ]


def debug_log(
    settings: Settings, levels: Sequence[str], *, since_ts: int = 0, limit: int = 200
) -> list[DebugLine]:
    """The newest ``limit`` debug log lines at one of ``levels`` from ``since_ts`` on, newest
    first."""
    p = settings.trading_db
    wanted = tuple(sorted({lv.upper() for lv in levels}))
    return _debug(str(p), stamp(p), wanted, int(since_ts), int(limit))


# ---- status and symbols ------------------------------------------------------------------


def engine_state(settings: Settings) -> EngineStatus:
    """The engine's status file checked against its PID file (a status saying "running" with
    no live process reads as stopped); never cached: the page polls it."""
    from fyerstrade.live.control import engine_status

    return engine_status(settings)


def missing_from_master(settings: Settings, symbols: Sequence[str]) -> list[str] | None:
    """Those of ``symbols`` that the symbol master does not list (the engine takes lot and tick
    sizes from it, so it refuses them); None when the master is empty or absent."""
    try:
        with read_only(settings.historical_db) as conn:
            if conn is None:
                return None
            if not conn.execute("SELECT EXISTS (SELECT 1 FROM symbol_master)").fetchone()[0]:
                return None
            wanted = list(dict.fromkeys(symbols))
            marks = ",".join("?" * len(wanted))
            found = {
                str(r[0])
                for r in conn.execute(
                    f"SELECT symbol FROM symbol_master WHERE symbol IN ({marks})", wanted
                )
            }
    except _NoTableError:
        return None
    return [s for s in wanted if s not in found]
