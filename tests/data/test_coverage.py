"""Coverage of the store against the calendar, on a store with holes placed by hand."""

from __future__ import annotations

import json
from datetime import date, time

import numpy as np
import pytest

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.cli import main
from fyerstrade.config import Settings
from fyerstrade.data.coverage import (
    coverage_report,
    find_holes,
    missing_by_day,
    missing_counts_by_day,
)
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import delete_candles, upsert_candles
from fyerstrade.store.db import open_historical
from fyerstrade.store.ledger import record_fetch

START, END = date(2026, 11, 16), date(2026, 11, 20)  # Mon-Fri, all trading days
SYM = "NSE:SBIN-EQ"


def candles_at(ts: np.ndarray) -> CandleArrays:
    n = ts.size
    price = np.full(n, 100.0)
    return CandleArrays(
        ts.astype(np.int64), price, price + 1, price - 1, price, np.ones(n, np.int64)
    )


@pytest.fixture
def holey_store(settings: Settings) -> Settings:
    """Five days of 1-minute and daily bars; 1-minute holes: all of Nov 18 and 10 minutes on
    Nov 19 from 10:00; nothing missing in the daily series."""
    cal = get_calendar()
    conn = open_historical(settings)
    try:
        upsert_candles(
            conn, SYM, Resolution.M1, candles_at(cal.expected_bars(START, END, Resolution.M1))
        )
        upsert_candles(
            conn, SYM, Resolution.D, candles_at(cal.expected_bars(START, END, Resolution.D))
        )
        upsert_candles(
            conn, "NSE:TCS-EQ", Resolution.M5, candles_at(cal.bar_times(START, Resolution.M5))
        )
        d18 = date(2026, 11, 18)
        delete_candles(conn, SYM, Resolution.M1, ist_epoch(d18), ist_epoch(d18) + 86_399)
        t = ist_epoch(date(2026, 11, 19), time(10, 0))
        delete_candles(conn, SYM, Resolution.M1, t, t + 9 * 60)
    finally:
        conn.close()
    return settings


def test_find_holes_orders_by_size() -> None:
    expected = np.arange(0, 100, dtype=np.int64)
    stored = np.setdiff1d(expected, [3, 4, 50, 70, 71, 72, 73])
    missing, holes = find_holes(expected, stored)
    assert missing == 7
    assert [(h.start, h.end, h.bars) for h in holes] == [(70, 73, 4), (3, 4, 2), (50, 50, 1)]
    assert len(find_holes(expected, stored, max_holes=1)[1]) == 1
    assert find_holes(expected, expected) == (0, [])


def test_missing_counts_by_day() -> None:
    cal = get_calendar()
    expected = cal.expected_bars(START, END, Resolution.M5)
    stored = expected[expected < ist_epoch(date(2026, 11, 19))]
    counts = missing_counts_by_day(expected, stored)
    assert counts == {
        date(2026, 11, 16): 0,
        date(2026, 11, 17): 0,
        date(2026, 11, 18): 0,
        date(2026, 11, 19): 75,
        date(2026, 11, 20): 75,
    }


def test_coverage_report_numbers(holey_store: Settings) -> None:
    conn = open_historical(holey_store)
    try:
        rows = coverage_report(conn)
        only = coverage_report(conn, SYM)
        by_day = missing_by_day(conn, SYM, Resolution.M1, START, END)
    finally:
        conn.close()
    assert [(r.symbol, r.resolution) for r in rows] == [
        (SYM, Resolution.M1),
        (SYM, Resolution.D),
        ("NSE:TCS-EQ", Resolution.M5),
    ]
    assert [(r.symbol, r.resolution) for r in only] == [(SYM, Resolution.M1), (SYM, Resolution.D)]
    m1, daily, tcs = rows
    assert (m1.candles, m1.expected, m1.missing) == (5 * 375 - 385, 5 * 375, 385)
    assert m1.first == ist_epoch(START, time(9, 15))
    assert m1.last == ist_epoch(END, time(15, 29))
    big, small = m1.holes
    assert (big.start, big.end, big.bars) == (
        ist_epoch(date(2026, 11, 18), time(9, 15)),
        ist_epoch(date(2026, 11, 18), time(15, 29)),
        375,
    )
    assert (small.start, small.bars) == (ist_epoch(date(2026, 11, 19), time(10, 0)), 10)
    assert (daily.candles, daily.expected, daily.missing, daily.holes) == (5, 5, 0, ())
    assert m1.known_empty == 0
    assert (tcs.candles, tcs.expected, tcs.missing) == (75, 75, 0)
    assert by_day == {
        date(2026, 11, 16): 0,
        date(2026, 11, 17): 0,
        date(2026, 11, 18): 375,
        date(2026, 11, 19): 10,
        date(2026, 11, 20): 0,
    }


def test_cli_coverage_json(holey_store: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "coverage", "--symbol", SYM, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    keys = {"symbol", "resolution", "first", "last", "candles", "expected", "missing", "holes"}
    assert [set(d) - {"known_empty"} for d in data] == [keys] * 2
    m1 = data[0]
    assert m1["resolution"] == "1"
    assert m1["first"] == "2026-11-16T09:15:00+05:30"
    assert m1["last"] == "2026-11-20T15:29:00+05:30"
    assert (m1["candles"], m1["expected"], m1["missing"]) == (1490, 1875, 385)
    assert m1["holes"] == [
        {"start": "2026-11-18T09:15:00+05:30", "end": "2026-11-18T15:29:00+05:30", "bars": 375},
        {"start": "2026-11-19T10:00:00+05:30", "end": "2026-11-19T10:09:00+05:30", "bars": 10},
    ]
    assert data[1]["first"] == "2026-11-16T00:00:00+05:30"


def test_cli_coverage_table_and_unknown_symbol(
    holey_store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "coverage"]) == 0
    out = capsys.readouterr().out
    assert "NSE:TCS-EQ" in out
    assert "2026-11-18 09:15 → 2026-11-18 15:29: 375" in out
    assert main(["data", "coverage", "--symbol", "NSE:NOPE-EQ"]) == 2
    assert "no candles stored for NSE:NOPE-EQ" in capsys.readouterr().err


def test_missing_bars_the_ledger_knows_are_empty(holey_store: Settings) -> None:
    conn = open_historical(holey_store)
    try:
        t = ist_epoch(date(2026, 11, 19), time(10, 0))
        record_fetch(conn, SYM, Resolution.M1, t, t + 4 * 60 + 59, 0, "no_data")
        (m1,) = [r for r in coverage_report(conn, SYM) if r.resolution is Resolution.M1]
    finally:
        conn.close()
    assert (m1.missing, m1.known_empty) == (385, 5)
