"""Candle storage: idempotent upsert, inclusive ranges, deletes, statistics."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import numpy as np
import pytest

from fyerstrade.domain import Resolution
from fyerstrade.store.candles import (
    CandleArrays,
    candle_stats,
    candle_timestamps,
    delete_candles,
    load_candles,
    stored_spans,
    stored_symbols,
    upsert_candles,
)
from fyerstrade.store.ledger import ledger_entries, record_fetch

SBIN = "NSE:SBIN-EQ"
Factory = Callable[..., CandleArrays]


def test_upsert_is_idempotent_and_counts_only_real_changes(
    hist_conn: sqlite3.Connection, candle_factory: Factory
) -> None:
    candles = candle_factory(500)
    assert upsert_candles(hist_conn, SBIN, Resolution.M1, candles) == 500
    assert upsert_candles(hist_conn, SBIN, Resolution.M1, candles) == 0

    changed = candle_factory(500)
    changed.close[10] += 1.0  # a provider's correction of one bar
    changed.volume[20] += 5
    assert upsert_candles(hist_conn, SBIN, Resolution.M1, changed) == 2
    back = load_candles(hist_conn, SBIN, Resolution.M1)
    assert len(back) == 500
    assert back.close[10] == changed.close[10] and back.volume[20] == changed.volume[20]
    np.testing.assert_array_equal(back.ts, changed.ts)
    np.testing.assert_array_equal(back.open, changed.open)
    assert back.ts.dtype == np.int64 and back.volume.dtype == np.int64
    assert back.close.dtype == np.float64

    # overlapping batch: 250 old (unchanged) + 250 new
    more = candle_factory(500, start_ts=int(changed.ts[250]))
    more_same = CandleArrays(
        more.ts,
        *(
            np.concatenate([a[250:], b[250:]])
            for a, b in [
                (changed.open, more.open),
                (changed.high, more.high),
                (changed.low, more.low),
                (changed.close, more.close),
            ]
        ),
        np.concatenate([changed.volume[250:], more.volume[250:]]),
    )
    assert upsert_candles(hist_conn, SBIN, Resolution.M1, more_same) == 250
    assert hist_conn.execute("SELECT COUNT(*) FROM historical_data").fetchone()[0] == 750


def test_resolutions_and_symbols_are_kept_apart(
    hist_conn: sqlite3.Connection, candle_factory: Factory
) -> None:
    upsert_candles(hist_conn, SBIN, Resolution.M1, candle_factory(30))
    upsert_candles(hist_conn, SBIN, Resolution.M5, candle_factory(6, step=300))
    upsert_candles(hist_conn, "NSE:INFY-EQ", Resolution.D, candle_factory(3, step=86_400))
    assert len(load_candles(hist_conn, SBIN, Resolution.M5)) == 6
    assert len(load_candles(hist_conn, SBIN, Resolution.D)) == 0
    assert stored_symbols(hist_conn) == ["NSE:INFY-EQ", SBIN]
    stats = candle_stats(hist_conn)
    assert [(s.symbol, s.resolution, s.count) for s in stats] == [
        ("NSE:INFY-EQ", Resolution.D, 3),
        (SBIN, Resolution.M1, 30),
        (SBIN, Resolution.M5, 6),
    ]
    one = candle_stats(hist_conn, SBIN)
    assert one[0].first_ts == 1_704_166_200 and one[0].last_ts == 1_704_166_200 + 29 * 60
    # the same spans by seeks, without counting (the bar loader's question)
    for symbol in ("NSE:INFY-EQ", SBIN, "NSE:TCS-EQ"):
        by_count = {s.resolution: (s.first_ts, s.last_ts) for s in candle_stats(hist_conn, symbol)}
        assert stored_spans(hist_conn, symbol) == by_count
    assert stored_spans(hist_conn, SBIN)[Resolution.M5] == (1_704_166_200, 1_704_166_200 + 1500)
    assert stored_spans(hist_conn, "NSE:TCS-EQ") == {}


def test_ranges_are_inclusive_and_delete_removes_exactly_the_range(
    hist_conn: sqlite3.Connection, candle_factory: Factory
) -> None:
    c = candle_factory(100)
    upsert_candles(hist_conn, SBIN, Resolution.M1, c)
    t = c.ts
    part = load_candles(hist_conn, SBIN, Resolution.M1, int(t[10]), int(t[19]))
    np.testing.assert_array_equal(part.ts, t[10:20])
    np.testing.assert_array_equal(part.close, c.close[10:20])
    assert len(load_candles(hist_conn, SBIN, Resolution.M1, start_ts=int(t[95]))) == 5
    assert len(load_candles(hist_conn, SBIN, Resolution.M1, end_ts=int(t[4]))) == 5
    np.testing.assert_array_equal(
        candle_timestamps(hist_conn, SBIN, Resolution.M1, int(t[50]), int(t[52])), t[50:53]
    )

    assert delete_candles(hist_conn, SBIN, Resolution.M1, int(t[40]), int(t[49])) == 10
    left = candle_timestamps(hist_conn, SBIN, Resolution.M1)
    assert len(left) == 90 and not set(t[40:50].tolist()) & set(left.tolist())
    assert delete_candles(hist_conn, SBIN, Resolution.M1, int(t[40]), int(t[49])) == 0
    # a rerun of the same upsert repairs exactly the deleted bars
    assert upsert_candles(hist_conn, SBIN, Resolution.M1, c) == 10


def test_empty_and_row_construction() -> None:
    empty = CandleArrays.empty()
    assert len(empty) == 0 and empty.ts.dtype == np.int64
    rows = [[1_700_000_000, 1.0, 2.0, 0.5, 1.5, 100], [1_700_000_060, 1.5, 2.5, 1.0, 2.0, 7]]
    c = CandleArrays.from_rows(rows)
    assert c.ts.tolist() == [1_700_000_000, 1_700_000_060] and c.volume.tolist() == [100, 7]
    assert len(c.slice(1, 2)) == 1 and c.slice(1, 2).close[0] == 2.0
    with pytest.raises(ValueError, match="ts, open, high, low, close, volume"):
        CandleArrays.from_rows([[1, 2, 3]])


def test_fetch_ledger_records_and_lists_requests(hist_conn: sqlite3.Connection) -> None:
    record_fetch(hist_conn, SBIN, Resolution.M5, 2000, 2999, 0, "no_data", "holiday", fetched_at=9)
    record_fetch(hist_conn, SBIN, Resolution.M5, 1000, 1999, 75, "ok")
    record_fetch(hist_conn, SBIN, Resolution.M1, 1000, 1999, 375, "ok")
    entries = ledger_entries(hist_conn, SBIN, Resolution.M5)
    assert [(e.range_from, e.candles, e.status) for e in entries] == [
        (1000, 75, "ok"),
        (2000, 0, "no_data"),
    ]
    assert entries[1].message == "holiday" and entries[1].fetched_at == 9
    assert entries[0].fetched_at > 1_600_000_000
    assert ledger_entries(hist_conn, "NSE:INFY-EQ", Resolution.M5) == []
