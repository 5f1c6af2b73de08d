"""Fixtures for the dashboard tests: a small candle store and saved backtest runs.

* ``candle_store``: the test's data dir holds 5-minute and daily candles of two symbols over
  :data:`STORE_DAYS` trading days ending :data:`STORE_END`, a seeded random walk on the calendar's
  expected bars (so coverage is complete except for one deliberately removed day of SBIN).
* ``saved_runs``: ``candle_store`` plus two real ``sma_crossover`` runs saved in the journal;
  returns their run ids in the journal's order (newest first).
* ``page_app(name)``: Streamlit's AppTest of the page ``fyerstrade.dashboard.pages.<name>``,
  run once and checked to have raised nothing.
"""

from __future__ import annotations

import functools
from datetime import date

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fyerstrade.backtest.journal import list_runs
from fyerstrade.calendar import get_calendar
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import connect

PAGE_TIMEOUT = 60


def _scan_installed_components_once() -> None:
    """Every AppTest's first run scans the metadata of every installed package for Streamlit
    components (0.4 s of CPU each time, dozens of AppTests per suite); the packages installed do
    not change during a test session, so the first scan's answer stands for the session."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    if getattr(scan, "cache_info", None) is None:
        manifest_scanner.scan_component_manifests = functools.cache(scan)  # type: ignore[assignment]


_scan_installed_components_once()
STORE_SYMBOLS = ("NSE:SBIN-EQ", "NSE:TCS-EQ")
STORE_END = date(2026, 11, 20)
STORE_START = date(2026, 9, 1)
HOLE_DAY = date(2026, 10, 15)


def random_walk(ts: np.ndarray, seed: int, start_price: float) -> CandleArrays:
    """OHLCV candles on ``ts`` whose closes follow a seeded random walk (tick 0.05)."""
    rng = np.random.default_rng(seed)
    n = ts.shape[0]
    close = start_price * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate([[start_price], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.001, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.001, n))

    def tick(a: np.ndarray) -> np.ndarray:
        return np.round(a / 0.05) * 0.05

    o, h, lo, c = tick(open_), tick(high), tick(low), tick(close)
    h = np.maximum.reduce([h, o, c])
    lo = np.minimum.reduce([lo, o, c])
    vol = rng.integers(1_000, 50_000, n).astype(np.int64)
    return CandleArrays(ts.astype(np.int64), o, h, lo, c, vol)


def fill_store(
    settings: Settings, resolutions: tuple[Resolution, ...] = (Resolution.M5, Resolution.D)
) -> None:
    cal = get_calendar()
    conn = connect(settings.historical_db)
    try:
        for i, symbol in enumerate(STORE_SYMBOLS):
            for res in resolutions:
                ts = cal.expected_bars(STORE_START, STORE_END, res)
                if symbol == STORE_SYMBOLS[0] and res is Resolution.M5:
                    hole = cal.expected_bars(HOLE_DAY, HOLE_DAY, res)
                    ts = ts[~np.isin(ts, hole)]
                upsert_candles(
                    conn, symbol, res, random_walk(ts, seed=7 + i, start_price=500.0 * (i + 1))
                )
    finally:
        conn.close()


@pytest.fixture
def candle_store(settings: Settings) -> Settings:
    fill_store(settings)
    return settings


@pytest.fixture
def saved_runs(candle_store: Settings) -> list[str]:
    from fyerstrade.dashboard.pages.backtest import run_and_save

    ids = []
    for fast, slow in ((5, 20), (10, 40)):
        run_id, _, _ = run_and_save(
            candle_store,
            {
                "strategy": "sma_crossover",
                "params": {"fast": fast, "slow": slow},
                "symbols": [STORE_SYMBOLS[0]],
                "resolution": Resolution.M5,
                "start": date(2026, 10, 1),
                "end": STORE_END,
            },
        )
        ids.append(run_id)
    conn = connect(candle_store.trading_db)
    try:
        listed = [
            r.run_id for r in list_runs(conn)
        ]  # newest first; ids of one second sort by suffix
    finally:
        conn.close()
    assert sorted(listed) == sorted(ids)
    return listed


def _render_page(name: str) -> None:
    # AppTest runs this function's source as the page script: imports stay inside
    import importlib

    importlib.import_module(f"fyerstrade.dashboard.pages.{name}").render_page()


def page_app(name: str) -> AppTest:
    """The dashboard page ``name`` under AppTest, after its first run (which must not raise)."""
    at = AppTest.from_function(_render_page, args=(name,), default_timeout=PAGE_TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at
