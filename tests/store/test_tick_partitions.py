"""Live tick rows, month partitions of the archive, the historical_ticks view."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from fyerstrade.domain import Tick
from fyerstrade.store.ticks import (
    day_bounds,
    drop_partition,
    ensure_partition,
    insert_live_ticks,
    live_tick_count,
    load_ticks,
    month_bounds,
    month_key,
    tick_partitions,
    tick_row,
)

# 2024-01-31 09:15 IST and 2024-02-01 09:15 IST
JAN31 = 1_706_672_700
FEB01 = JAN31 + 86_400


def test_month_keys_follow_ist_calendar() -> None:
    assert month_key(JAN31) == "202401" and month_key(FEB01) == "202402"
    start, end = month_bounds("202402")
    assert start == 1_706_725_800  # 2024-02-01 00:00 IST = 2024-01-31 18:30 UTC
    assert month_key(start) == "202402" and month_key(start - 1) == "202401"
    assert month_key(end) == "202403"
    assert month_bounds("202412")[1] == month_bounds("202501")[0]
    assert day_bounds(date(2024, 2, 1)) == (start, start + 86_400)


def test_live_ticks_are_appended(live_conn: sqlite3.Connection) -> None:
    t = Tick("NSE:SBIN-EQ", JAN31, 610.5, 1200, 610.4, 610.6, 10, 12, 5)
    insert_live_ticks(live_conn, [tick_row(t, JAN31 + 0.25), tick_row(t, JAN31 + 0.5)])
    insert_live_ticks(live_conn, [])
    assert live_tick_count(live_conn) == 2 and live_tick_count(live_conn, "NSE:INFY-EQ") == 0
    row = live_conn.execute("SELECT symbol, ts, ltp, volume, recv_ts FROM live_ticks").fetchone()
    assert row == ("NSE:SBIN-EQ", JAN31, 610.5, 1200, JAN31 + 0.25)


def test_partitions_hold_one_month_each_and_drop_as_a_unit(hist_conn: sqlite3.Connection) -> None:
    assert hist_conn.execute("SELECT COUNT(*) FROM historical_ticks").fetchone()[0] == 0
    with hist_conn:
        for month, ts in (("202401", JAN31), ("202402", FEB01)):
            table = ensure_partition(hist_conn, month)
            rows = [
                (sym, ts + i, i, 100.0 + i, i, 0.0, 0.0, 0, 0, 1, 0.0)
                for sym in ("A", "B")
                for i in range(5)
            ]
            hist_conn.executemany(f"INSERT INTO {table} VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    assert ensure_partition(hist_conn, "202401") == "historical_ticks_202401"
    assert [p.month for p in tick_partitions(hist_conn)] == ["202401", "202402"]
    assert hist_conn.execute("SELECT COUNT(*) FROM historical_ticks").fetchone()[0] == 20

    day = load_ticks(hist_conn, "A", date(2024, 2, 1))
    assert day.ts.tolist() == [FEB01 + i for i in range(5)]
    assert day.ltp.tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert len(load_ticks(hist_conn, "A", date(2024, 2, 2))) == 0
    assert len(load_ticks(hist_conn, "A", date(2023, 5, 2))) == 0  # no such month

    # one symbol-day reads one month's table: the query plan touches only that table
    plan = " ".join(
        str(r[3])
        for r in hist_conn.execute(
            "EXPLAIN QUERY PLAN SELECT ts FROM historical_ticks_202402 "
            "WHERE symbol = 'A' AND ts >= 1 AND ts < 2"
        )
    )
    assert "USING PRIMARY KEY" in plan and "202401" not in plan

    assert drop_partition(hist_conn, "202401") == 10
    assert drop_partition(hist_conn, "202401") == 0
    assert [p.month for p in tick_partitions(hist_conn)] == ["202402"]
    assert hist_conn.execute("SELECT COUNT(*) FROM historical_ticks").fetchone()[0] == 10
    names = {r[0] for r in hist_conn.execute("SELECT name FROM sqlite_master")}
    assert "historical_ticks_202401" not in names
    with pytest.raises(ValueError, match="YYYYMM"):
        drop_partition(hist_conn, "2024-01")


def test_missing_quote_fields_load_as_zero(hist_conn: sqlite3.Connection) -> None:
    with hist_conn:
        table = ensure_partition(hist_conn, "202402")
        hist_conn.execute(
            f"INSERT INTO {table} (symbol, ts, seq, ltp, volume) VALUES ('A', ?, 1, 99.5, 10)",
            (FEB01,),
        )
    day = load_ticks(hist_conn, "A", date(2024, 2, 1))
    assert day.ltp.tolist() == [99.5] and day.volume.tolist() == [10]
    assert day.bid.tolist() == [0.0] and day.bid_qty.tolist() == [0] and day.recv_ts[0] == 0.0
