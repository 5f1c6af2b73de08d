"""The fetch ledger: every history request, what range it asked for and what came back.

It lets the fetcher tell "never asked" from "asked, and the range legitimately holds nothing"
(a holiday, a date before listing), so the latter is not requested again. ``status`` is free
text; the fetcher uses ``ok`` (candles returned), ``no_data`` (an empty answer) and ``error``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from fyerstrade.domain import Resolution

STATUS_OK = "ok"
STATUS_NO_DATA = "no_data"
STATUS_ERROR = "error"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One recorded request (``range_from``/``range_to`` inclusive epoch seconds)."""

    symbol: str
    resolution: Resolution
    range_from: int
    range_to: int
    candles: int
    status: str
    message: str
    fetched_at: int


def record_fetch(
    conn: sqlite3.Connection,
    symbol: str,
    resolution: Resolution,
    range_from: int,
    range_to: int,
    candles: int,
    status: str,
    message: str = "",
    fetched_at: int | None = None,
) -> None:
    """Append one request's outcome (committed at once). ``fetched_at`` defaults to now."""
    when = int(time.time()) if fetched_at is None else int(fetched_at)
    with conn:
        conn.execute(
            "INSERT INTO fetch_ledger (symbol, resolution, range_from, range_to, candles, "
            "status, message, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                symbol,
                Resolution(resolution).value,
                int(range_from),
                int(range_to),
                int(candles),
                status,
                message,
                when,
            ),
        )


def ledger_entries(
    conn: sqlite3.Connection, symbol: str, resolution: Resolution
) -> list[LedgerEntry]:
    """Every recorded request for a symbol and resolution, by range start then time."""
    rows = conn.execute(
        "SELECT symbol, resolution, range_from, range_to, candles, status, message, fetched_at "
        "FROM fetch_ledger WHERE symbol = ? AND resolution = ? ORDER BY range_from, id",
        (symbol, Resolution(resolution).value),
    ).fetchall()
    return [
        LedgerEntry(r[0], Resolution(r[1]), int(r[2]), int(r[3]), int(r[4]), r[5], r[6], int(r[7]))
        for r in rows
    ]
