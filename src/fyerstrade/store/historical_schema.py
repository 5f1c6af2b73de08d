"""Schema of ``historical_market_data.sqlite``: candles, archived ticks, symbol master, ledger.

Versions
    1. ``historical_data`` (candles, ``WITHOUT ROWID``, key symbol/resolution/ts),
       ``historical_ticks`` (one plain table), ``symbol_master`` (the 21 Fyers columns plus our
       mapped kind/segment), ``fetch_ledger``.
    2. ``symbol_lot_sizes``: the lot size in force from each date, seeded from the master.
    3. Month-partitioned tick archive: ``tick_partitions`` catalogue, ticks of the v1 table moved
       into ``historical_ticks_YYYYMM`` tables, ``historical_ticks`` becomes a view
       (see :mod:`fyerstrade.store.ticks`).
    4. ``candle_blocks``: the stored candles a second time, as array BLOBs per ~24 days of one
       symbol and resolution, written by the first load and dropped by every write that touches
       them (see :mod:`fyerstrade.store.candle_blocks`); ``historical_data`` stays the truth.
"""

from __future__ import annotations

import sqlite3

from fyerstrade.config import HISTORICAL_DB
from fyerstrade.store.candle_blocks import TABLE_SQL as BLOCKS_SQL
from fyerstrade.store.migrations import Migration, Schema
from fyerstrade.store.ticks import (
    TICK_COLUMNS,
    ensure_partition,
    month_bounds,
    month_key,
    rebuild_ticks_view,
)

V1 = """
CREATE TABLE historical_data (
    symbol      TEXT    NOT NULL,
    resolution  TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    open        REAL    NOT NULL,
    high        REAL    NOT NULL,
    low         REAL    NOT NULL,
    close       REAL    NOT NULL,
    volume      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (symbol, resolution, ts)
) WITHOUT ROWID;

CREATE TABLE historical_ticks (
    symbol   TEXT    NOT NULL,
    ts       INTEGER NOT NULL,
    ltp      REAL    NOT NULL,
    volume   INTEGER NOT NULL DEFAULT 0,
    bid      REAL,
    ask      REAL,
    bid_qty  INTEGER,
    ask_qty  INTEGER,
    last_qty INTEGER,
    recv_ts  REAL
);
CREATE INDEX historical_ticks_symbol_ts ON historical_ticks (symbol, ts);

CREATE TABLE symbol_master (
    fytoken                  TEXT NOT NULL,
    symbol                   TEXT PRIMARY KEY,
    name                     TEXT NOT NULL DEFAULT '',
    exchange_instrument_type INTEGER,
    lot_size                 INTEGER NOT NULL DEFAULT 1,
    tick_size                REAL    NOT NULL DEFAULT 0.05,
    isin                     TEXT NOT NULL DEFAULT '',
    trading_session          TEXT NOT NULL DEFAULT '',
    last_update              TEXT NOT NULL DEFAULT '',
    expiry                   INTEGER,
    exchange                 INTEGER,
    segment                  INTEGER,
    scrip_code               INTEGER,
    underlying               TEXT NOT NULL DEFAULT '',
    underlying_scrip_code    INTEGER,
    strike                   REAL,
    option_type              TEXT,
    underlying_fytoken       TEXT NOT NULL DEFAULT '',
    reserved_1               TEXT,
    reserved_2               INTEGER,
    reserved_3               REAL,
    kind                     TEXT NOT NULL,
    segment_name             TEXT NOT NULL,
    updated_at               INTEGER NOT NULL
);
CREATE INDEX symbol_master_segment ON symbol_master (segment_name);
CREATE INDEX symbol_master_underlying ON symbol_master (underlying);

CREATE TABLE fetch_ledger (
    id          INTEGER PRIMARY KEY,
    symbol      TEXT    NOT NULL,
    resolution  TEXT    NOT NULL,
    range_from  INTEGER NOT NULL,
    range_to    INTEGER NOT NULL,
    candles     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    message     TEXT    NOT NULL DEFAULT '',
    fetched_at  INTEGER NOT NULL
);
CREATE INDEX fetch_ledger_symbol ON fetch_ledger (symbol, resolution, range_from);
"""

V2 = """
CREATE TABLE symbol_lot_sizes (
    symbol          TEXT    NOT NULL,
    effective_date  TEXT    NOT NULL,
    lot_size        INTEGER NOT NULL,
    PRIMARY KEY (symbol, effective_date)
) WITHOUT ROWID;

INSERT INTO symbol_lot_sizes (symbol, effective_date, lot_size)
SELECT symbol,
       CASE WHEN last_update GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
            THEN last_update
            ELSE date(updated_at, 'unixepoch', '+330 minutes') END,
       lot_size
FROM symbol_master;
"""

V3_CATALOGUE = """
CREATE TABLE tick_partitions (
    month       TEXT PRIMARY KEY,
    table_name  TEXT NOT NULL UNIQUE,
    start_ts    INTEGER NOT NULL,
    end_ts      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL DEFAULT 0
)
"""


def _partition_ticks(conn: sqlite3.Connection) -> None:
    """v3: move the v1 tick table into month tables (seq = old rowid) and replace it by a view."""
    conn.execute(V3_CATALOGUE)
    rows = conn.execute("SELECT MIN(ts), MAX(ts) FROM historical_ticks").fetchone()
    months: list[str] = []
    if rows[0] is not None:
        month, last = month_key(int(rows[0])), month_key(int(rows[1]))
        while month <= last:
            months.append(month)
            _, end = month_bounds(month)
            month = month_key(end)
    conn.execute("ALTER TABLE historical_ticks RENAME TO historical_ticks_v1")
    conn.execute("DROP INDEX IF EXISTS historical_ticks_symbol_ts")
    for month in months:
        start, end = month_bounds(month)
        table = ensure_partition(conn, month)
        conn.execute(
            f"INSERT OR IGNORE INTO {table} (symbol, ts, seq, {TICK_COLUMNS}) "
            f"SELECT symbol, ts, rowid, {TICK_COLUMNS} FROM historical_ticks_v1 "
            "WHERE ts >= ? AND ts < ?",
            (start, end),
        )
    conn.execute("DROP TABLE historical_ticks_v1")
    rebuild_ticks_view(conn)


SCHEMA = Schema(
    name="historical",
    filename=HISTORICAL_DB,
    migrations=(
        Migration(1, "candles, ticks, symbol master, fetch ledger", V1),
        Migration(2, "lot-size history", V2),
        Migration(3, "month-partitioned tick archive", _partition_ticks),
        Migration(4, "candle blocks: stored candles as arrays, for fast loading", BLOCKS_SQL),
    ),
    page_size=16_384,  # large append-mostly B-trees: fewer levels, faster bulk upserts
)
