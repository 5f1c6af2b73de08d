"""Event-driven backtest speed against backtesting.py, backtrader and a bare Python loop.

Same data (synthetic one-minute bars) and rules for all: ``sma_crossover`` 10/30 on the close,
long only, fixed quantity 10, no costs, market orders at the next bar's open. ``sma_crossover``
declares ``wake_on = "cross"`` (its ``on_data`` acts only where the averages cross), so our engine
calls it only there; the same strategy called at every bar (a subclass without the declaration)
is timed too, so both figures are on the page. Backtrader is
measured on a slice (it is slow); everything is reported as bars per second and as ratios.
Also: 10 symbols × one year of one-minute bars with ``opening_price_crossover`` in intraday mode
with costs. ``FYERSTRADE_BENCH_BARS`` scales the bar count down (default 1,000,000).

Whole process (issue 14): what a user waits for. The same bars are written to a store and to a CSV
file; ``fyerstrade backtest run ... --json`` (the console script, stdout to a file) races a
15-line backtesting.py script that reads the CSV and runs ``Backtest.run()`` (:data:`PEER_SCRIPT`),
each in a fresh process, alternating, best wall time and best CPU time (user + system) of two
each; peak RSS and CPU from ``wait4`` in a small launcher process (Linux carries a parent's peak
RSS into its children). On a shared machine the CPU ratio is the one to read.
Targets: ours >= 5x faster, peak RSS <= the script's. ``FYERSTRADE_BENCH_WHOLE=0`` skips it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import talib

from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Resolution
from fyerstrade.strategies import registry
from fyerstrade.strategies.sma_crossover import SmaCrossover

QTY = 10


class _EveryBarSma(SmaCrossover):
    """sma_crossover with ``on_data`` called at every bar: the same function, declared again
    by this class without ``wake_on`` (no extra call per bar)."""

    name: ClassVar[str] = "bench_sma_every_bar"
    on_data = SmaCrossover.on_data


def _run_sma(bars: CandleArrays, strategy: str = "sma_crossover") -> BacktestResult:
    cfg = BacktestConfig(
        strategy=strategy,
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


def _ours(bars: CandleArrays, strategy: str = "sma_crossover") -> tuple[float, int, float]:
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        r = _run_sma(bars, strategy)
        best = min(best, time.process_time() - t)
    return best, len(r.trades), r.final_equity


def _ours_every_bar(bars: CandleArrays) -> tuple[float, int, float]:
    registry.BUILTINS[_EveryBarSma.name] = _EveryBarSma
    try:
        return _ours(bars, _EveryBarSma.name)
    finally:
        del registry.BUILTINS[_EveryBarSma.name]


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
    peak before the run (MB). Started through the small launcher (:func:`_timed_process`): a
    process forked straight from this one would report at least this one's size."""
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        out = Path(tmp) / "out.txt"
        _, peak, _ = _timed_process([sys.executable, "-c", _CHILD, str(n)], dict(os.environ), out)
        before = int(out.read_text(encoding="utf-8").split()[-1]) / 1024
    return peak, before


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


PEER_SCRIPT = """\
import sys
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

def SMA(values, n):
    return pd.Series(values).rolling(n).mean()

class SmaCross(Strategy):
    def init(self):
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 30)

    def next(self):
        if crossover(self.fast, self.slow) and not self.position:
            self.buy(size=10)
        elif crossover(self.slow, self.fast) and self.position:
            self.position.close()

df = pd.read_csv(sys.argv[1], index_col=0, parse_dates=True)
print(Backtest(df, SmaCross, cash=1e9, commission=0.0).run())
"""
_IST = timezone(timedelta(hours=5, minutes=30))
_SYMBOL = "NSE:BENCH-EQ"


# Linux keeps a process's peak RSS across fork and exec: a command started straight from this
# (large) process would report at least this process's size. A small launcher process starts it
# instead and reports the command's own wall time and peak RSS.
_LAUNCHER = """
import os, subprocess, sys, time
with open(sys.argv[1], "wb") as sink:
    t0 = time.perf_counter()
    proc = subprocess.Popen(sys.argv[2:], stdout=sink)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
print(os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def _timed_process(argv: list[str], env: dict[str, str], out: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of one fresh process, its
    stdout written to ``out``."""
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(out), *argv],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    code, wall, rss_kb, cpu = launched.stdout.split()
    if int(code) != 0:
        raise RuntimeError(f"{argv[:3]} failed ({code}): {launched.stderr[-2000:]}")
    return float(wall), int(rss_kb) / 1024, float(cpu)


def _whole_process(n: int) -> None:
    from fyerstrade.config import load_settings
    from fyerstrade.store.candles import upsert_candles
    from fyerstrade.store.db import open_historical

    bars = synthetic_candles(n, seed=42, start=date(2015, 1, 1))
    first = datetime.fromtimestamp(int(bars.ts[0]), _IST).date()
    last = datetime.fromtimestamp(int(bars.ts[-1]), _IST).date()
    with tempfile.TemporaryDirectory(prefix="bench-whole-") as tmp:
        root = Path(tmp)
        settings = load_settings(env_file=None, data_dir=root / "data", log_dir=root / "logs")
        conn = open_historical(settings)
        upsert_candles(conn, _SYMBOL, Resolution.M1, bars)
        conn.close()
        csv = root / "bars.csv"
        frame = _frame(bars)
        frame.index.name = "Date"
        frame.to_csv(csv)
        del frame
        script = root / "sma_backtesting_py.py"
        script.write_text(PEER_SCRIPT, encoding="utf-8")
        env = {**os.environ, "FYERSTRADE_DATA_DIR": str(root / "data"),
               "FYERSTRADE_LOG_DIR": str(root / "logs")}  # fmt: skip
        cli = Path(sys.executable).parent / "fyerstrade"
        ours_argv = [
            str(cli), "backtest", "run", "--strategy", "sma_crossover", "--symbol", _SYMBOL,
            "--resolution", "1", "--from", first.isoformat(), "--to", last.isoformat(),
            "--mode", "positional", "--param", "fast=10", "--param", "slow=30",
            "--quantity", "10", "--no-costs", "--capital", "1000000000", "--json",
        ]  # fmt: skip
        peer_argv = [sys.executable, str(script), str(csv)]
        ours: list[tuple[float, float, float]] = []
        peer: list[tuple[float, float, float]] = []
        for _ in range(2):
            ours.append(_timed_process(ours_argv, env, root / "ours.json"))
            peer.append(_timed_process(peer_argv, env, root / "peer.txt"))
        result = json.loads((root / "ours.json").read_text(encoding="utf-8"))
        peer_text = (root / "peer.txt").read_text(encoding="utf-8")
    peer_trades = next(
        (line.split()[-1] for line in peer_text.splitlines() if line.startswith("# Trades")), "?"
    )
    o_wall, p_wall = min(r[0] for r in ours), min(r[0] for r in peer)
    o_rss, p_rss = max(r[1] for r in ours), max(r[1] for r in peer)
    o_cpu, p_cpu = min(r[2] for r in ours), min(r[2] for r in peer)
    dont = os.environ.get("PYTHONDONTWRITEBYTECODE") or "unset"
    load = os.getloadavg()[0]
    print(f"whole process, {n:,} bars from {first} to {last} (PYTHONDONTWRITEBYTECODE={dont}, "
          f"load average {load:.1f}):")  # fmt: skip
    print(
        f"  fyerstrade backtest run --json    {o_wall:6.2f} s  CPU {o_cpu:6.2f} s  "
        f"peak RSS {o_rss:6,.0f} MB  trades {len(result['trades'])}  "
        f"(runs: {', '.join(f'{r[0]:.2f}' for r in ours)} s)"
    )
    print(
        f"  backtesting.py script (CSV)       {p_wall:6.2f} s  CPU {p_cpu:6.2f} s  "
        f"peak RSS {p_rss:6,.0f} MB  trades {peer_trades}  "
        f"(runs: {', '.join(f'{r[0]:.2f}' for r in peer)} s)"
    )
    print(f"  ratios: script / fyerstrade wall = {p_wall / o_wall:.1f}x, CPU = "
          f"{p_cpu / o_cpu:.1f}x (target >= 5x; CPU is the figure on a shared machine); "
          f"fyerstrade / script peak RSS = {o_rss / p_rss:.2f} (target <= 1)")  # fmt: skip


def run() -> None:
    n = int(os.environ.get("FYERSTRADE_BENCH_BARS", "1000000"))
    if os.environ.get("FYERSTRADE_BENCH_WHOLE", "1") != "0":
        _whole_process(n)
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
    every_s, every_trades, every_eq = _ours_every_bar(bars)
    every_rate = n / every_s
    print(
        f"  (every bar)     {every_rate:>12,.0f} bars/s  {every_s:6.2f} s  trades {every_trades}"
        f"  final equity {every_eq:,.2f}  (on_data called at every bar: no wake_on)"
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
        f"(target >= 10x, issue 14; on_data at every bar {every_rate / bp_rate:.1f}x), "
        f"/ backtrader = {ours_rate / bt_rate:.1f}x (target >= 50x), "
        f"bare loop / fyerstrade = {loop_rate / ours_rate:.1f}x"
    )
    per_symbol = max(1000, min(93_750, n // 10))  # 375 bars × 250 days = one year
    p_s, p_bars, p_trades = _portfolio(per_symbol)
    print(
        f"10 symbols × {per_symbol:,} one-minute bars, opening_price_crossover intraday "
        f"with costs: {p_bars / p_s:,.0f} bars/s ({p_s:.2f} s, {p_trades} round trips)"
    )
