"""Peer cross-check: our engine and backtesting.py make the same trades on the same rules.

``sma_crossover`` long only, fixed quantity, no costs, market orders at the next bar's open; the
backtesting.py strategy uses the same SMA (TA-Lib) and the same cross rule, and is configured
alike (trade_on_close off, no commission, cash large enough, no hedging or exclusive orders,
open trades left open). Our run closes a position still open at the end at the last close
(``end_of_data``), which is where backtesting.py marks its final equity, so the closed trades
are compared and the final equities must agree.
"""

from __future__ import annotations

import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest
import talib
from backtesting import Backtest
from backtesting import Strategy as BtStrategy
from backtesting.test import GOOG

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Resolution

QTY = 10
CASH = 1e9


class BtSmaCross(BtStrategy):  # type: ignore[misc]
    fast = 10
    slow = 30

    def init(self) -> None:
        self.f = self.I(talib.SMA, self.data.Close, self.fast)
        self.s = self.I(talib.SMA, self.data.Close, self.slow)

    def next(self) -> None:
        f, s = self.f, self.s
        if f[-2] <= s[-2] and f[-1] > s[-1]:
            if not self.position:
                self.buy(size=QTY)
        elif f[-2] >= s[-2] and f[-1] < s[-1] and self.position:
            self.position.close()


def peer_trades(df: pd.DataFrame, fast: int, slow: int) -> tuple[list[tuple], float]:
    bt = Backtest(
        df,
        BtSmaCross,
        cash=CASH,
        commission=0.0,
        trade_on_close=False,
        hedging=False,
        exclusive_orders=False,
        finalize_trades=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = bt.run(fast=fast, slow=slow)
    t = stats["_trades"]
    rows = list(
        zip(
            t["EntryBar"].astype(int),
            t["EntryPrice"].round(6),
            t["ExitBar"].astype(int),
            t["ExitPrice"].round(6),
            t["Size"].astype(int),
            strict=True,
        )
    )
    return rows, float(stats["Equity Final [$]"])


def our_trades(bars: CandleArrays, res: Resolution, fast: int, slow: int) -> tuple[list, float]:
    cfg = BacktestConfig(
        strategy="sma_crossover",
        params={"fast": fast, "slow": slow},
        symbols=["X"],
        resolution=res,
        start=date(1990, 1, 1),
        end=date(2030, 1, 1),
        capital=CASH,
        quantity=QTY,
        costs=False,
    )
    r = run_backtest(cfg, data={"X": bars})
    assert r.rejections == []
    ts = bars.ts

    def bar(t: int) -> int:
        return int(np.searchsorted(ts, t, side="right") - 1)

    rows = [
        (
            bar(t.entry_ts),
            round(t.entry_price, 6),
            bar(t.exit_ts),
            round(t.exit_price, 6),
            t.quantity,
        )
        for t in r.trades
        if t.exit_reason != "end_of_data"
    ]
    return rows, r.final_equity


def frame(bars: CandleArrays) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=pd.to_datetime(bars.ts, unit="s"),
    )


def goog_bars() -> CandleArrays:
    ts = GOOG.index.values.astype("datetime64[s]").astype(np.int64)
    return CandleArrays(
        ts=ts,
        open=GOOG["Open"].to_numpy(np.float64),
        high=GOOG["High"].to_numpy(np.float64),
        low=GOOG["Low"].to_numpy(np.float64),
        close=GOOG["Close"].to_numpy(np.float64),
        volume=GOOG["Volume"].to_numpy(np.int64),
    )


def assert_no_exact_ties(bars: CandleArrays, fast: int, slow: int) -> None:
    f = talib.SMA(bars.close, fast)
    s = talib.SMA(bars.close, slow)
    assert not np.any(f[slow:] == s[slow:]), "data with exact ties would test the tie rule"


@pytest.mark.parametrize("seed", [1, 2])
def test_same_trades_as_backtesting_py_on_synthetic_bars(seed: int) -> None:
    bars = synthetic_candles(5000, resolution=Resolution.M5, seed=seed, tick=0.0001)
    assert_no_exact_ties(bars, 10, 30)
    ours, our_equity = our_trades(bars, Resolution.M5, 10, 30)
    theirs, their_equity = peer_trades(frame(bars), 10, 30)
    assert len(ours) > 50
    assert ours == theirs
    assert our_equity == pytest.approx(their_equity, abs=1e-6)


def test_same_trades_as_backtesting_py_on_goog_daily() -> None:
    bars = goog_bars()
    assert_no_exact_ties(bars, 10, 30)
    ours, our_equity = our_trades(bars, Resolution.D, 10, 30)
    theirs, their_equity = peer_trades(GOOG, 10, 30)
    assert len(ours) > 20
    assert ours == theirs
    assert our_equity == pytest.approx(their_equity, abs=1e-6)
