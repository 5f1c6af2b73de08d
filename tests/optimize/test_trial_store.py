"""The trial store: a block is stored whole or not at all, a trial number never twice, returns
come back exactly, a walk-forward is deleted with its folds, and PBO/DSR read the returns one
trial at a time (sampled beyond a cap, never without the best)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from fyerstrade.backtest.optimize import runner
from fyerstrade.backtest.optimize import trials as store
from fyerstrade.config import Settings
from fyerstrade.store.db import connect


def _record(**kw: object) -> store.OptimizationRecord:
    base: dict[str, object] = {
        "strategy": "sma_crossover", "config": {"symbols": ["X"], "start": "2026-01-01",
                                                "end": "2026-06-30"},
        "space": {"axes": [{"name": "fast", "min": 1, "max": 9, "step": 1}], "fixed": {}},
        "objective": "sharpe", "min_trades": 1, "method": "grid", "budget": 9,
        "days": np.arange(20_000, 20_120),
    }  # fmt: skip
    base.update(kw)
    return store.OptimizationRecord(**base)  # type: ignore[arg-type]


def _trial(no: int, returns: np.ndarray, score: float | None = 1.0) -> store.TrialRecord:
    return store.TrialRecord(no, {"fast": no}, "ok", score, 10, {"sharpe": score}, returns)


def test_blocks_are_atomic_and_numbers_unique(settings: Settings) -> None:
    conn = connect(settings.trading_db)
    rec = _record()
    store.create_optimization(conn, rec)
    r = np.random.default_rng(1).normal(0, 0.01, 120)
    store.add_trials(conn, rec.opt_id, [_trial(0, r), _trial(1, r * 2)])
    with pytest.raises(sqlite3.IntegrityError):
        store.add_trials(conn, rec.opt_id, [_trial(2, r), _trial(1, r)])  # 1 again
    assert store.done_trial_numbers(conn, rec.opt_id) == {0, 1}  # trial 2 rolled back with it
    (back,) = [t for t in store.load_trials(conn, rec.opt_id, returns=True) if t.trial_no == 1]
    assert back.returns is not None and back.returns.tolist() == (r * 2).tolist()
    assert store.load_optimization(conn, rec.opt_id).days.tolist() == rec.days.tolist()


def test_a_walkforward_is_deleted_with_its_fold_searches(settings: Settings) -> None:
    conn = connect(settings.trading_db)
    parent = _record(kind="walkforward")
    store.create_optimization(conn, parent)
    for fold in (1, 2):
        child = _record(parent_id=parent.opt_id, fold=fold)
        store.create_optimization(conn, child)
        store.add_trials(conn, child.opt_id, [_trial(0, np.zeros(120))])
    assert [r.opt_id for r in store.list_optimizations(conn)] == [parent.opt_id]
    assert store.delete_optimization(conn, parent.opt_id) == 3
    assert conn.execute("SELECT COUNT(*) FROM optimization_trials").fetchone()[0] == 0


def test_overfitting_reads_a_capped_sample_that_keeps_the_best(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connect(settings.trading_db)
    rec = _record()
    store.create_optimization(conn, rec)
    rng = np.random.default_rng(3)
    trials = [_trial(k, rng.normal(0, 0.01, 120), score=float(k)) for k in range(12)]
    store.add_trials(conn, rec.opt_id, trials)
    full = runner.overfitting_summary(conn, rec)
    monkeypatch.setattr(runner, "PBO_MAX_TRIALS", 5)
    capped = runner.overfitting_summary(conn, rec)
    assert capped["best_trial"] == full["best_trial"] == 11
    assert capped["pbo_detail"]["trials"] == 5 and full["pbo_detail"]["trials"] == 12
    # the DSR deflates by every trial that ran, sampled or not
    assert capped["dsr_detail"]["trials"] == 12
    assert capped["deflated_sharpe"] == pytest.approx(full["deflated_sharpe"])
    assert runner.overfitting_summary(conn, rec) == capped  # the sample is fixed
