"""The symbol master (``symbol_master``) and the lot-size history (``symbol_lot_sizes``).

``symbol_master`` holds the current Fyers master for each downloaded segment: the 21 raw Fyers
columns (so nothing the file says is lost) plus our mapped ``kind`` and ``segment_name``.
Callers pass :class:`~fyerstrade.domain.Instrument` objects, or :class:`SymbolMasterRow` when
they have the raw Fyers fields too.

Lot sizes change over time (NSE revises F&O lot sizes; a backtest of last year must use last
year's lot size). Each :func:`replace_symbol_master` appends a ``(symbol, effective_date,
lot_size)`` row when a symbol's lot size differs from the one in force on ``as_of``;
:func:`get_instrument` with ``on_date`` returns the lot size in force on that date.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from fyerstrade.domain import Instrument, InstrumentKind, OptionType, Segment
from fyerstrade.errors import InputError

# Fyers exchange/segment codes of the segments we map (reference §7.2): NSE=10; CM=10, FO=11.
SEGMENT_CODES: dict[Segment, tuple[int, int]] = {
    Segment.NSE_CM: (10, 10),
    Segment.NSE_FO: (10, 11),
}


def segment_from_codes(exchange: int, segment: int) -> Segment:
    """Map Fyers' (exchange, segment) codes to our Segment; raise ValueError for others."""
    for seg, codes in SEGMENT_CODES.items():
        if codes == (exchange, segment):
            return seg
    raise ValueError(f"unsupported Fyers exchange/segment {exchange}/{segment}")


@dataclass(frozen=True, slots=True)
class SymbolMasterRow:
    """An instrument with the raw Fyers master fields that have no place in ``Instrument``."""

    instrument: Instrument
    exchange_instrument_type: int | None = None
    trading_session: str = ""
    last_update: str = ""
    scrip_code: int | None = None
    underlying_scrip_code: int | None = None
    underlying_fytoken: str = ""
    reserved_1: str | None = None
    reserved_2: int | None = None
    reserved_3: float | None = None


_COLUMNS = (
    "fytoken, symbol, name, exchange_instrument_type, lot_size, tick_size, isin, "
    "trading_session, last_update, expiry, exchange, segment, scrip_code, underlying, "
    "underlying_scrip_code, strike, option_type, underlying_fytoken, reserved_1, reserved_2, "
    "reserved_3, kind, segment_name, updated_at"
)
_SELECT = (
    "SELECT symbol, name, kind, segment_name, lot_size, tick_size, expiry, strike, "
    "option_type, underlying, isin, fytoken FROM symbol_master"
)


def _row(item: Instrument | SymbolMasterRow, updated_at: int) -> tuple[object, ...]:
    raw = item if isinstance(item, SymbolMasterRow) else SymbolMasterRow(item)
    ins = raw.instrument
    exchange, segment = SEGMENT_CODES[ins.segment]
    return (
        ins.fytoken,
        ins.symbol,
        ins.name,
        raw.exchange_instrument_type,
        int(ins.lot_size),
        float(ins.tick_size),
        ins.isin,
        raw.trading_session,
        raw.last_update,
        ins.expiry,
        exchange,
        segment,
        raw.scrip_code,
        ins.underlying,
        raw.underlying_scrip_code,
        ins.strike,
        ins.option_type.value if ins.option_type else None,
        raw.underlying_fytoken,
        raw.reserved_1,
        raw.reserved_2,
        raw.reserved_3,
        ins.kind.value,
        ins.segment.value,
        updated_at,
    )


def _instrument(r: Sequence[Any]) -> Instrument:
    return Instrument(
        symbol=str(r[0]),
        name=str(r[1]),
        kind=InstrumentKind(str(r[2])),
        segment=Segment(str(r[3])),
        lot_size=int(r[4]),
        tick_size=float(r[5]),
        expiry=int(r[6]) if r[6] is not None else None,
        strike=float(r[7]) if r[7] is not None else None,
        option_type=OptionType(str(r[8])) if r[8] else None,
        underlying=str(r[9]),
        isin=str(r[10]),
        fytoken=str(r[11]),
    )


def replace_symbol_master(
    conn: sqlite3.Connection,
    instruments: Sequence[Instrument | SymbolMasterRow],
    segments: Sequence[str],
    as_of: date,
    updated_at: int | None = None,
) -> int:
    """Replace every row of ``segments`` by ``instruments`` in one transaction and record lot
    size changes effective ``as_of``; return the number of rows written.

    Raises InputError (and changes nothing) when an instrument's segment is not in ``segments``
    or a ticker appears twice."""
    try:
        segs = {Segment(s) for s in segments}
    except ValueError:
        valid = ", ".join(s.value for s in Segment)
        raise InputError(f"unknown segment in {list(segments)}; use {valid}") from None
    when = int(time.time()) if updated_at is None else int(updated_at)
    rows = [_row(i, when) for i in instruments]
    seen: set[str] = set()
    for r in rows:
        ticker, seg = str(r[1]), Segment(str(r[22]))
        if seg not in segs:
            raise InputError(f"{ticker} is in segment {seg}, not in {sorted(segs)}")
        if ticker in seen:
            raise InputError(f"symbol master lists {ticker} twice; the download is malformed")
        seen.add(ticker)
    day = as_of.isoformat()
    with conn:
        conn.executemany(
            "DELETE FROM symbol_master WHERE segment_name = ?", [(s.value,) for s in segs]
        )
        conn.executemany(
            f"INSERT INTO symbol_master ({_COLUMNS}) VALUES ({', '.join('?' * 24)})", rows
        )
        # A new history row when the lot size differs from the one in force on as_of.
        conn.executemany(
            "INSERT OR REPLACE INTO symbol_lot_sizes (symbol, effective_date, lot_size) "
            "SELECT ?1, ?2, ?3 WHERE ?3 IS NOT (SELECT lot_size FROM symbol_lot_sizes "
            "WHERE symbol = ?1 AND effective_date <= ?2 ORDER BY effective_date DESC LIMIT 1)",
            [(r[1], day, r[4]) for r in rows],
        )
    return len(rows)


def lot_size_history(conn: sqlite3.Connection, symbol: str) -> list[tuple[date, int]]:
    """``(effective_date, lot_size)`` changes recorded for a symbol, oldest first."""
    rows = conn.execute(
        "SELECT effective_date, lot_size FROM symbol_lot_sizes WHERE symbol = ? "
        "ORDER BY effective_date",
        (symbol,),
    ).fetchall()
    return [(date.fromisoformat(r[0]), int(r[1])) for r in rows]


def get_instrument(
    conn: sqlite3.Connection, symbol: str, on_date: date | None = None
) -> Instrument | None:
    """The instrument for a ticker, or None. With ``on_date``, its lot size is the one in force
    on that date according to the history (the current one when the history starts later)."""
    row = conn.execute(f"{_SELECT} WHERE symbol = ?", (symbol,)).fetchone()
    if row is None:
        return None
    ins = _instrument(row)
    if on_date is not None:
        hist = conn.execute(
            "SELECT lot_size FROM symbol_lot_sizes WHERE symbol = ? AND effective_date <= ? "
            "ORDER BY effective_date DESC LIMIT 1",
            (symbol, on_date.isoformat()),
        ).fetchone()
        if hist is not None and int(hist[0]) != ins.lot_size:
            ins = replace(ins, lot_size=int(hist[0]))
    return ins


def search_symbols(conn: sqlite3.Connection, text: str, limit: int = 50) -> list[Instrument]:
    """Instruments whose ticker, name or underlying contains ``text`` (case-insensitive):
    exact ticker first, then tickers starting with the text, then the rest; within each, the
    index first, then stocks, futures and options ("NIFTY" puts NSE:NIFTY50-INDEX before its
    fifty options), then by ticker."""
    needle = text.strip().upper()
    if not needle:
        return []
    like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        f"{_SELECT} WHERE UPPER(symbol) LIKE ?1 ESCAPE '\\' OR UPPER(name) LIKE ?1 ESCAPE '\\' "
        "OR UPPER(underlying) LIKE ?1 ESCAPE '\\' "
        "ORDER BY (UPPER(symbol) = ?2 OR UPPER(symbol) = 'NSE:' || ?2) DESC, "
        "(UPPER(symbol) LIKE ?2 || '%' OR UPPER(symbol) LIKE 'NSE:' || ?2 || '%') DESC, "
        "CASE kind WHEN 'INDEX' THEN 0 WHEN 'EQUITY' THEN 1 WHEN 'FUTURE' THEN 2 ELSE 3 END, "
        "symbol LIMIT ?3",
        (like, needle, int(limit)),
    ).fetchall()
    return [_instrument(r) for r in rows]


def symbol_count(conn: sqlite3.Connection, segment: str | None = None) -> int:
    """Rows in the symbol master, optionally of one segment (``NSE_CM``/``NSE_FO``)."""
    if segment is None:
        return int(conn.execute("SELECT COUNT(*) FROM symbol_master").fetchone()[0])
    sql = "SELECT COUNT(*) FROM symbol_master WHERE segment_name = ?"
    return int(conn.execute(sql, (Segment(segment).value,)).fetchone()[0])
