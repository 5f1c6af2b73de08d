"""The vectorized engine against vectorbt and backtesting.py: a parameter sweep and one long run.

Sweep: ``sma_crossover`` on 100,000 one-minute bars, fast 5..50 step 5 × slow 20..200 step 20 with
fast < slow (90 combinations), long only, 10 shares, no costs, market orders at the next bar's
open. fyerstrade scores the 90 with ``VectorEvaluator`` (one process, one core: the optimizer's
executors spread blocks over cores); vectorbt with one ``Portfolio.from_signals`` call over 90
columns (the same SMAs, crosses and next-open fills, then total return and Sharpe per column);
backtesting.py with ``Backtest.optimize(method='grid')`` (its own process pool). Each side runs in
a fresh process of its own, so its peak RSS is its own; combinations per second exclude the
first-call compile (a warm-up call on a combination outside the grid). fyerstrade and vectorbt
are timed the same way, timeit's way: each sweeps the grid ``SWEEP_REPEATS`` times (5) in its
process and the ratio is taken of the best (least) times, the one least disturbed by the other
processes of a shared machine; the medians and each side's spread are printed beside it. Each of
fyerstrade's sweeps builds its evaluator inside the timing (bars laid out, indicators computed
again), as each of vectorbt's computes its moving averages. backtesting.py takes minutes and
runs once. Wall and CPU time are both printed (CPU: the process and its finished children).
A small sweep on each side first fills numba's disk caches, so neither peak RSS holds a compile.

Single run, 1,000,000 one-minute bars, ``sma_crossover`` 10/30, best of 3 on each side (the
variants alternated). The comparison that counts gives both sides the same outputs:
``run_records`` (the fill records, the round-trip table, the equity, cash and exposure at every
bar, the metrics' running sums) against vectorbt's ``from_signals`` on the same signals plus its
trades, final value, ``value()`` and ``cash()`` (the equity and cash at every bar). Also printed:
vectorbt's least (``from_signals``, ``trades.count()``, ``final_value()``: no curve) and
``run_vector`` (the ``BacktestResult`` that ``backtest run`` reports: its fills and round trips
as columns, and the strategy's indicators). The first call's compile
time is reported apart: in a process with an empty numba cache (compile and write), then in a
fresh process that loads the cache (imports included). Also: 1,000 trials of
``opening_price_crossover`` intraday with costs on one core.

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
SWEEP_REPEATS = 5  # timed sweeps on each side (fyerstrade, vectorbt): best and median reported

_COMMON = """
import json, resource, sys, time, warnings
from datetime import date
import numpy as np
from fyerstrade.backtest.synthetic import synthetic_candles
N = int(sys.argv[1])
GRID = [(f, s) for f in range(5, 55, 5) for s in range(20, 220, 20) if f < s]
bars = synthetic_candles(N, seed=42)

def rss_mb():
    # this program's own peak (VmHWM): Linux carries ru_maxrss across fork and exec, so it
    # would report the launching benchmark's peak when that is larger
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as status:
            own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        pass
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024

def cpu():
    # CPU seconds of this process and its finished children (backtesting.py's pool)
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

def report(**kw):
    print(json.dumps(kw | {"rss_mb": rss_mb()}))

def repeat(fn, times):
    # timeit's way: wall and CPU seconds of each of ``times`` calls (the last call's result)
    # and the peak RSS after the first (one call's peak: later calls would add what the
    # allocator kept from earlier ones)
    walls, cpus, first_rss = [], [], 0.0
    for _ in range(times):
        out = None  # the previous call's result is not held during the next
        t, c = time.perf_counter(), cpu()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(cpu() - c)
        first_rss = first_rss or rss_mb()
    return out, walls, cpus, first_rss
"""

_OURS_SWEEP = (
    _COMMON
    + """
from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.vector.evaluator import VectorEvaluator
from fyerstrade.domain import Instrument, Resolution
cfg = BacktestConfig("sma_crossover", {}, ["X"], Resolution.M1, date(2000, 1, 1),
                     date(2100, 1, 1), capital=1e9, quantity=10, costs=False)

def sweep(grid):  # a fresh evaluator: bars laid out and indicators computed again
    ev = VectorEvaluator(cfg, {"X": bars}, {"X": Instrument("X")}, None)
    return ev.evaluate([{"fast": f, "slow": s} for f, s in grid])

sweep([(3, 7)])  # numba from its cache, outside the timing and the grid
out, walls, cpus, rss = repeat(lambda: sweep(GRID), int(sys.argv[2]))
best = max(o.metrics["total_return"] for o in out)
report(walls=walls, cpus=cpus, combos=len(out), best=best, trades=sum(o.trades for o in out),
       sweep_rss_mb=rss)
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
(ret, sharpe), walls, cpus, rss = repeat(lambda: sweep(GRID), int(sys.argv[2]))
report(walls=walls, cpus=cpus, combos=len(ret), best=float(ret.max()), sweep_rss_mb=rss)
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
(stats, heat), walls, cpus, rss = repeat(
    lambda: bt.optimize(fast=range(5, 55, 5), slow=range(20, 220, 20),
                        constraint=lambda p: p.fast < p.slow, maximize="Equity Final [$]",
                        method="grid", return_heatmap=True), 1)
report(walls=walls, cpus=cpus, combos=int(heat.size), best=float(stats["Return [%]"]) / 100,
       sweep_rss_mb=rss)
"""
)

_OURS_SINGLE = (
    _COMMON
    + """
from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.domain import Resolution
cfg = BacktestConfig("sma_crossover", {"fast": 10, "slow": 30}, ["X"], Resolution.M1,
                     date(2000, 1, 1), date(2100, 1, 1), capital=1e9, quantity=10, costs=False)
t, c = time.perf_counter(), cpu()
from fyerstrade.backtest.vector.run import run_records, run_vector
r = run_vector(cfg, data={"X": bars})
first, first_cpu = time.perf_counter() - t, cpu() - c

best = {run_vector: (float("inf"), float("inf")), run_records: (float("inf"), float("inf"))}
for _ in range(3):
    for fn in best:  # alternated, so both meet the same load
        t, c = time.perf_counter(), cpu()
        out = fn(cfg, data={"X": bars})
        best[fn] = (min(best[fn][0], time.perf_counter() - t), min(best[fn][1], cpu() - c))
        if fn is run_vector:
            r = out
        else:
            rec = out
(seconds, cpu_s), (arrays, arrays_cpu) = best[run_vector], best[run_records]
assert len(rec.run.trades) == len(r.trades) and rec.equity[-1] == r.final_equity
report(first=first, first_cpu=first_cpu, seconds=seconds, cpu=cpu_s, arrays=arrays,
       arrays_cpu=arrays_cpu, trades=len(r.trades), final=r.final_equity)
"""
)

_VBT_SINGLE = (
    _COMMON
    + _VBT_SETUP
    + """
def one(curves):
    entries, exits = flags(talib.SMA(bars.close, 10), talib.SMA(bars.close, 30))
    pf = vbt.Portfolio.from_signals(close, pd.Series(entries, index=idx),
                                    pd.Series(exits, index=idx), price=price, size=10,
                                    init_cash=1e9, fees=0.0, freq="1min")
    out = pf.trades.count(), pf.final_value()
    if curves:  # the equity and cash at every bar, as run_records gives them
        assert len(pf.value()) == len(pf.cash()) == N
    return out

t = time.perf_counter()
one(True)
first = time.perf_counter() - t
best = {False: (float("inf"), float("inf")), True: (float("inf"), float("inf"))}
for _ in range(3):
    for curves in (False, True):  # alternated, so both meet the same load
        t, c = time.perf_counter(), cpu()
        trades, final = one(curves)
        wall, used = time.perf_counter() - t, cpu() - c
        best[curves] = (min(best[curves][0], wall), min(best[curves][1], used))
report(first=first, seconds=best[False][0], cpu=best[False][1], curves=best[True][0],
       curves_cpu=best[True][1], trades=int(trades), final=float(final))
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


def _child(
    script: str, bars: int, env: dict[str, str] | None = None, repeats: int = 1
) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", script, str(bars), str(repeats)],
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


def _timed(r: dict[str, Any]) -> dict[str, Any]:
    """A sweep child's repeated times as best (least) and median, wall and CPU."""
    walls, cpus = sorted(r["walls"]), sorted(r["cpus"])
    mid = len(walls) // 2
    return r | {
        "seconds": walls[0],
        "cpu": cpus[0],
        "med_seconds": walls[mid],
        "med_cpu": cpus[mid],
        "max_seconds": walls[-1],
        "max_cpu": cpus[-1],
    }


def _ratio(ours: dict[str, Any], peer: dict[str, Any], key: str) -> float:
    """How many times ours' combinations per second (by ``key``: wall ``seconds`` or ``cpu``,
    best of the repeats, or ``med_seconds``/``med_cpu``)."""
    return float((ours["combos"] / ours[key]) / (peer["combos"] / peer[key]))


def run() -> None:
    print(f"load average at start: {_load()} (the machine is shared: compare ratios, not times;")
    print("  wall time is what a user waits, CPU time what the code costs: on a loaded machine")
    print("  the wall figures carry the other processes' load, the CPU figures much less)")
    sweep()
    single()
    opening()
    print(f"load average at end: {_load()}")


def sweep() -> None:
    """The 90-combination sweep against vectorbt and backtesting.py."""
    print(f"sweep: sma_crossover, 90 combinations on {SWEEP_BARS:,} one-minute bars, no costs")
    for script in (_OURS_SWEEP, _VBT_SWEEP):  # numba's disk caches filled before either is
        _child(script, 2_000)  # measured: a compile's memory is no part of a sweep's peak RSS
    ours = _timed(_child(_OURS_SWEEP, SWEEP_BARS, repeats=SWEEP_REPEATS))
    vbt = _timed(_child(_VBT_SWEEP, SWEEP_BARS, repeats=SWEEP_REPEATS))
    btpy = _timed(_child(_BTPY_SWEEP, SWEEP_BARS))
    print(
        f"  fyerstrade and vectorbt: {SWEEP_REPEATS} sweeps each, best (median, worst); "
        "backtesting.py: one; peak RSS: after the first sweep"
    )
    rows = [("fyerstrade (1 core)", ours), ("vectorbt (1 call)", vbt), ("backtesting.py", btpy)]
    for name, r in rows:
        print(
            f"  {name:20s} {r['combos'] / r['seconds']:9,.1f} combinations/s wall "
            f"({r['seconds']:.3f} s ({r['med_seconds']:.3f}, {r['max_seconds']:.3f})), "
            f"{r['combos'] / r['cpu']:9,.1f} per CPU second ({r['cpu']:.3f} s CPU "
            f"({r['med_cpu']:.3f}, {r['max_cpu']:.3f}))  peak RSS {r['sweep_rss_mb']:5.0f} MB  "
            f"best total return {r['best']:+.4%}"
        )
    print(
        f"  ratio, best of {SWEEP_REPEATS} each: {_ratio(ours, vbt, 'seconds'):.1f}x vectorbt "
        f"wall, {_ratio(ours, vbt, 'cpu'):.1f}x CPU (medians: "
        f"{_ratio(ours, vbt, 'med_seconds'):.1f}x wall, {_ratio(ours, vbt, 'med_cpu'):.1f}x "
        f"CPU); {_ratio(ours, btpy, 'seconds'):.0f}x backtesting.py wall, "
        f"{_ratio(ours, btpy, 'cpu'):.0f}x CPU (targets: >= 30x vectorbt, peak RSS < 500 MB)"
    )


def single() -> None:
    """One long run against vectorbt, and the first call's compile time."""
    print(f"single run: sma_crossover 10/30, {SINGLE_BARS:,} one-minute bars, load {_load()}")
    with tempfile.TemporaryDirectory() as empty:
        cold = _child(_OURS_SINGLE, SINGLE_BARS, {**os.environ, "NUMBA_CACHE_DIR": empty})
    warm = _child(_OURS_SINGLE, SINGLE_BARS)
    vsingle = _child(_VBT_SINGLE, SINGLE_BARS)
    v_min, v_same = (vsingle["seconds"], vsingle["cpu"]), (vsingle["curves"], vsingle["curves_cpu"])
    ours = (warm["arrays"], warm["arrays_cpu"])
    print(
        f"  fyerstrade run_records   {ours[0]:6.3f} s wall {ours[1]:6.3f} s CPU: fill records, "
        "round-trip table, equity, cash and exposure at every bar (and the metrics' sums)"
    )
    print(
        f"  vectorbt, same outputs   {v_same[0]:6.3f} s wall {v_same[1]:6.3f} s CPU: from_signals,"
        " trades, final value, value() and cash() at every bar"
    )
    print(
        f"  vectorbt, least it does  {v_min[0]:6.3f} s wall {v_min[1]:6.3f} s CPU: from_signals,"
        f" trades.count(), final_value() ({vsingle['trades']} trades, peak RSS "
        f"{vsingle['rss_mb']:.0f} MB)"
    )
    print(
        f"  fyerstrade run_vector    {warm['seconds']:6.3f} s wall {warm['cpu']:6.3f} s CPU: "
        f"the BacktestResult backtest run reports ({warm['trades']} trades as columns, "
        f"the strategy's indicators; peak RSS {warm['rss_mb']:.0f} MB)"
    )
    print(
        f"  single-run ratio (target >= 3x), CPU / wall: {v_same[1] / ours[1]:.2f}x / "
        f"{v_same[0] / ours[0]:.2f}x vectorbt with the same outputs; {v_min[1] / ours[1]:.2f}x "
        f"/ {v_min[0] / ours[0]:.2f}x vectorbt's least; run_vector {v_min[1] / warm['cpu']:.2f}x"
        f" / {v_min[0] / warm['seconds']:.2f}x vectorbt's least"
    )
    print(
        f"  first call, compile apart: {cold['first']:.1f} s wall / {cold['first_cpu']:.1f} s "
        f"CPU compiling into an empty numba cache, {warm['first']:.1f} s / "
        f"{warm['first_cpu']:.1f} s loading the cache (imports included; vectorbt's first call "
        f"{vsingle['first']:.1f} s wall)"
    )


def opening() -> None:
    """1,000 trials of ``opening_price_crossover`` intraday with costs, one core."""
    opening = _child(_OURS_OPENING, SWEEP_BARS)
    print(
        f"opening_price_crossover intraday with costs, 1,000 trials on {SWEEP_BARS:,} bars, one "
        f"core: {opening['combos'] / opening['seconds']:,.0f} trials/s wall, "
        f"{opening['combos'] / opening['cpu']:,.0f} per CPU second ({opening['indicators']} "
        f"indicator arrays computed, peak RSS {opening['rss_mb']:.0f} MB)"
    )
