"""Schema of ``live_market_data.sqlite``: today's ticks as they arrive.

Versions
    1. ``live_ticks`` (AUTOINCREMENT id, so archived ids are never reused) and an index on
       (symbol, ts) for the live engine's look-ups.

The archive job (:mod:`fyerstrade.data.archive`) empties it only after the archive has committed.
"""

from __future__ import annotations

from fyerstrade.config import LIVE_DB
from fyerstrade.store.migrations import Migration, Schema

V1 = """
CREATE TABLE live_ticks (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol    TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    ltp       REAL    NOT NULL,
    volume    INTEGER NOT NULL DEFAULT 0,
    bid       REAL,
    ask       REAL,
    bid_qty   INTEGER,
    ask_qty   INTEGER,
    last_qty  INTEGER,
    recv_ts   REAL
);
CREATE INDEX live_ticks_symbol_ts ON live_ticks (symbol, ts);
"""

SCHEMA = Schema(
    name="live",
    filename=LIVE_DB,
    migrations=(Migration(1, "live ticks", V1),),
)
