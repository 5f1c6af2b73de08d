"""Fixtures for the SQLite stores: connections to real files under tmp_path, and candle data."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings
from fyerstrade.store.db import open_historical, open_live, open_trading


@pytest.fixture
def hist_conn(settings: Settings) -> Iterator[sqlite3.Connection]:
    """The historical database (created at the latest schema) under tmp_path."""
    conn = open_historical(settings)
    yield conn
    conn.close()


@pytest.fixture
def live_conn(settings: Settings) -> Iterator[sqlite3.Connection]:
    conn = open_live(settings)
    yield conn
    conn.close()


@pytest.fixture
def trading_conn(settings: Settings) -> Iterator[sqlite3.Connection]:
    conn = open_trading(settings)
    yield conn
    conn.close()


def make_candles(
    n: int, start_ts: int = 1_704_166_200, step: int = 60, seed: int = 1
) -> CandleArrays:
    """``n`` consistent OHLCV candles (high >= open/close >= low) every ``step`` seconds."""
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0, 0.2, n)).round(2)
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) + 0.05
    low = np.minimum(open_, close) - 0.05
    ts = start_ts + step * np.arange(n, dtype=np.int64)
    volume = rng.integers(100, 10_000, n).astype(np.int64)
    return CandleArrays(ts, open_, high, low, close, volume)


@pytest.fixture
def candle_factory() -> Callable[..., CandleArrays]:
    """``candle_factory(n, start_ts=..., step=60, seed=1)`` -> CandleArrays."""
    return make_candles


def write_symbol_master(settings: Settings, symbols: tuple[str, ...] | list[str]) -> None:
    """A symbol master listing ``symbols`` (equities, lot 1) in the test's historical store."""
    from datetime import date

    from fyerstrade.domain import Instrument
    from fyerstrade.store.symbols import replace_symbol_master

    conn = open_historical(settings)
    try:
        replace_symbol_master(conn, [Instrument(s) for s in symbols], ["NSE_CM"], date(2026, 1, 1))
    finally:
        conn.close()
