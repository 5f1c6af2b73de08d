"""Candle blocks: loads through the blocks give exactly the stored candles — on the first load,
from the cache, after every kind of write, across block edges and gaps, on a read-only or busy
store — and a block is never served after its rows changed."""

from __future__ import annotations

import sqlite3
from datetime import date

import numpy as np
import pytest

from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.store import candle_blocks
from fyerstrade.store.candle_blocks import BLOCK_SHIFT
from fyerstrade.store.candles import delete_candles, load_candles, upsert_candles
from fyerstrade.store.db import open_historical

SYM = "NSE:SBIN-EQ"
M1 = Resolution.M1


def _same(a: CandleArrays, b: CandleArrays) -> None:
    for name in ("ts", "open", "high", "low", "close", "volume"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


def _truth(conn: sqlite3.Connection, lo: int | None = None, hi: int | None = None) -> CandleArrays:
    """The rows themselves, read without the blocks."""
    return CandleArrays(*candle_blocks._rows(conn, SYM, "1", lo or 0, hi or 2**62))


def _blocks(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM candle_blocks").fetchone()[0])


@pytest.fixture
def conn(settings: Settings) -> sqlite3.Connection:
    c = open_historical(settings)
    # three months of one-minute bars with a gap of five weeks in the middle
    a = synthetic_candles(375 * 20, start=date(2024, 1, 1), seed=1)
    b = synthetic_candles(375 * 20, start=date(2024, 3, 11), seed=2)
    upsert_candles(c, SYM, M1, a)
    upsert_candles(c, SYM, M1, b)
    return c


def test_first_and_cached_loads_are_the_stored_candles(conn: sqlite3.Connection) -> None:
    truth = _truth(conn)
    assert _blocks(conn) == 0
    _same(load_candles(conn, SYM, M1), truth)
    written = _blocks(conn)
    span = (int(truth.ts[-1]) >> BLOCK_SHIFT) - (int(truth.ts[0]) >> BLOCK_SHIFT) + 1
    assert written == span  # the gap's empty blocks too
    _same(load_candles(conn, SYM, M1), truth)  # from the blocks
    assert not conn.in_transaction


@pytest.mark.parametrize("edge", [0, 1, -1, 59, 61])
def test_ranges_across_block_edges(conn: sqlite3.Connection, edge: int) -> None:
    load_candles(conn, SYM, M1)  # every block cached
    ts = _truth(conn).ts
    cut = ((int(ts[len(ts) // 3]) >> BLOCK_SHIFT) + 1) << BLOCK_SHIFT  # a block boundary
    lo, hi = cut - 3 * 86_400 + edge, cut + 2 * 86_400 + edge
    _same(load_candles(conn, SYM, M1, lo, hi), _truth(conn, lo, hi))
    _same(load_candles(conn, SYM, M1, lo, None), _truth(conn, lo, None))
    _same(load_candles(conn, SYM, M1, None, hi), _truth(conn, None, hi))
    assert len(load_candles(conn, SYM, M1, hi, lo)) == 0
    assert len(load_candles(conn, "NSE:NONE-EQ", M1)) == 0


def test_a_write_drops_exactly_the_blocks_it_touches(conn: sqlite3.Connection) -> None:
    load_candles(conn, SYM, M1)
    before = _blocks(conn)
    truth = _truth(conn)
    k = 5000
    fixed = CandleArrays(truth.ts[k : k + 1], truth.open[k : k + 1] + 1.0,
                         truth.high[k : k + 1] + 1.0, truth.low[k : k + 1],
                         truth.close[k : k + 1], truth.volume[k : k + 1])  # fmt: skip
    assert upsert_candles(conn, SYM, M1, fixed) == 1  # a provider's correction
    assert _blocks(conn) == before - 1
    again = load_candles(conn, SYM, M1)
    assert again.open[k] == truth.open[k] + 1.0
    _same(again, _truth(conn))
    assert upsert_candles(conn, SYM, M1, fixed) == 0  # the same again changes nothing...
    assert _blocks(conn) == before  # ...and keeps the cache
    lo, hi = int(truth.ts[100]), int(truth.ts[200])
    assert delete_candles(conn, SYM, M1, lo, hi) == 101
    got = load_candles(conn, SYM, M1)
    assert len(got) == len(truth) - 101 and not np.isin(truth.ts[100:201], got.ts).any()
    _same(got, _truth(conn))


def test_a_writer_between_read_and_cache_write_means_no_stale_block(
    conn: sqlite3.Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = open_historical(settings)
    rows = candle_blocks._rows
    truth = _truth(conn)

    def rows_then_a_writer_commits(*args: object) -> object:
        got = rows(*args)  # type: ignore[arg-type]
        changed = CandleArrays(truth.ts[:1], truth.open[:1] + 2.0, truth.high[:1] + 2.0,
                               truth.low[:1], truth.close[:1], truth.volume[:1])  # fmt: skip
        upsert_candles(other, SYM, M1, changed)  # another process corrects a candle
        return got

    monkeypatch.setattr(candle_blocks, "_rows", rows_then_a_writer_commits)
    first = load_candles(conn, SYM, M1)
    _same(first, truth)  # the snapshot it read, complete and consistent
    assert _blocks(conn) == 0  # but nothing cached from a stale snapshot
    monkeypatch.undo()
    assert load_candles(conn, SYM, M1).open[0] == truth.open[0] + 2.0
    other.close()


def test_read_only_and_busy_stores_still_load(conn: sqlite3.Connection, settings: Settings) -> None:
    truth = _truth(conn)
    ro = sqlite3.connect(f"file:{settings.historical_db}?mode=ro", uri=True)
    _same(load_candles(ro, SYM, M1), truth)
    assert _blocks(conn) == 0
    ro.close()
    locker = sqlite3.connect(settings.historical_db, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    _same(load_candles(conn, SYM, M1), truth)  # no waiting for it, no cache
    locker.execute("ROLLBACK")
    locker.close()
    assert _blocks(conn) == 0
    _same(load_candles(conn, SYM, M1), truth)
    assert _blocks(conn) > 0


def test_damaged_block_is_rebuilt(conn: sqlite3.Connection) -> None:
    truth = _truth(conn)
    load_candles(conn, SYM, M1)
    with conn:
        conn.execute("UPDATE candle_blocks SET close = x'00' WHERE n > 0 AND rowid IN "
                     "(SELECT rowid FROM candle_blocks WHERE n > 0 LIMIT 1)")  # fmt: skip
    _same(load_candles(conn, SYM, M1), truth)
    blobs = [r[0] for r in conn.execute("SELECT close FROM candle_blocks")]
    assert all(len(b) > 1 for b in blobs)


def test_a_callers_transaction_sees_its_own_writes(conn: sqlite3.Connection) -> None:
    load_candles(conn, SYM, M1)
    truth = _truth(conn)
    conn.execute("BEGIN")
    conn.execute("UPDATE historical_data SET close = close + 5 WHERE symbol = ? AND ts = ?",
                 (SYM, int(truth.ts[0])))  # fmt: skip
    candle_blocks.invalidate(conn, SYM, "1", int(truth.ts[0]), int(truth.ts[0]))
    assert load_candles(conn, SYM, M1).close[0] == truth.close[0] + 5
    assert conn.in_transaction  # the caller's transaction is left alone
    conn.rollback()
    _same(load_candles(conn, SYM, M1), truth)
