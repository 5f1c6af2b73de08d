"""Walk-forward: search in-sample, trade the winner out-of-sample, fold after fold.

Folds are cut from the trading days that have bars (:func:`plan_folds`), aligned to the end of
the data so the latest days are always used::

    rolling   |==== IS 1 ====|-OOS 1-|
                      |==== IS 2 ====|-OOS 2-|
                              |==== IS 3 ====|-OOS 3-|
    anchored  |==== IS 1 ====|-OOS 1-|
              |======== IS 2 ========|-OOS 2-|
              |============ IS 3 ============|-OOS 3-|

Out-of-sample windows follow each other without overlapping (each starts the trading day after
the previous one ends). Each fold's in-sample search is an ordinary stored sweep (``parent_id``
and ``fold`` set), so its trials, PBO and DSR come from the trial store. The chosen parameters
(the best qualifying in-sample trial) then run out-of-sample in the event engine with costs,
with the in-sample window as indicator warm-up (seen by indicators, never traded).

The out-of-sample runs are stitched into one curve by adding up their P&L: each window starts
with the run's capital, and the stitched equity at a point of window ``k`` is that window's
equity plus what windows ``1..k-1`` gained or lost. The stitched metrics are
:func:`~fyerstrade.reporting.metrics.compute_metrics` of that curve and all the windows' trades.

The summary also reports the worst fold, how stable the chosen parameters are, walk-forward
efficiency (annualised out-of-sample return / annualised in-sample return, undefined when the
in-sample return is not positive; a weak guide at best, rank by the stitched Sharpe ratio and the
worst fold instead), and the folds' mean PBO and Deflated Sharpe Ratio.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from fyerstrade.backtest.evaluate import InstrumentTable
from fyerstrade.backtest.optimize import trials as store
from fyerstrade.backtest.optimize.executors import Executor, WorkerLostError
from fyerstrade.backtest.optimize.job import EvaluationJob, Period
from fyerstrade.backtest.optimize.runner import (
    SweepRequest,
    execute_sweep,
    new_record,
    start_sweep,
)
from fyerstrade.backtest.optimize.sweep import Progress, best_trial, metrics_json, plan
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import DAY_SECONDS, IST_OFFSET
from fyerstrade.errors import InputError

if TYPE_CHECKING:
    from fyerstrade.backtest.engine import BacktestConfig, BacktestResult
    from fyerstrade.config import Settings

__all__ = ["Fold", "plan_folds", "run_walkforward", "stitch", "walkforward_report"]

EPOCH = date(1970, 1, 1)
SESSION_CLOSE_SECONDS = 15 * 3600 + 30 * 60  # a flat window's points: each day's close
IS_TO_OOS = 3  # default in-sample length: three out-of-sample windows (75% / 25%)


def day_date(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


@dataclass(frozen=True)
class Fold:
    """One fold: in-sample and out-of-sample windows as inclusive IST day numbers."""

    index: int
    in_sample: tuple[int, int]
    out_of_sample: tuple[int, int]

    def dates(self, which: str) -> tuple[date, date]:
        first, last = self.in_sample if which == "in_sample" else self.out_of_sample
        return day_date(first), day_date(last)

    def as_json(self) -> dict[str, Any]:
        return {
            "fold": self.index,
            "in_sample": [d.isoformat() for d in self.dates("in_sample")],
            "out_of_sample": [d.isoformat() for d in self.dates("out_of_sample")],
        }


def plan_folds(
    days: Sequence[int] | np.ndarray,
    folds: int,
    in_sample: int | None = None,
    out_of_sample: int | None = None,
    anchored: bool = False,
) -> list[Fold]:
    """Cut ``folds`` folds from ``days`` (ascending trading-day numbers); lengths in trading
    days (defaults: out-of-sample windows share the data with an in-sample window three times
    as long). InputError when they do not fit."""
    d = np.asarray(days, dtype=np.int64)
    total = len(d)
    if folds < 1:
        raise InputError(f"--folds must be at least 1, got {folds}")
    if out_of_sample is None:
        rest = total - in_sample if in_sample is not None else total
        out_of_sample = rest // (folds + (0 if in_sample is not None else IS_TO_OOS))
    if in_sample is None:
        in_sample = IS_TO_OOS * out_of_sample
    if in_sample < 2 or out_of_sample < 2:
        raise InputError(
            f"in-sample and out-of-sample windows need at least 2 trading days each "
            f"(got {in_sample} and {out_of_sample} from {total} trading days); "
            "use fewer --folds or a longer --from/--to"
        )
    need = in_sample + folds * out_of_sample
    if need > total:
        raise InputError(
            f"{folds} folds of {in_sample} in-sample + {out_of_sample} out-of-sample trading "
            f"days need {need} trading days; the data has {total} between "
            f"{day_date(d[0]) if total else '?'} and {day_date(d[-1]) if total else '?'}"
        )
    base = total - need
    out = []
    for k in range(folds):
        oos_lo = base + in_sample + k * out_of_sample
        is_lo = base if anchored else base + k * out_of_sample
        out.append(
            Fold(
                k + 1,
                (int(d[is_lo]), int(d[oos_lo - 1])),
                (int(d[oos_lo]), int(d[oos_lo + out_of_sample - 1])),
            )
        )
    return out


# ---- out-of-sample runs and stitching -------------------------------------------------------


def run_out_of_sample(
    config: BacktestConfig,
    fold: Fold,
    params: Mapping[str, Any] | None,
    bars: Mapping[str, CandleArrays],
    table: InstrumentTable,
    settings: Settings,
) -> BacktestResult | None:
    """The fold's out-of-sample run with ``params`` and the in-sample window as warm-up
    (``None`` when no in-sample trial qualified: the window stays flat)."""
    from fyerstrade.backtest.engine import run_backtest

    if params is None:
        return None
    start, end = fold.dates("out_of_sample")
    warm, _ = fold.dates("in_sample")
    cfg = config.model_copy(update={"start": start, "end": end, "params": dict(params)})
    return run_backtest(
        cfg, settings, data=bars, instruments=table.instruments, lookup=table, warmup_from=warm
    )


def stitch(
    runs: Sequence[BacktestResult | None], capital: float, flat_ts: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One curve from consecutive runs by adding up their P&L: ``(ts, equity, exposure)``.
    A window without a run (``None``) stays flat at its ``flat_ts`` points."""
    ts_parts, eq_parts, ex_parts = [], [], []
    carried = 0.0
    for run, flat in zip(runs, flat_ts, strict=True):
        if run is None:
            ts_parts.append(np.asarray(flat, dtype=np.int64))
            eq_parts.append(np.full(len(flat), capital + carried))
            ex_parts.append(np.zeros(len(flat)))
            continue
        ts_parts.append(run.equity_ts.astype(np.int64))
        eq_parts.append(run.equity + carried)
        ex_parts.append(run.exposure)
        carried += run.final_equity - capital
    if not ts_parts:
        return np.empty(0, np.int64), np.empty(0), np.empty(0)
    return np.concatenate(ts_parts), np.concatenate(eq_parts), np.concatenate(ex_parts)


def _day_points(ts: np.ndarray, equity: np.ndarray) -> list[list[Any]]:
    from fyerstrade.reporting.metrics import daily_returns

    days, values = daily_returns(ts, equity)
    return [[str(d), round(float(v), 2)] for d, v in zip(days, values, strict=True)]


# ---- the run ----------------------------------------------------------------------------------


def _fold_request(request: SweepRequest, fold: Fold) -> SweepRequest:
    start, end = fold.dates("in_sample")
    config = request.config.model_copy(update={"start": start, "end": end})
    return replace(request, config=config)


def _period_days(days: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    return days[(days >= window[0]) & (days <= window[1])]


def run_walkforward(
    conn: sqlite3.Connection,
    rec: store.OptimizationRecord,
    request: SweepRequest,
    folds: Sequence[Fold],
    executor: Executor,
    bars: Mapping[str, CandleArrays],
    table: InstrumentTable,
    settings: Settings,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run (or resume) the walk-forward ``rec``: every fold's in-sample search, its
    out-of-sample run, then the summary; returns the report."""
    per_fold = plan(request.spec).trials
    total = per_fold * len(folds)
    job = EvaluationJob.create(request.config, bars, table, settings)
    existing = {c.fold: c for c in store.children(conn, rec.opt_id)}
    store.update_optimization(conn, rec.opt_id, status=store.STATUS_RUNNING)
    executor.open(job)
    try:
        for fold in folds:
            child = existing.get(fold.index)
            if child is not None and child.status == store.STATUS_COMPLETED:
                continue
            fold_request = _fold_request(request, fold)
            if child is None:
                child = start_sweep(
                    conn, fold_request, _period_days(rec.days, fold.in_sample), settings,
                    parent_id=rec.opt_id, fold=fold.index,
                )  # fmt: skip
            before = (fold.index - 1) * per_fold

            def fold_progress(
                done: int, _total: int, best: float | None, base: int = before
            ) -> None:
                if progress is not None:
                    progress(base + done, total, best)

            start, end = fold.dates("in_sample")
            execute_sweep(
                conn, child, fold_request, executor, bars, table, settings,
                progress=fold_progress, period=Period(start, end), job=job,
            )  # fmt: skip
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
        executor.close()
    report = _summarise(conn, rec, request, folds, bars, table, settings)
    summary = dict(rec.summary)
    summary["report"] = report
    store.update_optimization(conn, rec.opt_id, status=store.STATUS_COMPLETED, summary=summary)
    return walkforward_report(conn, rec.opt_id)


def _summarise(
    conn: sqlite3.Connection,
    rec: store.OptimizationRecord,
    request: SweepRequest,
    folds: Sequence[Fold],
    bars: Mapping[str, CandleArrays],
    table: InstrumentTable,
    settings: Settings,
) -> dict[str, Any]:
    from fyerstrade.reporting.metrics import compute_metrics

    config = request.config
    capital = config.capital
    children = {c.fold: c for c in store.children(conn, rec.opt_id)}
    fold_rows: list[dict[str, Any]] = []
    runs: list[BacktestResult | None] = []
    flats: list[np.ndarray] = []
    for fold in folds:
        child = children[fold.index]
        best = best_trial(conn, child.opt_id)
        params = best.params if best is not None else None
        run = run_out_of_sample(config, fold, params, bars, table, settings)
        runs.append(run)
        oos_days = _period_days(rec.days, fold.out_of_sample)
        flats.append((oos_days * DAY_SECONDS - IST_OFFSET + SESSION_CLOSE_SECONDS).astype(np.int64))
        if run is not None:
            oos = compute_metrics(
                run.trades, run.equity_ts, run.equity, capital,
                risk_free_rate=settings.risk_free_rate, exposure=run.exposure,
            ).to_dict()  # fmt: skip
        else:
            oos = {}
        is_metrics = dict(best.metrics) if best is not None else {}
        wfe, _ = _efficiency(oos.get("cagr"), is_metrics.get("cagr"))
        fold_rows.append(
            {
                **fold.as_json(),
                "params": params,
                "in_sample_metrics": metrics_json(is_metrics),
                "out_of_sample_metrics": metrics_json(oos),
                "trials": store.count_trials(conn, child.opt_id),
                "search_id": child.opt_id,
                "pbo": child.summary.get("pbo"),
                "deflated_sharpe": child.summary.get("deflated_sharpe"),
                "walk_forward_efficiency": wfe,
                "equity": _day_points(run.equity_ts, run.equity) if run is not None else [],
                "in_sample_equity": _is_points(best, child, capital),
            }
        )
    ts, equity, exposure = stitch(runs, capital, flats)
    trades = [t for r in runs if r is not None for t in r.trades]
    stitched = compute_metrics(
        trades, ts, equity, capital, risk_free_rate=settings.risk_free_rate, exposure=exposure
    ).to_dict()
    is_cagrs = [
        r["in_sample_metrics"].get("cagr")
        for r in fold_rows
        if r["in_sample_metrics"].get("cagr") is not None
    ]
    wfe, note = _efficiency(stitched.get("cagr"), float(np.mean(is_cagrs)) if is_cagrs else None)
    worst = min(fold_rows, key=lambda r: r["out_of_sample_metrics"].get("total_return") or 0.0)
    pbos = [r["pbo"] for r in fold_rows if r["pbo"] is not None]
    dsrs = [r["deflated_sharpe"] for r in fold_rows if r["deflated_sharpe"] is not None]
    return {
        "folds": fold_rows,
        "summary": {
            "metrics": metrics_json(stitched),
            "sharpe": metrics_json(stitched)["sharpe"],
            "total_return": stitched["total_return"],
            "max_drawdown": stitched["max_drawdown"],
            "worst_fold": {
                "fold": worst["fold"],
                "total_return": worst["out_of_sample_metrics"].get("total_return"),
                "sharpe": worst["out_of_sample_metrics"].get("sharpe"),
            },
            "parameter_stability": parameter_stability(
                [r["params"] for r in fold_rows], request.spec.space.names
            ),
            "walk_forward_efficiency": wfe,
            "walk_forward_efficiency_note": note,
            "pbo": float(np.mean(pbos)) if pbos else None,
            "deflated_sharpe": float(np.mean(dsrs)) if dsrs else None,
            "equity": _day_points(ts, equity),
        },
    }


def _is_points(
    best: store.TrialRecord | None, child: store.OptimizationRecord, capital: float
) -> list[list[Any]]:
    """The chosen trial's in-sample equity by day, from its stored daily returns."""
    if best is None or best.returns is None or not len(best.returns):
        return []
    equity = capital * np.cumprod(1 + best.returns)
    return [
        [day_date(int(d)).isoformat(), round(float(v), 2)]
        for d, v in zip(child.days, equity, strict=True)
    ]


def _efficiency(oos: float | None, is_: float | None) -> tuple[float | None, str]:
    if oos is None or is_ is None:
        return None, "undefined: a window too short to annualise, or no qualifying trial"
    if is_ <= 0:
        return None, (
            "undefined: the in-sample annualised return is not positive, so the ratio would "
            "flip sign; judge by the stitched out-of-sample Sharpe ratio and the worst fold"
        )
    return oos / is_, (
        "annualised out-of-sample return / annualised in-sample return; a rough guide "
        "(above 0.5 is usually read as acceptable), not a test of robustness"
    )


def parameter_stability(
    chosen: Sequence[Mapping[str, Any] | None], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per searched parameter: the value each fold chose, the most common one and its share of
    the folds, how often the choice changed from one fold to the next, and (numbers) the
    coefficient of variation."""
    out: dict[str, dict[str, Any]] = {}
    picked = [c for c in chosen if c is not None]
    for name in names:
        values = [c.get(name) for c in picked]
        if not values:
            out[name] = {"values": [], "mode": None, "mode_share": None, "changes": 0, "cv": None}
            continue
        mode, count = Counter(values).most_common(1)[0]
        changes = sum(1 for a, b in itertools.pairwise(values) if a != b)
        cv = None
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            arr = np.asarray(values, dtype=np.float64)
            mean = float(arr.mean())
            cv = float(arr.std() / abs(mean)) if mean else None
        out[name] = {
            "values": values,
            "mode": mode,
            "mode_share": count / len(values),
            "changes": changes,
            "cv": cv,
        }
    return out


def start_walkforward(
    conn: sqlite3.Connection,
    request: SweepRequest,
    folds: Sequence[Fold],
    days: np.ndarray,
    settings: Settings,
    scheme: Mapping[str, Any],
) -> store.OptimizationRecord:
    """Record a new walk-forward (its folds are planned; nothing run yet)."""
    summary = {"scheme": dict(scheme), "plan": [f.as_json() for f in folds]}
    rec = new_record(request, days, settings, kind="walkforward", summary=summary)
    store.create_optimization(conn, rec)
    return rec


def folds_of(rec: store.OptimizationRecord) -> list[Fold]:
    """The planned folds of a stored walk-forward."""
    out = []
    for f in rec.summary.get("plan", []):
        is_lo, is_hi = (date.fromisoformat(x) for x in f["in_sample"])
        oos_lo, oos_hi = (date.fromisoformat(x) for x in f["out_of_sample"])
        out.append(
            Fold(
                int(f["fold"]),
                ((is_lo - EPOCH).days, (is_hi - EPOCH).days),
                ((oos_lo - EPOCH).days, (oos_hi - EPOCH).days),
            )
        )
    return out


def walkforward_report(conn: sqlite3.Connection, opt_id: str) -> dict[str, Any]:
    """A stored walk-forward as one JSON-able object (``--json``)."""
    from fyerstrade.backtest.journal import format_ist

    rec = store.load_optimization(conn, opt_id)
    if rec.kind != "walkforward":
        raise InputError(f"{opt_id} is a sweep, not a walk-forward; see `optimize show {opt_id}`")
    report = rec.summary.get("report") or {}
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
        "space": rec.space,
        "constraints": rec.constraints,
        "config": rec.config,
        "scheme": rec.summary.get("scheme", {}),
        "created_at": format_ist(rec.created_at),
        "folds": report.get("folds", [f.as_json() for f in folds_of(rec)]),
        "summary": report.get("summary"),
    }
