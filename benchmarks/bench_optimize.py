"""Optimizer throughput: a 1,000-trial sweep on every core, the same sweep on a local 2-CPU Ray
cluster (the overhead ratio against the process pool), and the vectorized engine's comparisons
against vectorbt and backtesting.py (``bench_vector``), so ``make bench BENCH=optimize`` prints
every figure issue 10 asks for.

The sweep: ``opening_price_crossover`` in intraday mode with costs on one symbol of synthetic
5-minute bars (a year by default), grid ``ema_fast`` 2..21 × ``rr2`` 1.0..5.9 step 0.1 = 1,000
trials, objective Sharpe, every trial stored in a temporary ``trading_log.sqlite`` exactly as
``fyerstrade optimize run`` stores it (the store's writes are part of the cost). The engine is
whatever ``optimize run`` would pick (vectorized when the strategy declares ``signals``).
``FYERSTRADE_BENCH_DAYS`` scales the data (default 250 trading days), ``FYERSTRADE_BENCH_TRIALS``
the budget (default 1,000; the grid is cut to it).

Figures are wall-clock on the machine as it is: compare ratios measured in the same run, not
absolute numbers across runs.
"""

from __future__ import annotations

import importlib
import logging
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.evaluate import InstrumentTable, period_days
from fyerstrade.backtest.optimize import trials as store
from fyerstrade.backtest.optimize.executors import Executor, PoolExecutor, default_workers
from fyerstrade.backtest.optimize.objective import Objective
from fyerstrade.backtest.optimize.runner import SweepRequest, engine_for, execute_sweep, start_sweep
from fyerstrade.backtest.optimize.space import build_space
from fyerstrade.backtest.optimize.sweep import SweepSpec
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.calendar import get_calendar, ist_date
from fyerstrade.config import Settings, load_settings
from fyerstrade.domain import Instrument, Resolution
from fyerstrade.store.candles import CandleArrays
from fyerstrade.store.db import connect
from fyerstrade.strategies.opening_price_crossover import OpeningPriceCrossover

SYMBOL = "NSE:BENCH-EQ"
START = date(2025, 1, 1)


def _bars(days: int) -> CandleArrays:
    cal = get_calendar()
    trading = cal.trading_days(START, date(2026, 12, 31))[:days]
    ts = cal.expected_bars(trading[0], trading[-1], Resolution.M5).astype(np.int64)
    walk = synthetic_candles(len(ts), start=START, resolution=Resolution.M5, seed=11,
                             volatility=0.0015)  # fmt: skip
    return CandleArrays(ts, walk.open, walk.high, walk.low, walk.close, walk.volume)


def _request(bars: CandleArrays, trials: int) -> SweepRequest:
    config = BacktestConfig(
        strategy="opening_price_crossover", params={}, symbols=(SYMBOL,),
        resolution=Resolution.M5, start=ist_date(int(bars.ts[0])),
        end=ist_date(int(bars.ts[-1])), mode="intraday", costs=True,
    )  # fmt: skip
    fast_values = 20
    rr2_values = max(1, trials // fast_values)
    space = build_space(
        OpeningPriceCrossover,
        {
            "ema_fast": f"2:{1 + fast_values}",
            "ema_slow": "30",
            "exit_pct1": "0.5",
            "rr1": "1",
            "rr2": f"1:{1 + (rr2_values - 1) / 10:.1f}:0.1",
        },
    )
    spec = SweepSpec(space, [], Objective("sharpe", 1), "grid", space.size, 0)
    return SweepRequest(config, spec)


def _sweep(
    settings: Settings, request: SweepRequest, bars: CandleArrays, executor: Executor
) -> tuple[float, int, str]:
    data = {SYMBOL: bars}
    table = InstrumentTable({SYMBOL: Instrument(SYMBOL)})
    conn = connect(settings.trading_db)
    try:
        rec = start_sweep(conn, request, period_days(request.config, data), settings)
        t0 = time.perf_counter()
        execute_sweep(conn, rec, request, executor, data, table, settings)
        seconds = time.perf_counter() - t0
        return seconds, store.count_trials(conn, rec.opt_id), rec.engine
    finally:
        conn.close()


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _start_ray() -> float | None:
    """Start a local 2-CPU Ray cluster; its start-up seconds, or None (reason printed)."""
    try:
        import ray
    except ImportError:
        print("  ray: not installed")
        return None
    t0 = time.perf_counter()
    try:
        ray.init(
            num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR
        )
    except Exception as exc:  # Ray's own start-up
        ray.shutdown()
        print(f"  ray: the local cluster did not start ({str(exc).splitlines()[0][:120]})")
        return None
    return time.perf_counter() - t0


def run() -> None:
    days = int(os.environ.get("FYERSTRADE_BENCH_DAYS", "250"))
    budget = int(os.environ.get("FYERSTRADE_BENCH_TRIALS", "1000"))
    repeats = int(os.environ.get("FYERSTRADE_BENCH_REPEATS", "2"))
    bars = _bars(days)
    request = _request(bars, budget)
    workers = default_workers()
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env_file=None, data_dir=Path(tmp) / "data")
        engine = engine_for(request.config, settings)
        print(
            f"sweep: opening_price_crossover intraday with costs, {len(bars):,} 5-minute bars "
            f"({days} days), {request.spec.space.size:,} trials, {engine} engine; {repeats} pool "
            f"rounds, then {repeats} on Ray; best round kept"
        )
        # every pool round before Ray starts: a pool forked from a process running Ray's
        # threads (gRPC) stalled for minutes at random (seen: one round 10x the other)
        pool_times: list[float] = []
        ray_times: list[float] = []
        for _ in range(repeats):
            seconds, done, _ = _sweep(settings, request, bars, PoolExecutor(workers))
            pool_times.append(seconds)
        startup = _start_ray()
        try:
            if startup is not None:
                from fyerstrade.backtest.optimize.ray_executor import RayExecutor

                for _ in range(repeats):
                    executor = RayExecutor(None)
                    executor.connect()
                    ray_times.append(_sweep(settings, request, bars, executor)[0])
        finally:
            if startup is not None:
                import ray

                ray.shutdown()
        pool_s = min(pool_times)
        print(
            f"  process pool ({workers} workers): {done:,} trials in {pool_s:.1f} s = "
            f"{done / pool_s:,.1f} trials/s (rounds: {', '.join(f'{t:.1f}' for t in pool_times)}"
            f" s); peak RSS driver {_rss_mb(resource.RUSAGE_SELF):.0f} MB, largest child "
            f"{_rss_mb(resource.RUSAGE_CHILDREN):.0f} MB"
        )
        if ray_times:
            ray_s = min(ray_times)
            print(
                f"  ray (local, 2 CPUs): {done:,} trials in {ray_s:.1f} s = {done / ray_s:,.1f} "
                f"trials/s (rounds: {', '.join(f'{t:.1f}' for t in ray_times)} s; cluster start "
                f"{startup:.1f} s, not counted)"
            )
            print(f"  ray / process pool time: {ray_s / pool_s:.2f}x (overhead ratio)")
    print(f"load average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    try:
        vector_bench = importlib.import_module("benchmarks.bench_vector")
    except ModuleNotFoundError:
        print("bench_vector: not on this branch yet (the vectorized engine's comparisons)")
        return
    print("\n--- bench_vector (vectorized engine against vectorbt and backtesting.py) ---")
    vector_bench.run()
