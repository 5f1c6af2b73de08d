"""Live ticks (``live_market_data.sqlite``) and the month-partitioned tick archive.

Live ticks
    ``live_ticks(id INTEGER PRIMARY KEY AUTOINCREMENT, symbol, ts, ltp, volume, bid, ask,
    bid_qty, ask_qty, last_qty, recv_ts)``: ``ts`` is the exchange time (epoch seconds),
    ``volume`` the cumulative day volume, ``recv_ts`` the local wall-clock receive time (epoch
    seconds, fractional). AUTOINCREMENT keeps ids unique for the life of the file, which is what
    makes archiving idempotent (below).

Archive layout (``historical_market_data.sqlite``)
    One table per IST calendar month, ``historical_ticks_YYYYMM``, ``WITHOUT ROWID`` with primary
    key ``(symbol, ts, seq)`` where ``seq`` is the tick's ``live_ticks.id``. The rows are stored
    clustered by symbol and time, so one symbol-day is one contiguous range of one month's
    B-tree: it never touches other months. An old month is moved or dropped as a unit
    (:func:`drop_partition`, or copy the table to another file). ``tick_partitions`` is the
    catalogue of months, and ``historical_ticks`` is a view, the ``UNION ALL`` of every month,
    rebuilt whenever a month is added or dropped, so the name of the specification stays
    queryable (``WHERE symbol = ? AND ts BETWEEN ? AND ?`` is pushed into each month's index).
    Because the key includes the live id, copying the same live tick twice is a no-op
    (``INSERT OR IGNORE``): the archive job can never duplicate a tick, whatever the crash.
    (Should the live file be deleted and its ids restart, a new tick could only collide with an
    archived one of the same symbol at the same exchange second and id: ticks are newer.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import chain

import numpy as np
import numpy.typing as npt

from fyerstrade.domain import Tick

IST = timezone(timedelta(hours=5, minutes=30), "IST")
IST_OFFSET_SECONDS = 19_800
PARTITION_PREFIX = "historical_ticks_"
TICK_COLUMNS = "ltp, volume, bid, ask, bid_qty, ask_qty, last_qty, recv_ts"
_COALESCED = ", ".join(f"COALESCE({c.strip()}, 0)" for c in TICK_COLUMNS.split(","))

# (symbol, ts, ltp, volume, bid, ask, bid_qty, ask_qty, last_qty, recv_ts)
LiveTickRow = tuple[str, int, float, int, float, float, int, int, int, float]


@dataclass(slots=True)
class TickArrays:
    """One symbol's ticks as numpy arrays, sorted by exchange time then arrival order."""

    ts: npt.NDArray[np.int64]
    ltp: npt.NDArray[np.float64]
    volume: npt.NDArray[np.int64]
    bid: npt.NDArray[np.float64]
    ask: npt.NDArray[np.float64]
    bid_qty: npt.NDArray[np.int64]
    ask_qty: npt.NDArray[np.int64]
    last_qty: npt.NDArray[np.int64]
    recv_ts: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls) -> TickArrays:
        i = np.empty(0, dtype=np.int64)
        f = np.empty(0, dtype=np.float64)
        return cls(i, f, i.copy(), f.copy(), f.copy(), i.copy(), i.copy(), i.copy(), f.copy())

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[float | int | None]]) -> TickArrays:
        """Build from rows ``(ts, ltp, volume, bid, ask, bid_qty, ask_qty, last_qty, recv_ts)``."""
        if not rows:
            return cls.empty()
        m = np.nan_to_num(np.array(rows, dtype=np.float64), nan=0.0)
        return cls.from_matrix(m)

    @classmethod
    def from_matrix(cls, m: npt.NDArray[np.float64]) -> TickArrays:
        """Build from an (n, 9) float matrix in the column order of :meth:`from_rows`."""
        return cls(
            ts=m[:, 0].astype(np.int64),
            ltp=np.ascontiguousarray(m[:, 1]),
            volume=m[:, 2].astype(np.int64),
            bid=np.ascontiguousarray(m[:, 3]),
            ask=np.ascontiguousarray(m[:, 4]),
            bid_qty=m[:, 5].astype(np.int64),
            ask_qty=m[:, 6].astype(np.int64),
            last_qty=m[:, 7].astype(np.int64),
            recv_ts=np.ascontiguousarray(m[:, 8]),
        )


@dataclass(frozen=True, slots=True)
class TickPartition:
    """One month of archived ticks: ``month`` is ``YYYYMM`` (IST), ``[start_ts, end_ts)``."""

    month: str
    table: str
    start_ts: int
    end_ts: int


def tick_row(tick: Tick, recv_ts: float) -> LiveTickRow:
    """The ``live_ticks`` row for a tick received at wall-clock ``recv_ts`` (epoch seconds)."""
    return (
        tick.symbol,
        tick.ts,
        tick.ltp,
        tick.volume,
        tick.bid,
        tick.ask,
        tick.bid_qty,
        tick.ask_qty,
        tick.last_qty,
        recv_ts,
    )


INSERT_LIVE_TICKS = (
    f"INSERT INTO live_ticks (symbol, ts, {TICK_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def insert_live_ticks(conn: sqlite3.Connection, rows: Sequence[LiveTickRow]) -> None:
    """Append ticks to ``live_ticks`` in one transaction (the live writer's batch)."""
    if not rows:
        return
    with conn:
        conn.executemany(INSERT_LIVE_TICKS, rows)


def live_tick_count(conn: sqlite3.Connection, symbol: str | None = None) -> int:
    if symbol is None:
        return int(conn.execute("SELECT COUNT(*) FROM live_ticks").fetchone()[0])
    sql = "SELECT COUNT(*) FROM live_ticks WHERE symbol = ?"
    return int(conn.execute(sql, (symbol,)).fetchone()[0])


# ---- month partitions ------------------------------------------------------------------------


def month_key(ts: int) -> str:
    """``YYYYMM`` of the IST calendar month holding epoch second ``ts``."""
    d = datetime.fromtimestamp(ts, tz=IST)
    return f"{d.year:04d}{d.month:02d}"


def month_bounds(month: str) -> tuple[int, int]:
    """Epoch-second range ``[start, end)`` of IST month ``YYYYMM``."""
    year, mon = int(month[:4]), int(month[4:])
    start = datetime(year, mon, 1, tzinfo=IST)
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=IST)
    return int(start.timestamp()), int(end.timestamp())


def day_bounds(day: date) -> tuple[int, int]:
    """Epoch-second range ``[start, end)`` of an IST calendar day."""
    start = datetime(day.year, day.month, day.day, tzinfo=IST)
    return int(start.timestamp()), int((start + timedelta(days=1)).timestamp())


def partition_table(month: str) -> str:
    if len(month) != 6 or not month.isdigit():
        raise ValueError(f"month must be YYYYMM, got {month!r}")
    return f"{PARTITION_PREFIX}{month}"


def tick_partitions(conn: sqlite3.Connection) -> list[TickPartition]:
    rows = conn.execute(
        "SELECT month, table_name, start_ts, end_ts FROM tick_partitions ORDER BY month"
    ).fetchall()
    return [TickPartition(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


def rebuild_ticks_view(conn: sqlite3.Connection) -> None:
    """(Re)create the ``historical_ticks`` view over every month in the catalogue."""
    cols = f"symbol, ts, seq, {TICK_COLUMNS}"
    parts = [f"SELECT {cols} FROM {p.table}" for p in tick_partitions(conn)]
    body = (
        "\nUNION ALL\n".join(parts)
        if parts
        else (
            "SELECT CAST(NULL AS TEXT) AS symbol, CAST(NULL AS INTEGER) AS ts, "
            "CAST(NULL AS INTEGER) AS seq, CAST(NULL AS REAL) AS ltp, "
            "CAST(NULL AS INTEGER) AS volume, CAST(NULL AS REAL) AS bid, "
            "CAST(NULL AS REAL) AS ask, CAST(NULL AS INTEGER) AS bid_qty, "
            "CAST(NULL AS INTEGER) AS ask_qty, CAST(NULL AS INTEGER) AS last_qty, "
            "CAST(NULL AS REAL) AS recv_ts WHERE 0"
        )
    )
    conn.execute("DROP VIEW IF EXISTS historical_ticks")
    conn.execute(f"CREATE VIEW historical_ticks AS\n{body}")


def ensure_partition(conn: sqlite3.Connection, month: str, created_at: int = 0) -> str:
    """Create the month's table and catalogue entry if missing (inside the caller's
    transaction); return the table name."""
    table = partition_table(month)
    known = conn.execute("SELECT 1 FROM tick_partitions WHERE month = ?", (month,)).fetchone()
    if known:
        return table
    start, end = month_bounds(month)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "symbol TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, "
        "ltp REAL NOT NULL, volume INTEGER NOT NULL DEFAULT 0, bid REAL, ask REAL, "
        "bid_qty INTEGER, ask_qty INTEGER, last_qty INTEGER, recv_ts REAL, "
        "PRIMARY KEY (symbol, ts, seq)) WITHOUT ROWID"
    )
    conn.execute(
        "INSERT INTO tick_partitions (month, table_name, start_ts, end_ts, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (month, table, start, end, created_at),
    )
    rebuild_ticks_view(conn)
    return table


def drop_partition(conn: sqlite3.Connection, month: str) -> int:
    """Drop one archived month as a unit; return the number of ticks it held (0 if absent)."""
    table = partition_table(month)
    with conn:
        known = conn.execute("SELECT 1 FROM tick_partitions WHERE month = ?", (month,)).fetchone()
        if not known:
            return 0
        n = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        conn.execute("DELETE FROM tick_partitions WHERE month = ?", (month,))
        rebuild_ticks_view(conn)
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    return n


def load_ticks(conn_hist: sqlite3.Connection, symbol: str, day: date) -> TickArrays:
    """One symbol's archived ticks for one IST day, from that month's table only."""
    start, end = day_bounds(day)
    table = partition_table(month_key(start))
    known = conn_hist.execute(
        "SELECT 1 FROM tick_partitions WHERE month = ?", (table[len(PARTITION_PREFIX) :],)
    ).fetchone()
    if not known:
        return TickArrays.empty()
    cur = conn_hist.execute(
        f"SELECT ts, {_COALESCED} FROM {table} "
        "WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts, seq",
        (symbol, start, end),
    )
    flat = np.fromiter(chain.from_iterable(cur), dtype=np.float64)
    if flat.size == 0:
        return TickArrays.empty()
    return TickArrays.from_matrix(flat.reshape(-1, 9))


def archived_tick_count(conn_hist: sqlite3.Connection) -> int:
    total = 0
    for p in tick_partitions(conn_hist):
        total += int(conn_hist.execute(f"SELECT COUNT(*) FROM {p.table}").fetchone()[0])
    return total
