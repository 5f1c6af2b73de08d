"""Candles read back fast: ``candle_blocks`` keeps the stored candles a second time, as arrays.

``historical_data`` (one row per candle) stays the truth. Reading it costs one Python object per
value, about a second per million candles whatever the SQL; so the first load of a stretch of
candles also writes them, per block of 2**21 seconds (~24 days) of one symbol and resolution, as
array BLOBs (:mod:`fyerstrade.store.arrays`). Later loads of those blocks read a few BLOBs.

Consistency, by construction:

- every write of candles (:func:`fyerstrade.store.candles.upsert_candles`, ``delete_candles``)
  deletes the blocks it touches in its own transaction (:func:`invalidate`), so a block never
  outlives a change of its rows;
- a load reads blocks and rows in one read transaction (one snapshot) and writes the blocks it
  built in that same transaction, so if any writer committed since the snapshot the write fails
  (SQLite refuses to upgrade a stale snapshot) and nothing is cached — the load still returns the
  candles of its snapshot. The write never waits for a lock (busy timeout 0 for it): a busy store
  only means no cache this time. A read-only connection, or a caller's open transaction, means no
  cache writes either;
- a damaged block is ignored and rebuilt from the rows.

A stretch with no candles (a holiday week) is cached as an empty block, so it is not asked again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain

import numpy as np

from fyerstrade.store.arrays import decode_array, encode_array

BLOCK_SHIFT = 21  # a block holds the candles of 2**21 s (~24.3 days) of one symbol/resolution
_COLUMNS = ("ts", "open", "high", "low", "close", "volume")

TABLE_SQL = """
CREATE TABLE candle_blocks (
    symbol      TEXT    NOT NULL,
    resolution  TEXT    NOT NULL,
    block       INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    ts          BLOB    NOT NULL,
    open        BLOB    NOT NULL,
    high        BLOB    NOT NULL,
    low         BLOB    NOT NULL,
    close       BLOB    NOT NULL,
    volume      BLOB    NOT NULL,
    PRIMARY KEY (symbol, resolution, block)
);
"""

Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def invalidate(
    conn: sqlite3.Connection, symbol: str, resolution: str, first_ts: int, last_ts: int
) -> None:
    """Forget the blocks holding ``first_ts..last_ts`` (call inside the writing transaction)."""
    conn.execute(
        "DELETE FROM candle_blocks WHERE symbol = ? AND resolution = ? AND block BETWEEN ? AND ?",
        (symbol, resolution, int(first_ts) >> BLOCK_SHIFT, int(last_ts) >> BLOCK_SHIFT),
    )


def _empty() -> Columns:
    f = np.empty(0, dtype=np.float64)
    i = np.empty(0, dtype=np.int64)
    return i, f, f.copy(), f.copy(), f.copy(), i.copy()


def _rows(conn: sqlite3.Connection, symbol: str, resolution: str, lo: int, hi: int) -> Columns:
    cur = conn.execute(
        "SELECT ts, open, high, low, close, volume FROM historical_data "
        "WHERE symbol = ? AND resolution = ? AND ts >= ? AND ts <= ? ORDER BY ts",
        (symbol, resolution, lo, hi),
    )
    # Straight from the cursor into one float array (exact for epoch seconds and volumes below
    # 2**53): no list of row tuples.
    m = np.fromiter(chain.from_iterable(cur), dtype=np.float64).reshape(-1, 6)
    return (
        m[:, 0].astype(np.int64),
        np.ascontiguousarray(m[:, 1]),
        np.ascontiguousarray(m[:, 2]),
        np.ascontiguousarray(m[:, 3]),
        np.ascontiguousarray(m[:, 4]),
        m[:, 5].astype(np.int64),
    )


def _decode(row: tuple[bytes, ...], n: int) -> Columns | None:
    try:
        cols = tuple(decode_array(blob) for blob in row)
    except ValueError:
        return None
    if any(len(c) != n for c in cols) or cols[0].dtype != np.int64:
        return None
    return cols  # type: ignore[return-value]


@contextmanager
def _no_wait(conn: sqlite3.Connection) -> Iterator[None]:
    (before,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(before)}")


def load_columns(
    conn: sqlite3.Connection, symbol: str, resolution: str, lo: int | None, hi: int | None
) -> Columns:
    """Candles with ``lo <= ts <= hi`` (either bound optional) as six arrays sorted by time."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")  # one snapshot for the bounds, blocks, rows and what we write
    try:
        if lo is None or hi is None:
            first, last = conn.execute(
                "SELECT MIN(ts), MAX(ts) FROM historical_data WHERE symbol = ? AND resolution = ?",
                (symbol, resolution),
            ).fetchone()
            if first is None:
                return _empty()
            lo = int(first) if lo is None else max(int(lo), int(first))
            hi = int(last) if hi is None else min(int(hi), int(last))
        lo, hi = int(lo), int(hi)
        if hi < lo:
            return _empty()
        b0, b1 = lo >> BLOCK_SHIFT, hi >> BLOCK_SHIFT
        where = "WHERE symbol = ? AND resolution = ? AND block BETWEEN ? AND ?"
        key = (symbol, resolution, b0, b1)
        sizes = {
            int(block): int(n)
            for block, n in conn.execute(f"SELECT block, n FROM candle_blocks {where}", key)
        }
        built: dict[int, Columns] = {}
        for start, stop in _runs([b for b in range(b0, b1 + 1) if b not in sizes]):
            cols = _rows(conn, symbol, resolution, start << BLOCK_SHIFT, (stop << BLOCK_SHIFT) - 1)
            edges = np.searchsorted(cols[0], np.arange(start, stop + 1) << BLOCK_SHIFT)
            for k, block in enumerate(range(start, stop)):
                i, j = int(edges[k]), int(edges[k + 1])
                built[block] = tuple(c[i:j].copy() for c in cols)  # type: ignore[assignment]
                sizes[block] = j - i
            del cols
        # One array per column for the whole stretch, filled block by block: the bars are held
        # once (plus one block), not once per block and again joined.
        offsets: dict[int, int] = {}
        total = 0
        for block in range(b0, b1 + 1):
            offsets[block] = total
            total += sizes[block]
        out = _allocate(total)
        for block, n, *blobs in conn.execute(
            f"SELECT block, n, ts, open, high, low, close, volume FROM candle_blocks {where}", key
        ):
            block, n = int(block), int(n)
            got = _decode(tuple(blobs), n) if block not in built else None
            if got is None and block not in built:  # damaged: rebuild it from its rows
                got = _rows(conn, symbol, resolution, block << BLOCK_SHIFT,
                             ((block + 1) << BLOCK_SHIFT) - 1)  # fmt: skip
                if len(got[0]) != sizes[block]:
                    return _trimmed(_rows(conn, symbol, resolution, lo, hi), lo, hi)
                built[block] = got
            elif got is not None:
                _put(out, offsets[block], got)
        for block, cols in built.items():
            _put(out, offsets[block], cols)
        if own and built:
            _store(conn, symbol, resolution, built)
    finally:
        if own and conn.in_transaction:
            conn.rollback()  # a read transaction, or a cache write that did not happen
    return _trimmed(out, lo, hi)


def _allocate(n: int) -> Columns:
    f8, i8 = np.float64, np.int64
    return (np.empty(n, i8), np.empty(n, f8), np.empty(n, f8), np.empty(n, f8), np.empty(n, f8),
            np.empty(n, i8))  # fmt: skip


def _put(out: Columns, at: int, cols: Columns) -> None:
    n = len(cols[0])
    for dst, src in zip(out, cols, strict=True):
        dst[at : at + n] = src


def _trimmed(cols: Columns, lo: int, hi: int) -> Columns:
    i, j = np.searchsorted(cols[0], (lo, hi + 1))
    if i == 0 and j == len(cols[0]):
        return cols
    return tuple(c[i:j] for c in cols)  # type: ignore[return-value]


def _runs(blocks: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs ``[start, stop)`` of sorted block numbers."""
    runs: list[tuple[int, int]] = []
    for b in blocks:
        if runs and runs[-1][1] == b:
            runs[-1] = (runs[-1][0], b + 1)
        else:
            runs.append((b, b + 1))
    return runs


def _store(
    conn: sqlite3.Connection, symbol: str, resolution: str, built: dict[int, Columns]
) -> None:
    rows = [
        (symbol, resolution, block, len(cols[0]), *(encode_array(c) for c in cols))
        for block, cols in built.items()
    ]
    try:
        with _no_wait(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO candle_blocks (symbol, resolution, block, n, ts, open, "
                "high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.commit()
    except sqlite3.OperationalError:
        # a writer committed since our snapshot, holds the lock, or the file is read-only:
        # the candles we read are still right; they are just not cached this time
        conn.rollback()
