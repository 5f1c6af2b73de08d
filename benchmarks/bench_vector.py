"""The vectorized engine against vectorbt and backtesting.py: a parameter sweep and one long run.

Sweep: ``sma_crossover`` on 100,000 one-minute bars, fast 5..50 step 5 × slow 20..200 step 20 with
fast < slow (90 combinations), long only, 10 shares, no costs, market orders at the next bar's
open. fyerstrade scores the 90 with ``VectorEvaluator`` (one process, one core: the optimizer's
executors spread blocks over cores); vectorbt with one ``Portfolio.from_signals`` call over 90
columns (the same SMAs, crosses and next-open fills, then total return and Sharpe per column);
backtesting.py with ``Backtest.optimize(method='grid')`` (its own process pool). Each side runs in
a fresh process of its own, so its peak RSS is its own; combinations per second exclude the
first-call compile (a warm-up call on a combination outside the grid). fyerstrade's sweep takes a
fraction of a second, so its time is the mean of 5 sweeps, each by a fresh evaluator (indicators
computed again inside the timing); vectorbt's and backtesting.py's take seconds and run once.
Wall and CPU time are both printed (CPU: the process and its finished children).

Single run: one ``run_vector`` over 1,000,000 one-minute bars (``sma_crossover`` 10/30: fills,
round trips, the equity curve, everything ``backtest run`` reports) against vectorbt's
``from_signals`` on the same signals. The first call's compile time is reported apart: in a
process with an empty numba cache (compile and write), then in a fresh process that loads the
cache. Also: 1,000 trials of ``opening_price_crossover`` intraday with costs on one core.

``FYERSTRADE_BENCH_SWEEP_BARS`` and ``FYERSTRADE_BENCH_BARS`` scale the bar counts down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

SWEEP_BARS = int(os.environ.get("FYERSTRADE_BENCH_SWEEP_BARS", "100000"))
SINGLE_BARS = int(os.environ.get("FYERSTRADE_BENCH_BARS", "1000000"))

_COMMON = """
import json, resource, sys, time, warnings
from datetime import date
import numpy as np
from fyerstrade.backtest.synthetic import synthetic_candles
N = int(sys.argv[1])
GRID = [(f, s) for f in range(5, 55, 5) for s in range(20, 220, 20) if f < s]
bars = synthetic_candles(N, seed=42)

def rss_mb():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024

def cpu():
    # CPU seconds of this process and its finished children (backtesting.py's pool)
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

def report(**kw):
    print(json.dumps(kw | {"rss_mb": rss_mb()}))
"""

_OURS_SWEEP = (
    _COMMON
    + """
REPEATS = 5  # a sweep takes a fraction of a second: the mean of 5 rides out scheduling noise
from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.vector.evaluator import VectorEvaluator
from fyerstrade.domain import Instrument, Resolution
cfg = BacktestConfig("sma_crossover", {}, ["X"], Resolution.M1, date(2000, 1, 1),
                     date(2100, 1, 1), capital=1e9, quantity=10, costs=False)
seconds = cpu_s = 0.0
for _ in range(REPEATS):  # a fresh evaluator each time: its indicators are computed again
    ev = VectorEvaluator(cfg, {"X": bars}, {"X": Instrument("X")}, None)
    ev.evaluate([{"fast": 3, "slow": 7}])  # numba from the cache, outside the grid
    t, c = time.perf_counter(), cpu()
    out = ev.evaluate([{"fast": f, "slow": s} for f, s in GRID])
    seconds, cpu_s = seconds + time.perf_counter() - t, cpu_s + cpu() - c
best = max(o.metrics["total_return"] for o in out)
report(seconds=seconds / REPEATS, cpu=cpu_s / REPEATS, combos=len(out), best=best,
       trades=sum(o.trades for o in out))
"""
)

_VBT_SETUP = """
import pandas as pd
import talib
import vectorbt as vbt
warnings.simplefilter("ignore")
idx = pd.to_datetime(bars.ts, unit="s")
close = pd.Series(bars.close, index=idx)
price = pd.Series(bars.open, index=idx)

def flags(fast, slow):
    # crosses decided at bar t's close, filled at bar t+1's open
    with np.errstate(invalid="ignore"):
        up = (fast[:-1] <= slow[:-1]) & (fast[1:] > slow[1:])
        down = (fast[:-1] >= slow[:-1]) & (fast[1:] < slow[1:])
    entries = np.zeros(fast.shape, dtype=bool)
    exits = np.zeros(fast.shape, dtype=bool)
    entries[2:] = up[:-1]
    exits[2:] = down[:-1]
    return entries, exits
"""

_VBT_SWEEP = (
    _COMMON
    + _VBT_SETUP
    + """
def sweep(grid):
    fast = vbt.MA.run(close, [f for f, _ in grid], short_name="fast").ma.values
    slow = vbt.MA.run(close, [s for _, s in grid], short_name="slow").ma.values
    entries, exits = flags(fast, slow)
    cols = pd.MultiIndex.from_tuples(grid, names=["fast", "slow"])
    pf = vbt.Portfolio.from_signals(
        close, pd.DataFrame(entries, index=idx, columns=cols),
        pd.DataFrame(exits, index=idx, columns=cols), price=price, size=10,
        init_cash=1e9, fees=0.0, freq="1min")
    return pf.total_return(), pf.sharpe_ratio()

sweep(GRID[:2])  # numba compile outside the timing
t, c = time.perf_counter(), cpu()
ret, sharpe = sweep(GRID)
seconds, cpu_s = time.perf_counter() - t, cpu() - c
report(seconds=seconds, cpu=cpu_s, combos=len(ret), best=float(ret.max()))
"""
)

_BTPY_SWEEP = (
    _COMMON
    + """
import pandas as pd
import talib
from backtesting import Backtest, Strategy
warnings.simplefilter("ignore")
df = pd.DataFrame({"Open": bars.open, "High": bars.high, "Low": bars.low, "Close": bars.close,
                   "Volume": bars.volume}, index=pd.to_datetime(bars.ts, unit="s"))

class SmaCross(Strategy):
    fast = 10
    slow = 30

    def init(self):
        self.f = self.I(talib.SMA, self.data.Close, self.fast)
        self.s = self.I(talib.SMA, self.data.Close, self.slow)

    def next(self):
        f, s = self.f, self.s
        if f[-2] <= s[-2] and f[-1] > s[-1]:
            if not self.position:
                self.buy(size=10)
        elif f[-2] >= s[-2] and f[-1] < s[-1] and self.position:
            self.position.close()

bt = Backtest(df, SmaCross, cash=1e9, commission=0.0, trade_on_close=False)
t, c = time.perf_counter(), cpu()
stats, heat = bt.optimize(fast=range(5, 55, 5), slow=range(20, 220, 20),
                          constraint=lambda p: p.fast < p.slow, maximize="Equity Final [$]",
                          method="grid", return_heatmap=True)
seconds, cpu_s = time.perf_counter() - t, cpu() - c
report(seconds=seconds, cpu=cpu_s, combos=int(heat.size),
       best=float(stats["Return [%]"]) / 100)
"""
)

_OURS_SINGLE = (
    _COMMON
    + """
from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.domain import Resolution
cfg = BacktestConfig("sma_crossover", {"fast": 10, "slow": 30}, ["X"], Resolution.M1,
                     date(2000, 1, 1), date(2100, 1, 1), capital=1e9, quantity=10, costs=False)
t = time.perf_counter()
from fyerstrade.backtest.vector.run import run_records, run_vector
r = run_vector(cfg, data={"X": bars})
first = time.perf_counter() - t

def best_of(fn):
    best, best_cpu = float("inf"), float("inf")
    for _ in range(3):
        t, c = time.perf_counter(), cpu()
        out = fn(cfg, data={"X": bars})
        best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, cpu() - c)
    return best, best_cpu, out

seconds, cpu_s, r = best_of(run_vector)
arrays, arrays_cpu, rec = best_of(run_records)
assert len(rec.run.trades) == len(r.trades) and rec.equity[-1] == r.final_equity
report(first=first, seconds=seconds, cpu=cpu_s, arrays=arrays, arrays_cpu=arrays_cpu,
       trades=len(r.trades), final=r.final_equity)
"""
)

_VBT_SINGLE = (
    _COMMON
    + _VBT_SETUP
    + """
def one():
    entries, exits = flags(talib.SMA(bars.close, 10), talib.SMA(bars.close, 30))
    pf = vbt.Portfolio.from_signals(close, pd.Series(entries, index=idx),
                                    pd.Series(exits, index=idx), price=price, size=10,
                                    init_cash=1e9, fees=0.0, freq="1min")
    return pf.trades.count(), pf.final_value()

t = time.perf_counter()
one()
first = time.perf_counter() - t
best, best_cpu = float("inf"), float("inf")
for _ in range(3):
    t, c = time.perf_counter(), cpu()
    trades, final = one()
    best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, cpu() - c)
report(first=first, seconds=best, cpu=best_cpu, trades=int(trades), final=float(final))
"""
)

_OURS_OPENING = (
    _COMMON
    + """
from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.vector.evaluator import VectorEvaluator
from fyerstrade.domain import Instrument, Resolution
cfg = BacktestConfig("opening_price_crossover", {}, ["X"], Resolution.M1, date(2000, 1, 1),
                     date(2100, 1, 1), mode="intraday", capital=1e6, costs=True)
ev = VectorEvaluator(cfg, {"X": bars}, {"X": Instrument("X")}, None)
rng = np.random.default_rng(1)
trials = [{"ema_fast": int(rng.integers(2, 30)), "ema_slow": int(rng.integers(31, 120)),
           "exit_pct1": float(rng.choice(np.arange(0, 1.05, 0.05))),
           "rr1": float(rng.choice(np.arange(0.5, 3.0, 0.1))),
           "rr2": float(rng.choice(np.arange(1.0, 8.0, 0.1)))} for _ in range(1000)]
ev.evaluate(trials[:1])
t, c = time.perf_counter(), cpu()
out = ev.evaluate(trials)
seconds, cpu_s = time.perf_counter() - t, cpu() - c
report(seconds=seconds, cpu=cpu_s, combos=len(out), trades=sum(o.trades for o in out),
       indicators=ev.indicators_computed)
"""
)


def _child(script: str, bars: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", script, str(bars)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _ratio(ours: dict[str, Any], peer: dict[str, Any], key: str) -> float:
    """How many times ours' combinations per second (by ``key``: wall ``seconds`` or ``cpu``)."""
    return (ours["combos"] / ours[key]) / (peer["combos"] / peer[key])


def run() -> None:
    print(f"load average at start: {_load()} (the machine is shared: compare ratios, not times;")
    print("  wall time is what a user waits, CPU time what the code costs: on a loaded machine")
    print("  the wall figures carry the other processes' load, the CPU figures much less)")
    print(f"sweep: sma_crossover, 90 combinations on {SWEEP_BARS:,} one-minute bars, no costs")
    ours = _child(_OURS_SWEEP, SWEEP_BARS)
    vbt = _child(_VBT_SWEEP, SWEEP_BARS)
    btpy = _child(_BTPY_SWEEP, SWEEP_BARS)
    rows = [("fyerstrade (1 core)", ours), ("vectorbt (1 call)", vbt), ("backtesting.py", btpy)]
    for name, r in rows:
        print(
            f"  {name:22s} {r['combos'] / r['seconds']:10,.1f} combinations/s wall "
            f"({r['seconds']:7.3f} s), {r['combos'] / r['cpu']:10,.1f} per CPU second "
            f"({r['cpu']:7.3f} s CPU)  peak RSS {r['rss_mb']:6.0f} MB  best total return "
            f"{r['best']:+.4%}"
        )
    print(
        f"  ratio: {_ratio(ours, vbt, 'seconds'):.1f}x vectorbt wall, "
        f"{_ratio(ours, vbt, 'cpu'):.1f}x CPU; {_ratio(ours, btpy, 'seconds'):.0f}x "
        f"backtesting.py wall, {_ratio(ours, btpy, 'cpu'):.0f}x CPU (targets: >= 30x vectorbt, "
        "peak RSS < 500 MB)"
    )

    print(f"single run: sma_crossover 10/30 on {SINGLE_BARS:,} one-minute bars (best of 3)")
    with tempfile.TemporaryDirectory() as empty:
        cold = _child(_OURS_SINGLE, SINGLE_BARS, {**os.environ, "NUMBA_CACHE_DIR": empty})
    warm = _child(_OURS_SINGLE, SINGLE_BARS)
    vsingle = _child(_VBT_SINGLE, SINGLE_BARS)
    print(
        f"  fyerstrade run_records {warm['arrays']:8.3f} s wall {warm['arrays_cpu']:8.3f} s CPU"
        " (fill records, round-trip table, equity curve, as vectorbt's call gives)"
    )
    print(
        f"  fyerstrade run_vector  {warm['seconds']:8.3f} s wall {warm['cpu']:8.3f} s CPU "
        f"({warm['trades']} trades as Fill/RoundTrip objects, all backtest run reports; peak "
        f"RSS {warm['rss_mb']:.0f} MB)"
    )
    print(
        f"  vectorbt from_signals  {vsingle['seconds']:8.3f} s wall {vsingle['cpu']:8.3f} s CPU "
        f"({vsingle['trades']} trades, peak RSS {vsingle['rss_mb']:.0f} MB)"
    )
    print(
        f"  ratio as arrays: {vsingle['seconds'] / warm['arrays']:.2f}x vectorbt wall, "
        f"{vsingle['cpu'] / warm['arrays_cpu']:.2f}x CPU; as objects: "
        f"{vsingle['seconds'] / warm['seconds']:.2f}x wall, {vsingle['cpu'] / warm['cpu']:.2f}x "
        "CPU (target >= 3x)"
    )
    print(
        f"  first call (wall): {cold['first']:.1f} s compiling into an empty cache, "
        f"{warm['first']:.1f} s loading the cache (vectorbt's first call {vsingle['first']:.1f} s)"
    )

    opening = _child(_OURS_OPENING, SWEEP_BARS)
    print(
        f"opening_price_crossover intraday with costs, 1,000 trials on {SWEEP_BARS:,} bars, one "
        f"core: {opening['combos'] / opening['seconds']:,.0f} trials/s wall, "
        f"{opening['combos'] / opening['cpu']:,.0f} per CPU second ({opening['indicators']} "
        f"indicator arrays computed, peak RSS {opening['rss_mb']:.0f} MB)"
    )
    print(f"load average at end: {_load()}")
