"""Sweeps through the API: the grid finds the combination that is best by construction, and the
serial and process-pool executors return the same trials and metrics; blocks stay within the
memory budget; a TPE sweep is told every result and resumes from the store."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.evaluate import period_days
from fyerstrade.backtest.optimize import trials as store
from fyerstrade.backtest.optimize.constraints import parse_constraint
from fyerstrade.backtest.optimize.executors import Executor, PoolExecutor, Result, SerialExecutor
from fyerstrade.backtest.optimize.job import Block
from fyerstrade.backtest.optimize.objective import Objective
from fyerstrade.backtest.optimize.runner import (
    SweepRequest,
    execute_sweep,
    load_bars,
    start_sweep,
    sweep_report,
)
from fyerstrade.backtest.optimize.space import build_space
from fyerstrade.backtest.optimize.sweep import SweepSpec, memory_cap
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.interrupts import remembered_interrupts
from fyerstrade.store.db import connect
from fyerstrade.strategies.registry import get_strategy
from plugins.ctrl_c import ctrl_c_inside_a_c_callback
from plugins.optimize import GATE_FAST, OPT_SYMBOL

START, END = date(2026, 6, 1), date(2026, 8, 20)


def _config(strategy: str, **kw: Any) -> BacktestConfig:
    base: dict[str, Any] = {
        "strategy": strategy, "params": {}, "symbols": (OPT_SYMBOL,),
        "resolution": Resolution.M5, "start": START, "end": END, "mode": "intraday",
        "quantity": 10,
    }  # fmt: skip
    base.update(kw)
    return BacktestConfig(**base)


def _sweep(
    settings: Settings, request: SweepRequest, executor: Executor
) -> tuple[str, list[store.TrialRecord]]:
    bars, table = load_bars(request.config, settings)
    conn = connect(settings.trading_db)
    try:
        rec = start_sweep(conn, request, period_days(request.config, bars), settings)
        execute_sweep(conn, rec, request, executor, bars, table, settings)
        return rec.opt_id, store.load_trials(conn, rec.opt_id, returns=True)
    finally:
        conn.close()


def _request(
    settings: Settings, strategy: str, overrides: dict[str, str], **kw: Any
) -> SweepRequest:
    cls = get_strategy(strategy, settings)
    names = [p.name for p in cls.params]
    constraints = [parse_constraint(c, names) for c in kw.pop("constraints", [])]
    spec = SweepSpec(
        build_space(cls, overrides), constraints,
        Objective(kw.pop("objective", "sharpe"), kw.pop("min_trades", 1)),
        kw.pop("method", "grid"), kw.pop("budget", 1000), kw.pop("seed", 0),
    )  # fmt: skip
    return SweepRequest(_config(strategy, **kw), spec)


def test_grid_finds_the_best_combination_by_construction(ramp_store: Settings) -> None:
    request = _request(
        ramp_store, "window_test", {"enter": "0:8", "hold": "1:6"}, objective="total_return",
        start=date(2026, 6, 1), end=date(2026, 6, 30), costs=False,
    )  # fmt: skip
    opt_id, trials = _sweep(ramp_store, request, PoolExecutor(2))
    assert len(trials) == 9 * 6 and [t.trial_no for t in trials] == list(range(54))
    best = max((t for t in trials if t.score is not None), key=lambda t: t.score or 0)
    assert best.params == {"enter": 2, "hold": 4, "label": "x"}
    # 10 days × 10 shares × +4 from the capital of 100,000
    assert best.metrics["total_return"] == pytest.approx(400 / 100_000)
    report = sweep_report(connect(ramp_store.trading_db), opt_id)
    assert report["best"]["params"] == best.params and report["status"] == "completed"


def test_serial_and_process_pool_give_the_same_trials(walk_store: Settings) -> None:
    request = _request(
        walk_store, "sma_crossover", {"fast": "4:12:4", "slow": "20,30", "allow_short": "no,yes"},
        constraints=["fast < slow"],
    )  # fmt: skip
    _, serial = _sweep(walk_store, request, SerialExecutor())
    _, pooled = _sweep(walk_store, request, PoolExecutor(2))
    assert len(serial) == 12
    assert [(t.trial_no, t.params, t.metrics, t.trades) for t in serial] == [
        (t.trial_no, t.params, t.metrics, t.trades) for t in pooled
    ]
    for a, b in zip(serial, pooled, strict=True):
        assert a.returns is not None and b.returns is not None
        assert a.returns.tolist() == b.returns.tolist()


class CtrlCInTheFirstBlock(SerialExecutor):
    """Serial, but a Ctrl-C lands inside a C callback while the first block runs and is
    swallowed there (as one landing in numba's compiler is)."""

    def run(self, blocks: Iterator[Block]) -> Iterator[Result]:
        for i, result in enumerate(super().run(blocks)):
            if i == 0:
                assert ctrl_c_inside_a_c_callback() == [KeyboardInterrupt]
            yield result


def test_a_ctrl_c_a_c_callback_swallowed_stops_the_sweep_after_its_block(
    walk_store: Settings,
) -> None:
    # the dashboard's Stop sends the sweep's process SIGINT; landing in numba's compiler it was
    # lost and the sweep ran on to its end
    request = _request(
        walk_store, "sma_crossover", {"fast": "4:12:4", "slow": "20,30", "allow_short": "no,yes"},
        constraints=["fast < slow"],
    )  # fmt: skip
    bars, table = load_bars(request.config, walk_store)
    conn = connect(walk_store.trading_db)
    try:
        rec = start_sweep(conn, request, period_days(request.config, bars), walk_store)
        with remembered_interrupts(), pytest.raises(KeyboardInterrupt):
            execute_sweep(conn, rec, request, CtrlCInTheFirstBlock(), bars, table, walk_store)
        kept = store.load_trials(conn, rec.opt_id)
        assert store.load_optimization(conn, rec.opt_id).status == store.STATUS_INTERRUPTED
        assert len(kept) >= 1  # the block it came in is kept
        execute_sweep(conn, rec, request, SerialExecutor(), bars, table, walk_store)  # resumed
        assert [t.trial_no for t in store.load_trials(conn, rec.opt_id)] == list(range(12))
    finally:
        conn.close()


class RecordedPool(PoolExecutor):
    """A process pool that keeps its worker processes for the test to look at after close."""

    def close(self) -> None:
        self.processes = list(getattr(self._pool, "_processes", {}).values())
        super().close()


def test_a_pool_stopped_early_has_its_workers_abandon_their_blocks_not_killed(
    walk_store: Settings,
) -> None:
    # A worker killed while it sends a result leaves half a message in the pool's pipe, and the
    # pool waits forever for the rest (a stopped sweep's process that never ends): Ctrl-C while
    # a worker waits inside a trial (the gate) stops the sweep with every worker ending cleanly.
    gate = Path(os.environ["FYERSTRADE_TEST_GATE"])
    request = _request(
        walk_store, "gated_test", {"fast": f"2:{GATE_FAST}", "slow": "30", "allow_short": "no"},
        min_trades=0, end=date(2026, 6, 30),
    )  # fmt: skip
    bars, table = load_bars(request.config, walk_store)
    conn = connect(walk_store.trading_db)
    pool = RecordedPool(2)

    def ctrl_c_at_the_gate() -> None:
        deadline = time.monotonic() + 120
        while not Path(f"{gate}.waiting").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # to the main thread itself: its wait for the pool's results is interrupted at once
        main = threading.main_thread().ident
        assert main is not None
        signal.pthread_kill(main, signal.SIGINT)

    presser = threading.Thread(target=ctrl_c_at_the_gate)
    try:
        rec = start_sweep(conn, request, period_days(request.config, bars), walk_store)
        presser.start()
        with pytest.raises(KeyboardInterrupt):
            execute_sweep(conn, rec, request, pool, bars, table, walk_store)
        presser.join()
        assert store.load_optimization(conn, rec.opt_id).status == store.STATUS_INTERRUPTED
        kept = [t.trial_no for t in store.load_trials(conn, rec.opt_id)]
        assert GATE_FAST - 2 not in kept  # the trial at the gate was abandoned, not stored
    finally:
        conn.close()
        gate.touch()
    assert pool.processes and all(p.exitcode == 0 for p in pool.processes), [
        p.exitcode for p in pool.processes
    ]


def test_random_is_reproducible_distinct_and_within_budget(walk_store: Settings) -> None:
    request = _request(
        walk_store, "sma_crossover", {"fast": "2:40", "slow": "20:200:10"}, method="random",
        budget=8, seed=42, constraints=["fast < slow"],
    )  # fmt: skip
    _, first = _sweep(walk_store, request, SerialExecutor())
    _, again = _sweep(walk_store, request, SerialExecutor())
    params = [t.params for t in first]
    assert len(params) == 8 and len({tuple(sorted(p.items())) for p in params}) == 8
    assert params == [t.params for t in again]
    assert all(p["fast"] < p["slow"] for p in params)


def test_tpe_fills_its_budget_and_learns_from_every_result(walk_store: Settings) -> None:
    request = _request(
        walk_store, "sma_crossover", {"fast": "2:30", "slow": "20:120:10"}, method="tpe",
        budget=14, seed=1, constraints=["fast < slow"],
    )  # fmt: skip
    _opt_id, trials = _sweep(walk_store, request, PoolExecutor(2))
    assert [t.trial_no for t in trials] == list(range(14))
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 14
    assert all(t.params["fast"] < t.params["slow"] for t in trials)


def test_blocks_are_sized_to_the_memory_budget() -> None:
    # a million bars: a block may hold only a few trials, however many the grid has
    assert memory_cap(1_000_000, 250, slots=4) == 4
    assert memory_cap(10_000, 250, slots=4) > 100
