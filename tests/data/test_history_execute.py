"""The fetch executor with an in-memory history source: ledger bookkeeping and failure handling.

(The real SDK against the simulator is exercised in ``test_history_fetch.py``; these pin down
cases the simulator cannot produce: a listing date, a server that lags, a failing range.)
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import date, time

import numpy as np
import pytest

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.config import Settings
from fyerstrade.data.history import Candle, FetchSummary, fetch_history
from fyerstrade.domain import Resolution
from fyerstrade.errors import AuthError, RetryableError, UnknownSymbolError
from fyerstrade.store.candles import candle_timestamps
from fyerstrade.store.db import open_historical
from fyerstrade.store.ledger import ledger_entries

NOW = ist_epoch(date(2026, 11, 20), time(16, 0))
START = date(2026, 9, 1)


class FakeHistory:
    """Answers from the calendar: every expected bar from ``listed`` on, except ``withheld``."""

    def __init__(
        self,
        listed: dict[str, date] | None = None,
        withheld_after: int | None = None,
        fail: dict[tuple[str, Resolution], Exception] | None = None,
    ) -> None:
        self.cal = get_calendar()
        self.listed = listed or {}
        self.withheld_after = withheld_after
        self.fail = fail or {}
        self.requests_sent = 0
        self.asked: list[tuple[str, Resolution, int, int]] = []
        self._lock = threading.Lock()

    def history(
        self, symbol: str, resolution: Resolution, range_from: int, range_to: int
    ) -> list[Candle]:
        with self._lock:
            self.requests_sent += 1
            self.asked.append((symbol, resolution, range_from, range_to))
        if (symbol, resolution) in self.fail:
            raise self.fail[(symbol, resolution)]
        if symbol.startswith("NSE:BAD"):
            raise UnknownSymbolError(f"unknown symbol {symbol}")
        lo = max(range_from, ist_epoch(self.listed.get(symbol, date(2000, 1, 1))))
        hi = range_to if self.withheld_after is None else min(range_to, self.withheld_after)
        bars = self.cal.expected_bars(date(2026, 1, 1), date(2026, 11, 20), resolution)
        bars = bars[(bars >= lo) & (bars <= hi)]
        return [(int(t), 100.0, 101.0, 99.0, 100.5, 10) for t in bars.tolist()]


@pytest.fixture
def conn(settings: Settings) -> Iterator[sqlite3.Connection]:
    c = open_historical(settings)
    yield c
    c.close()


def run(
    conn: sqlite3.Connection,
    source: FakeHistory,
    symbols: list[str],
    resolutions: list[Resolution],
    start: date | None = START,
) -> FetchSummary:
    return fetch_history(
        conn, source, symbols, resolutions, calendar=get_calendar(), clock=lambda: NOW, start=start
    )


def test_before_listing_is_recorded_empty_and_not_asked_again(conn: sqlite3.Connection) -> None:
    listed = date(2026, 10, 15)
    source = FakeHistory(listed={"NSE:NEW-EQ": listed})
    first = run(conn, source, ["NSE:NEW-EQ"], [Resolution.M5, Resolution.D])
    assert not first.errors
    stored = candle_timestamps(conn, "NSE:NEW-EQ", Resolution.M5)
    assert stored[0] == ist_epoch(listed, time(9, 15))
    empty = [e for e in ledger_entries(conn, "NSE:NEW-EQ", Resolution.M5) if e.status == "no_data"]
    assert len(empty) == 1
    assert empty[0].range_from == ist_epoch(START, time(9, 15))
    assert empty[0].range_to == ist_epoch(date(2026, 10, 14), time(15, 25)) + 299
    asked = len(source.asked)
    second = run(conn, source, ["NSE:NEW-EQ"], [Resolution.M5, Resolution.D])
    assert second.planned == 0 and len(source.asked) == asked


def test_recent_bars_the_server_lacks_are_asked_again(conn: sqlite3.Connection) -> None:
    # The server has published nothing after 19 Nov 12:00 yet: those bars stay "missing".
    lag = ist_epoch(date(2026, 11, 19), time(12, 0))
    source = FakeHistory(withheld_after=lag)
    run(conn, source, ["NSE:SBIN-EQ"], [Resolution.M1])
    assert all(e.status == "ok" for e in ledger_entries(conn, "NSE:SBIN-EQ", Resolution.M1))
    source.withheld_after = None
    again = run(conn, source, ["NSE:SBIN-EQ"], [Resolution.M1], start=None)
    (req,) = source.asked[-1:]
    assert again.planned == 1
    assert req[2] == lag + 60
    assert candle_timestamps(conn, "NSE:SBIN-EQ", Resolution.M1)[-1] == ist_epoch(
        date(2026, 11, 20), time(15, 29)
    )


def test_a_failing_range_is_recorded_and_the_rest_fetched(conn: sqlite3.Connection) -> None:
    source = FakeHistory(
        fail={("NSE:TCS-EQ", Resolution.D): RetryableError("HTTP 502 from Fyers after 4 tries")}
    )
    summary = run(conn, source, ["NSE:TCS-EQ", "NSE:BAD-EQ", "NSE:SBIN-EQ"], [Resolution.D])
    assert sorted(summary.errors) == [
        "HTTP 502 from Fyers after 4 tries",
        "unknown symbol NSE:BAD-EQ",
    ]  # in completion order, which the thread pool decides
    assert summary.failed_symbols == ["NSE:BAD-EQ"]
    assert (summary.planned, summary.completed, summary.failed) == (3, 1, 2)
    assert [e.status for e in ledger_entries(conn, "NSE:TCS-EQ", Resolution.D)] == ["error"]
    assert ledger_entries(conn, "NSE:BAD-EQ", Resolution.D) == []
    expected = get_calendar().expected_bars(START, date(2026, 11, 20), Resolution.D)
    assert np.array_equal(candle_timestamps(conn, "NSE:SBIN-EQ", Resolution.D), expected)
    # The failed range is still missing, so the next run asks for it again.
    source.fail.clear()
    assert run(conn, source, ["NSE:TCS-EQ"], [Resolution.D]).planned == 1


def test_auth_error_stops_the_fetch_and_writes_nothing(conn: sqlite3.Connection) -> None:
    source = FakeHistory(
        fail={
            (s, Resolution.D): AuthError("token rejected; run `fyerstrade auth login`")
            for s in ("NSE:A-EQ", "NSE:B-EQ")
        }
    )
    with pytest.raises(AuthError):
        run(conn, source, ["NSE:A-EQ", "NSE:B-EQ"], [Resolution.D])
    assert conn.execute("SELECT COUNT(*) FROM historical_data").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM fetch_ledger").fetchone()[0] == 0
