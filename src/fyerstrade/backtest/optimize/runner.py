"""One optimization from request to stored result, shared by the CLI and the dashboard.

:func:`load_bars` reads the candles the way ``backtest run`` does (the same loader, so every
resolution it can serve works here); :func:`start_sweep` records a new optimization;
:func:`execute_sweep` runs (or, for a stored one, resumes) it on an executor and finishes its
record: ``completed``, or ``interrupted`` when stopped (Ctrl-C, a lost worker), with every
finished trial kept; :func:`save_top` re-runs the best trials in the event engine with costs
and saves them as ordinary backtest runs; :func:`sweep_report` is what ``optimize show`` and
``--json`` print.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from fyerstrade.backtest.evaluate import InstrumentTable, vector_unsupported
from fyerstrade.backtest.optimize import trials as store
from fyerstrade.backtest.optimize.constraints import parse_constraint
from fyerstrade.backtest.optimize.executors import Executor, WorkerLostError
from fyerstrade.backtest.optimize.job import EvaluationJob, Period
from fyerstrade.backtest.optimize.objective import Objective, parse_objective
from fyerstrade.backtest.optimize.overfitting import chosen_dsr, daily_sharpe, pbo_cscv
from fyerstrade.backtest.optimize.space import SearchSpace
from fyerstrade.backtest.optimize.sweep import (
    Progress,
    SweepSpec,
    best_trial,
    finite_or_none,
    metrics_json,
    run_sweep,
)
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import ProductType, Resolution
from fyerstrade.trading.spec import RiskLimits

if TYPE_CHECKING:
    from fyerstrade.backtest.engine import BacktestConfig
    from fyerstrade.config import Settings
    from fyerstrade.data.bars import LoadedBars

__all__ = [
    "SweepRequest",
    "config_from_json",
    "config_to_json",
    "execute_sweep",
    "load_bars",
    "request_from_record",
    "save_top",
    "start_sweep",
    "sweep_report",
]

#: at most this many trials enter PBO (a random, fixed-seed subset beyond it)
PBO_MAX_TRIALS = 2_000


@dataclass(frozen=True)
class SweepRequest:
    """A sweep: the run options (``config``; its params are ignored) and what to search."""

    config: BacktestConfig
    spec: SweepSpec


# ---- configuration as JSON ------------------------------------------------------------------


def config_to_json(config: BacktestConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in type(config).model_fields:
        v = getattr(config, name)
        if name == "params":
            continue
        if isinstance(v, BaseModel):
            v = v.model_dump(mode="json")  # the risk limits
        elif isinstance(v, date):
            v = v.isoformat()
        elif isinstance(v, time):
            v = v.strftime("%H:%M")
        elif isinstance(v, tuple | list):
            v = list(v)
        elif isinstance(v, str):
            v = str(v)
        out[name] = v
    return out


def config_from_json(data: Mapping[str, Any], strategy: str) -> BacktestConfig:
    from fyerstrade.backtest.engine import BacktestConfig

    def clock(text: str) -> time:
        h, m = text.split(":")
        return time(int(h), int(m))

    risk = data.get("risk")  # (absent from sweeps stored before risk limits)
    return BacktestConfig(
        strategy=strategy,
        params={},
        symbols=tuple(data["symbols"]),
        resolution=Resolution(data["resolution"]),
        start=date.fromisoformat(data["start"]),
        end=date.fromisoformat(data["end"]),
        mode=data["mode"],
        capital=float(data["capital"]),
        quantity=data.get("quantity"),
        costs=bool(data["costs"]),
        slippage_ticks=float(data["slippage_ticks"]),
        slippage_bps=float(data["slippage_bps"]),
        entry_start=clock(data["entry_start"]),
        entry_end=clock(data["entry_end"]),
        square_off=clock(data["square_off"]),
        intraday_leverage=float(data.get("intraday_leverage", 5.0)),
        risk=RiskLimits.model_validate(risk if isinstance(risk, dict) else {}),
        product=ProductType(data["product"]) if data.get("product") else None,
    )


# ---- bars -------------------------------------------------------------------------------------


def load_bars(
    config: BacktestConfig, settings: Settings, loaded: LoadedBars | None = None
) -> tuple[dict[str, CandleArrays], InstrumentTable]:
    """The config's candles and contracts through the loader ``backtest run`` uses (any
    resolution it can build from stored bars; DataError when a symbol has none), or from
    ``loaded``; the lookup frozen so it can travel to workers."""
    from fyerstrade.data.bars import load_bars as load
    from fyerstrade.store.db import open_historical

    config.validate()
    if loaded is None:
        conn = open_historical(settings)
        try:
            loaded = load(conn, config.symbols, config.resolution, config.start, config.end)
        finally:
            conn.close()
    bars = dict(loaded.bars)
    return bars, InstrumentTable.capture(loaded.instruments, loaded.lookup, bars)


# ---- records ----------------------------------------------------------------------------------


def engine_for(config: BacktestConfig, settings: Settings) -> str:
    """``vector`` when the vectorized engine will evaluate ``config``, else ``event``."""
    return "vector" if vector_unsupported(config, settings) is None else "event"


def new_record(
    request: SweepRequest, days: np.ndarray, settings: Settings, **fields: Any
) -> store.OptimizationRecord:
    """The record of a new optimization of ``request`` over ``days`` (not stored yet);
    ``fields`` sets the rest (``kind``, ``parent_id``, ``fold``, ``summary``)."""
    spec = request.spec
    return store.OptimizationRecord(
        strategy=request.config.strategy,
        config=config_to_json(request.config),
        space=spec.space.as_json(),
        objective=spec.objective.metric,
        min_trades=spec.objective.min_trades,
        method=spec.method,
        budget=spec.budget,
        constraints=[c.text for c in spec.constraints],
        seed=spec.seed,
        engine=engine_for(request.config, settings),
        days=np.asarray(days, dtype=np.int64),
        **fields,
    )


def start_sweep(
    conn: sqlite3.Connection,
    request: SweepRequest,
    days: np.ndarray,
    settings: Settings,
    *,
    parent_id: str | None = None,
    fold: int | None = None,
) -> store.OptimizationRecord:
    """Record a new sweep (status ``running``, no trials yet)."""
    rec = new_record(request, days, settings, parent_id=parent_id, fold=fold)
    store.create_optimization(conn, rec)
    return rec


def request_from_record(rec: store.OptimizationRecord, settings: Settings) -> SweepRequest:
    """The request a stored sweep was started with (for ``--resume``)."""
    from fyerstrade.strategies.registry import get_strategy

    cls = get_strategy(rec.strategy, settings)
    types = {p.name: p.type for p in cls.params}
    space = SearchSpace.from_json(rec.strategy, rec.space, types)
    names = [p.name for p in cls.params]
    constraints = [parse_constraint(t, names, cls.name) for t in rec.constraints]
    objective: Objective = parse_objective(rec.objective, rec.min_trades)
    spec = SweepSpec(space, constraints, objective, rec.method, rec.budget, rec.seed)
    return SweepRequest(config_from_json(rec.config, rec.strategy), spec)


def execute_sweep(
    conn: sqlite3.Connection,
    rec: store.OptimizationRecord,
    request: SweepRequest,
    executor: Executor,
    bars: Mapping[str, CandleArrays],
    table: InstrumentTable,
    settings: Settings,
    *,
    progress: Progress | None = None,
    period: Period | None = None,
    job: EvaluationJob | None = None,
) -> str:
    """Run what the sweep ``rec`` still lacks and finish its record; returns its status.

    With ``job`` the executor is already open on it (a walk-forward reuses one for every
    fold); otherwise it is opened here and closed at the end."""
    config = request.config
    period = period or Period(config.start, config.end)
    own = job is None
    if job is None:
        job = EvaluationJob.create(config, bars, table, settings)
        executor.open(job)
    store.update_optimization(conn, rec.opt_id, status=store.STATUS_RUNNING)
    try:
        run_sweep(
            conn,
            rec.opt_id,
            request.spec,
            executor,
            period,
            vectorized=rec.engine == "vector",
            bars=sum(len(b) for b in bars.values()),
            days=len(rec.days),
            progress=progress,
        )
    except (KeyboardInterrupt, WorkerLostError) as exc:
        note = "stopped by the user" if isinstance(exc, KeyboardInterrupt) else str(exc)
        store.update_optimization(conn, rec.opt_id, status=store.STATUS_INTERRUPTED, error=note)
        raise
    except BaseException as exc:
        store.update_optimization(
            conn, rec.opt_id, status=store.STATUS_FAILED, error=f"{type(exc).__name__}: {exc}"
        )
        raise
    finally:
        if own:
            executor.close()
    store.update_optimization(
        conn, rec.opt_id, status=store.STATUS_COMPLETED, summary=overfitting_summary(conn, rec)
    )
    return store.STATUS_COMPLETED


def overfitting_summary(conn: sqlite3.Connection, rec: store.OptimizationRecord) -> dict[str, Any]:
    """PBO over the trials that ran (a fixed-seed sample of :data:`PBO_MAX_TRIALS` when there
    are more, always with the best) and the DSR of the best one, from the stored returns. The
    trials' returns are read one at a time: memory stays bounded however many there are."""
    best = best_trial(conn, rec.opt_id)
    out: dict[str, Any] = {"pbo": None, "deflated_sharpe": None, "best_trial": None}
    if best is None or best.returns is None:
        return out
    out["best_trial"] = best.trial_no
    numbers = store.ok_trial_numbers(conn, rec.opt_id)
    keep = set(numbers)
    if len(numbers) > PBO_MAX_TRIALS:
        rng = np.random.default_rng(0)
        keep = {int(n) for n in rng.choice(numbers, PBO_MAX_TRIALS - 1, replace=False)}
        keep.add(best.trial_no)
    sharpes: list[float | None] = []
    columns: list[np.ndarray] = []
    for no, returns in store.iter_returns(conn, rec.opt_id):
        sharpes.append(daily_sharpe(returns))
        if no in keep:
            columns.append(returns)
    pbo = pbo_cscv(np.column_stack(columns)) if len(columns) > 1 else None
    dsr = chosen_dsr(best.returns, sharpes)
    if pbo is not None:
        out["pbo"] = pbo.pbo
        out["pbo_detail"] = pbo.as_json()
    if dsr is not None:
        out["deflated_sharpe"] = dsr.dsr
        out["dsr_detail"] = dsr.as_json()
    return out


def save_top(
    conn: sqlite3.Connection,
    rec: store.OptimizationRecord,
    n: int,
    bars: Mapping[str, CandleArrays],
    table: InstrumentTable,
    settings: Settings,
) -> list[dict[str, Any]]:
    """Re-run the best ``n`` qualifying trials in the event engine (with the sweep's options,
    costs included unless turned off) and save each as an ordinary backtest run."""
    from fyerstrade.backtest.engine import run_backtest
    from fyerstrade.backtest.journal import save_run
    from fyerstrade.reporting.metrics import compute_metrics

    config = config_from_json(rec.config, rec.strategy)
    saved = []
    for t in store.load_trials(conn, rec.opt_id, best_first=True, limit=n):
        if t.score is None:
            break
        cfg = config.model_copy(update={"params": dict(t.params)})
        result = run_backtest(cfg, settings, data=bars, instruments=table.instruments, lookup=table)
        metrics = compute_metrics(
            result.trades, result.equity_ts, result.equity, cfg.capital,
            risk_free_rate=settings.risk_free_rate, exposure=result.exposure,
        )  # fmt: skip
        run_id = save_run(conn, result, metrics)
        saved.append({"trial": t.trial_no, "run_id": run_id, "params": t.params})
    summary = dict(store.load_optimization(conn, rec.opt_id).summary)
    summary["top_runs"] = saved
    store.update_optimization(conn, rec.opt_id, summary=summary)
    return saved


def trial_json(t: store.TrialRecord) -> dict[str, Any]:
    return {
        "trial": t.trial_no,
        "params": t.params,
        "status": t.status,
        "score": finite_or_none(t.score),
        "trades": t.trades,
        "metrics": metrics_json(t.metrics),
        "error": t.error,
    }


def sweep_report(conn: sqlite3.Connection, opt_id: str) -> dict[str, Any]:
    """Everything about a stored sweep as one JSON-able object (``--json``)."""
    from fyerstrade.backtest.journal import format_ist

    rec = store.load_optimization(conn, opt_id)
    trials = store.load_trials(conn, opt_id)
    best = best_trial(conn, opt_id)
    summary = dict(rec.summary)
    if "pbo" not in summary:  # interrupted or still running: compute from what is stored
        summary.update(overfitting_summary(conn, rec))
    return {
        "id": rec.opt_id,
        "kind": rec.kind,
        "strategy": rec.strategy,
        "status": rec.status,
        "error": rec.error,
        "method": rec.method,
        "objective": rec.objective,
        "min_trades": rec.min_trades,
        "budget": rec.budget,
        "seed": rec.seed,
        "engine": rec.engine,
        "space": rec.space,
        "constraints": rec.constraints,
        "config": rec.config,
        "created_at": format_ist(rec.created_at),
        "code_version": rec.code_version,
        "trials": [trial_json(t) for t in trials],
        "best": trial_json(best) if best is not None else None,
        "pbo": summary.get("pbo"),
        "deflated_sharpe": summary.get("deflated_sharpe"),
        "top_runs": summary.get("top_runs", []),
    }
