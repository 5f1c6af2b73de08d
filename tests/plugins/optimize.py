"""Fixtures for the optimizer tests: constructed candles whose best parameters are known, a user
strategy folder with test strategies (so workers of other processes load them the way they load
a user's), and a filled candle store.

* ``WINDOW_STRATEGY``: ``window_test`` buys at the close of the day's bar ``enter`` and sells at
  the close of bar ``enter + hold`` (market orders: filled at the next bar's open).
* :func:`ramp_day_bars`: 5-minute days whose opens fall 103, 102, 101, 100 over bars 0..3, rise
  101..104 over bars 4..7 and stay at 100 from bar 8. Buying at the open of bar 3 (``enter=2``)
  and selling at the open of bar 7 (``hold=4``) is the one best trade of every day: +4 a share,
  everything else less — the answer a grid search must find.
* ``GATED_STRATEGY``: ``gated_test`` runs ``sma_crossover``'s rules, but a run with
  ``fast == GATE_FAST`` touches ``<gate>.waiting`` and waits in ``init`` until the file named by
  ``FYERSTRADE_TEST_GATE`` exists (at most two minutes): a sweep stops there, deterministically,
  for kill and Ctrl-C tests.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.calendar import get_calendar
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings, load_settings
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import connect

BARS_PER_DAY = 75
GATE_FAST = 7
OPT_SYMBOL = "NSE:SBIN-EQ"
OPT_START = date(2026, 6, 1)

WINDOW_STRATEGY = """
from fyerstrade.strategies.base import Param, Strategy

class WindowTest(Strategy):
    name = "window_test"
    description = "buy at the close of bar `enter` of the day, sell `hold` bars later"
    params = (
        Param("enter", int, 0, min=0, max=8, step=1),
        Param("hold", int, 1, min=1, max=6, step=1),
        Param("label", str, "x"),
    )

    def on_data(self, ctx):
        sym = ctx.symbols[0]
        ts = int(ctx.bars(sym).ts.last)
        k = ((ts + 19800) % 86400 - 33300) // 300
        if ctx.open_orders(sym):
            return
        if ctx.qty(sym) == 0 and k == self.enter:
            ctx.buy(sym, 10)
        elif ctx.qty(sym) > 0 and k == self.enter + self.hold:
            ctx.close(sym)
"""

GATED_STRATEGY = """
import os
import time
from pathlib import Path

from fyerstrade.strategies.sma_crossover import SmaCrossover

class GatedTest(SmaCrossover):
    name = "gated_test"
    description = "sma_crossover that waits for a gate file when fast == GATE_VALUE"

    def init(self, ctx):
        super().init(ctx)
        if self.fast == GATE_VALUE:
            gate = Path(os.environ["FYERSTRADE_TEST_GATE"])
            Path(str(gate) + ".waiting").touch()
            deadline = time.monotonic() + 120
            while not gate.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
""".replace("GATE_VALUE", str(GATE_FAST))


def session_ts(days: int, start: date = OPT_START) -> np.ndarray:
    """5-minute bar times of the first ``days`` NSE trading days from ``start``."""
    cal = get_calendar()
    first = cal.trading_days(start, start + timedelta(days=days * 2 + 10))[:days]
    return cal.expected_bars(first[0], first[-1], Resolution.M5).astype(np.int64)


def ramp_day_bars(days: int, start: date = OPT_START) -> CandleArrays:
    """Constructed 5-minute days (see the module docstring)."""
    ts = session_ts(days, start)
    k = ((ts + 19_800) % 86_400 - 33_300) // 300
    opens = np.full(len(ts), 100.0)
    ramp = ((0, 103.0), (1, 102.0), (2, 101.0), (3, 100.0), (4, 101.0), (5, 102.0), (6, 103.0),
            (7, 104.0))  # fmt: skip
    for bar, price in ramp:
        opens[k == bar] = price
    closes = np.concatenate((opens[1:], [100.0]))
    high = np.maximum(opens, closes)
    low = np.minimum(opens, closes)
    vol = np.full(len(ts), 1000, dtype=np.int64)
    return CandleArrays(ts.astype(np.int64), opens, high, low, closes, vol)


@pytest.fixture
def strategy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "window_test.py").write_text(WINDOW_STRATEGY)
    (folder / "gated_test.py").write_text(GATED_STRATEGY)
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(folder))
    monkeypatch.setenv("FYERSTRADE_TEST_GATE", str(tmp_path / "gate"))
    return folder


def store_bars(settings: Settings, symbol: str, bars: CandleArrays, res: Resolution) -> None:
    conn = connect(settings.historical_db)
    try:
        upsert_candles(conn, symbol, res, bars)
    finally:
        conn.close()


@pytest.fixture
def ramp_store(strategy_dir: Path) -> Settings:
    """Ten constructed ramp days of OPT_SYMBOL in the store, and the test strategies."""
    settings = load_settings(env_file=None)
    store_bars(settings, OPT_SYMBOL, ramp_day_bars(10), Resolution.M5)
    return settings


@pytest.fixture
def walk_store(strategy_dir: Path) -> Settings:
    """Sixty days of random-walk 5-minute bars of OPT_SYMBOL in the store."""
    settings = load_settings(env_file=None)
    ts = session_ts(60)
    walk = synthetic_candles(len(ts), start=OPT_START, resolution=Resolution.M5, seed=3)
    bars = CandleArrays(ts, walk.open, walk.high, walk.low, walk.close, walk.volume)
    store_bars(settings, OPT_SYMBOL, bars, Resolution.M5)
    return settings
