"""Schema of ``live_market_data.sqlite``: today's ticks as they arrive.

Versions
    1. ``live_ticks`` (AUTOINCREMENT id, so archived ids are never reused) and an index on
       (symbol, ts) for the live engine's look-ups.
    2. ``live_bars``: the 1-minute bars the live engine built (or backfilled after a gap,
       ``source`` = ``ticks`` or ``history``), what its strategy saw.
    3. The (symbol, ts) index of ``live_ticks`` is dropped: with 200 symbols interleaved, every
       batch of ticks dirtied pages all over it and it cut the insert rate four-fold (150,000 →
       630,000 rows/s), while every reader goes by id (the archive job) or scans the day
       (a restart's replay). The archive is clustered by (symbol, ts) for look-ups.
    4. ``live_marks``: what the live engine did between two ticks on its own clock (closed a
       quiet symbol's bar, squared off at the square-off time), on a feed gap, and where a
       segment's ticks begin, each at its place in the tick stream (``at_tick`` = ticks of the
       segment handled before it). A restart replays ticks and marks in that order, so it
       rebuilds exactly what the engine did (see :mod:`fyerstrade.live.recovery`).

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

V2 = """
CREATE TABLE live_bars (
    symbol  TEXT    NOT NULL,
    ts      INTEGER NOT NULL,
    open    REAL    NOT NULL,
    high    REAL    NOT NULL,
    low     REAL    NOT NULL,
    close   REAL    NOT NULL,
    volume  INTEGER NOT NULL,
    source  TEXT    NOT NULL DEFAULT 'ticks',
    PRIMARY KEY (symbol, ts)
) WITHOUT ROWID;
"""

V3 = """
DROP INDEX IF EXISTS live_ticks_symbol_ts;
"""

V4 = """
CREATE TABLE live_marks (
    segment  TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    at_tick  INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    a        INTEGER NOT NULL DEFAULT 0,
    b        INTEGER NOT NULL DEFAULT 0,
    c        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (segment, seq)
) WITHOUT ROWID;
"""

SCHEMA = Schema(
    name="live",
    filename=LIVE_DB,
    migrations=(
        Migration(1, "live ticks", V1),
        Migration(2, "live bars", V2),
        Migration(3, "live ticks without the symbol index", V3),
        Migration(4, "live marks: the engine's own events in the tick stream", V4),
    ),
)
