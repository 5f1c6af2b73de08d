"""Event-driven backtest speed against backtesting.py, backtrader and a bare Python loop.

Same data (synthetic one-minute bars) and rules for all: ``sma_crossover`` 10/30 on the close,
long only, fixed quantity 10, no costs, market orders at the next bar's open. Backtrader is
measured on a slice (it is slow); everything is reported as bars per second and as ratios.
Also: 10 symbols × one year of one-minute bars with ``opening_price_crossover`` in intraday mode
with costs. ``FYERSTRADE_BENCH_BARS`` scales the bar count down (default 1,000,000).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings
from datetime import date

import numpy as np
import pandas as pd
import talib

from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import CandleArrays

QTY = 10


def _run_sma(bars: CandleArrays) -> BacktestResult:
    cfg = BacktestConfig(
        strategy="sma_crossover",
        params={"fast": 10, "slow": 30},
        symbols=["X"],
        resolution=Resolution.M1,
        start=date(2000, 1, 1),
        end=date(2100, 1, 1),
        capital=1e9,
        quantity=QTY,
        costs=False,
    )
    return run_backtest(cfg, data={"X": bars})


def _ours(bars: CandleArrays) -> tuple[float, int, float]:
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        r = _run_sma(bars)
        best = min(best, time.process_time() - t)
    return best, len(r.trades), r.final_equity


def _ours_peak_mb(bars: CandleArrays) -> float:
    """Peak memory the run allocates (Python objects and numpy buffers, tracemalloc)."""
    tracemalloc.start()
    try:
        _run_sma(bars)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


_CHILD = """
import resource, sys
from datetime import date
from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.domain import Resolution
bars = synthetic_candles(int(sys.argv[1]), seed=42)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cfg = BacktestConfig("sma_crossover", {"fast": 10, "slow": 30}, ["X"], Resolution.M1,
                     date(2000, 1, 1), date(2100, 1, 1), capital=1e9, quantity=10, costs=False)
run_backtest(cfg, data={"X": bars})
print(before)
"""


def _fresh_process_rss_mb(n: int) -> tuple[float, float]:
    """Peak RSS of a fresh process that only builds the bars and runs our engine once, and its
    peak before the run (MB)."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n)], capture_output=True, text=True, check=True
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return peak, int(out.stdout.split()[-1]) / 1024


def _backtesting_py(bars: CandleArrays) -> tuple[float, int, float]:
    from backtesting import Backtest, Strategy

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.f = self.I(talib.SMA, self.data.Close, 10)
            self.s = self.I(talib.SMA, self.data.Close, 30)

        def next(self) -> None:
            f, s = self.f, self.s
            if f[-2] <= s[-2] and f[-1] > s[-1]:
                if not self.position:
                    self.buy(size=QTY)
            elif f[-2] >= s[-2] and f[-1] < s[-1] and self.position:
                self.position.close()

    df = _frame(bars)
    bt = Backtest(df, SmaCross, cash=1e9, commission=0.0, trade_on_close=False)
    best = float("inf")
    for _ in range(2):
        t = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = bt.run()
        best = min(best, time.process_time() - t)
    return best, int(stats["# Trades"]), float(stats["Equity Final [$]"])


def _backtrader(bars: CandleArrays) -> tuple[float, int]:
    import backtrader as bt

    class SmaCross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.f = bt.indicators.SMA(self.data.close, period=10)
            self.s = bt.indicators.SMA(self.data.close, period=30)
            self.trades = 0

        def next(self) -> None:
            f, s = self.f, self.s
            if f[-1] <= s[-1] and f[0] > s[0]:
                if not self.position:
                    self.buy(size=QTY)
            elif f[-1] >= s[-1] and f[0] < s[0] and self.position:
                self.close()
                self.trades += 1

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=_frame(bars)))
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(1e9)
    t = time.process_time()
    strat = cerebro.run()[0]
    return time.process_time() - t, strat.trades


def _bare_loop(bars: CandleArrays) -> float:
    """The floor: a plain Python loop over precomputed signals with next-open fills."""
    close = bars.close
    cross = _cross(talib.SMA(close, 10), talib.SMA(close, 30)).tolist()
    opens = bars.open.tolist()
    t = time.process_time()
    pos = 0
    cash = 0.0
    pending = 0
    for i in range(len(opens)):
        if pending:
            cash -= pending * opens[i]
            pos += pending
            pending = 0
        c = cross[i]
        if c > 0 and pos == 0:
            pending = QTY
        elif c < 0 and pos > 0:
            pending = -pos
    return time.process_time() - t


def _cross(f: np.ndarray, s: np.ndarray) -> np.ndarray:
    out = np.zeros(len(f))
    with np.errstate(invalid="ignore"):
        out[1:][(f[:-1] <= s[:-1]) & (f[1:] > s[1:])] = 1
        out[1:][(f[:-1] >= s[:-1]) & (f[1:] < s[1:])] = -1
    return out


def _frame(bars: CandleArrays) -> pd.DataFrame:
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


def _portfolio(per_symbol: int) -> tuple[float, int, int]:
    data = {
        f"NSE:S{k}-EQ": synthetic_candles(per_symbol, seed=100 + k, start=date(2024, 1, 1))
        for k in range(10)
    }
    cfg = BacktestConfig(
        strategy="opening_price_crossover",
        params={},
        symbols=list(data),
        resolution=Resolution.M1,
        start=date(2024, 1, 1),
        end=date(2030, 1, 1),
        mode="intraday",
        capital=1_000_000,
        costs=True,
    )
    t = time.process_time()
    r = run_backtest(cfg, data=data)
    return time.process_time() - t, r.bars_processed, len(r.trades)


def run() -> None:
    n = int(os.environ.get("FYERSTRADE_BENCH_BARS", "1000000"))
    # first, while this process is small: Linux carries a process's peak RSS across exec
    rss, rss_before = _fresh_process_rss_mb(n)
    bars = synthetic_candles(n, seed=42)
    print(f"{n:,} one-minute bars, sma_crossover 10/30, fixed qty {QTY}, no costs")
    ours_s, ours_trades, ours_eq = _ours(bars)
    ours_rate = n / ours_s
    print(
        f"  fyerstrade      {ours_rate:>12,.0f} bars/s  {ours_s:6.2f} s  trades {ours_trades}"
        f"  final equity {ours_eq:,.2f}"
    )
    print(
        f"  memory: peak allocated by our run {_ours_peak_mb(bars):,.0f} MB (tracemalloc); "
        f"peak RSS of a fresh process running it {rss:,.0f} MB, {rss_before:,.0f} MB of it "
        "before the run (interpreter, libraries, the bars) (target < 400 MB)"
    )
    bp_s, bp_trades, bp_eq = _backtesting_py(bars)
    bp_rate = n / bp_s
    print(
        f"  backtesting.py  {bp_rate:>12,.0f} bars/s  {bp_s:6.2f} s  trades {bp_trades}"
        f"  final equity {bp_eq:,.2f}"
    )
    m = min(n, 100_000, max(10_000, n // 10))
    bt_s, _ = _backtrader(
        CandleArrays(
            bars.ts[:m], bars.open[:m], bars.high[:m], bars.low[:m], bars.close[:m], bars.volume[:m]
        )
    )
    bt_rate = m / bt_s
    print(f"  backtrader      {bt_rate:>12,.0f} bars/s  {bt_s:6.2f} s  (on {m:,} bars)")
    loop_rate = n / _bare_loop(bars)
    print(f"  bare loop       {loop_rate:>12,.0f} bars/s")
    print(
        f"  ratios: fyerstrade / backtesting.py = {ours_rate / bp_rate:.1f}x "
        f"(target >= 5x), / backtrader = {ours_rate / bt_rate:.1f}x (target >= 50x), "
        f"bare loop / fyerstrade = {loop_rate / ours_rate:.1f}x"
    )
    per_symbol = max(1000, min(93_750, n // 10))  # 375 bars × 250 days = one year
    p_s, p_bars, p_trades = _portfolio(per_symbol)
    print(
        f"10 symbols × {per_symbol:,} one-minute bars, opening_price_crossover intraday "
        f"with costs: {p_bars / p_s:,.0f} bars/s ({p_s:.2f} s, {p_trades} round trips)"
    )
