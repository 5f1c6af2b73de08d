"""The trial store: every optimization and every trial it evaluated, in ``trading_log.sqlite``.

One row in ``optimizations`` per sweep (and per walk-forward, whose in-sample searches are
sweeps with ``parent_id`` and ``fold``); one row in ``optimization_trials`` per evaluated
parameter set, written a block at a time in one transaction as results arrive, so a crash or a
kill loses at most the block being written and never half of one. ``(opt_id, trial_no)`` is the
primary key: a trial can never be stored twice.

Daily returns are stored per trial as float64 BLOBs (:mod:`fyerstrade.store.arrays`, compressed
when mostly flat) aligned with the optimization's ``days`` (IST day numbers, delta-compressed);
heatmaps, PBO, the Deflated Sharpe Ratio and the dashboard all read them from here.

Ids look like ``opt-20260301-101500-a1b2c3`` (IST time of creation and 6 random hex digits).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fyerstrade.backtest.journal import code_version, decode_metrics, encode_metrics, new_run_id
from fyerstrade.errors import InputError
from fyerstrade.store.arrays import decode_array, encode_array

__all__ = [
    "OptimizationRecord",
    "OptimizationSummary",
    "TrialRecord",
    "add_trials",
    "children",
    "create_optimization",
    "delete_optimization",
    "done_trial_numbers",
    "iter_returns",
    "list_optimizations",
    "load_optimization",
    "load_trials",
    "ok_trial_numbers",
    "returns_matrix",
    "update_optimization",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

STATUS_RUNNING = "running"
STATUS_INTERRUPTED = "interrupted"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"


def encode_returns(r: npt.ArrayLike) -> bytes:
    return encode_array(np.asarray(r, dtype=np.float64))


def decode_returns(blob: bytes | None) -> FloatArray:
    if not blob:
        return np.empty(0, dtype=np.float64)
    return np.asarray(decode_array(blob), dtype=np.float64)


def encode_days(days: npt.ArrayLike) -> bytes:
    return encode_array(np.asarray(days, dtype=np.int64))


def decode_days(blob: bytes | None) -> IntArray:
    if not blob:
        return np.empty(0, dtype=np.int64)
    return np.asarray(decode_array(blob), dtype=np.int64)


@dataclass(slots=True)
class OptimizationRecord:
    """One optimization as stored: what it searches, how, and where it stands."""

    strategy: str
    config: dict[str, Any]
    space: dict[str, Any]
    objective: str
    min_trades: int
    method: str
    budget: int
    kind: str = "sweep"
    constraints: list[str] = field(default_factory=list)
    seed: int = 0
    engine: str = ""
    days: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    status: str = STATUS_RUNNING
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    fold: int | None = None
    code_version: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    opt_id: str = ""


@dataclass(slots=True)
class TrialRecord:
    """One evaluated parameter set."""

    trial_no: int
    params: dict[str, Any]
    status: str  # ok | refused
    score: float | None
    trades: int
    metrics: dict[str, float | None]
    returns: FloatArray | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass(slots=True, frozen=True)
class OptimizationSummary:
    """A line of ``optimize list``."""

    opt_id: str
    kind: str
    strategy: str
    method: str
    objective: str
    budget: int
    status: str
    created_at: float
    trials: int
    best_score: float | None
    symbols: tuple[str, ...]
    start: str
    end: str


def _new_id() -> str:
    return f"opt-{new_run_id()}"


def create_optimization(conn: sqlite3.Connection, rec: OptimizationRecord) -> str:
    """Insert ``rec`` under a fresh id (set on ``rec``) and return the id."""
    now = time.time()
    rec.opt_id = rec.opt_id or _new_id()
    rec.created_at = rec.created_at or now
    rec.updated_at = now
    rec.code_version = rec.code_version or code_version()
    with conn:
        conn.execute(
            "INSERT INTO optimizations (opt_id, kind, parent_id, fold, strategy, config_json, "
            "space_json, constraints_json, objective, min_trades, method, budget, seed, engine, "
            "days_blob, status, error, summary_json, code_version, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rec.opt_id, rec.kind, rec.parent_id, rec.fold, rec.strategy,
                _json(rec.config), _json(rec.space), _json(rec.constraints), rec.objective,
                rec.min_trades, rec.method, rec.budget, rec.seed, rec.engine,
                encode_days(rec.days), rec.status, rec.error, _json(rec.summary),
                rec.code_version, int(rec.created_at), int(rec.updated_at),
            ),
        )  # fmt: skip
    return rec.opt_id


def update_optimization(
    conn: sqlite3.Connection,
    opt_id: str,
    *,
    status: str | None = None,
    error: str | None = None,
    summary: Mapping[str, Any] | None = None,
    engine: str | None = None,
    days: npt.ArrayLike | None = None,
) -> None:
    sets = ["updated_at = ?"]
    args: list[Any] = [int(time.time())]
    if status is not None:
        sets.append("status = ?")
        args.append(status)
    if error is not None:
        sets.append("error = ?")
        args.append(error)
    if summary is not None:
        sets.append("summary_json = ?")
        args.append(_json(dict(summary)))
    if engine is not None:
        sets.append("engine = ?")
        args.append(engine)
    if days is not None:
        sets.append("days_blob = ?")
        args.append(encode_days(days))
    with conn:
        conn.execute(
            f"UPDATE optimizations SET {', '.join(sets)} WHERE opt_id = ?", (*args, opt_id)
        )


def add_trials(conn: sqlite3.Connection, opt_id: str, trials: Sequence[TrialRecord]) -> None:
    """Store a block of trials in one transaction (all or none)."""
    rows = [
        (
            opt_id, t.trial_no, _json(t.params), t.status, t.score, t.trades,
            encode_metrics(t.metrics) if t.metrics else None,
            encode_returns(t.returns) if t.returns is not None else None,
            t.error, t.seconds,
        )
        for t in trials
    ]  # fmt: skip
    with conn:
        conn.executemany(
            "INSERT INTO optimization_trials (opt_id, trial_no, params_json, status, score, "
            "trades, metrics_json, returns_blob, error, seconds) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.execute(
            "UPDATE optimizations SET updated_at = ? WHERE opt_id = ?", (int(time.time()), opt_id)
        )


_OPT_COLUMNS = (
    "opt_id, kind, parent_id, fold, strategy, config_json, space_json, constraints_json, "
    "objective, min_trades, method, budget, seed, engine, days_blob, status, error, "
    "summary_json, code_version, created_at, updated_at"
)


def _record(row: Sequence[Any]) -> OptimizationRecord:
    return OptimizationRecord(
        opt_id=row[0],
        kind=row[1],
        parent_id=row[2],
        fold=row[3],
        strategy=row[4],
        config=json.loads(row[5]),
        space=json.loads(row[6]),
        constraints=json.loads(row[7]),
        objective=row[8],
        min_trades=int(row[9]),
        method=row[10],
        budget=int(row[11]),
        seed=int(row[12]),
        engine=row[13],
        days=decode_days(row[14]),
        status=row[15],
        error=row[16],
        summary=json.loads(row[17]) if row[17] else {},
        code_version=row[18],
        created_at=float(row[19]),
        updated_at=float(row[20]),
    )


def load_optimization(conn: sqlite3.Connection, opt_id: str) -> OptimizationRecord:
    """The optimization ``opt_id``; InputError naming the list command when there is none."""
    row = conn.execute(
        f"SELECT {_OPT_COLUMNS} FROM optimizations WHERE opt_id = ?", (opt_id.strip(),)
    ).fetchone()
    if row is None:
        raise InputError(
            f"no optimization {opt_id!r}; `fyerstrade optimize list` shows the saved ones"
        )
    return _record(row)


def children(conn: sqlite3.Connection, parent_id: str) -> list[OptimizationRecord]:
    """A walk-forward's in-sample searches, by fold."""
    rows = conn.execute(
        f"SELECT {_OPT_COLUMNS} FROM optimizations WHERE parent_id = ? ORDER BY fold",
        (parent_id,),
    ).fetchall()
    return [_record(r) for r in rows]


def done_trial_numbers(conn: sqlite3.Connection, opt_id: str) -> set[int]:
    rows = conn.execute("SELECT trial_no FROM optimization_trials WHERE opt_id = ?", (opt_id,))
    return {int(r[0]) for r in rows}


def count_trials(conn: sqlite3.Connection, opt_id: str) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM optimization_trials WHERE opt_id = ?", (opt_id,)
    ).fetchone()
    return int(row[0])


def best_score(conn: sqlite3.Connection, opt_id: str) -> float | None:
    row = conn.execute(
        "SELECT MAX(score) FROM optimization_trials WHERE opt_id = ?", (opt_id,)
    ).fetchone()
    return None if row[0] is None else float(row[0])


def load_trials(
    conn: sqlite3.Connection,
    opt_id: str,
    *,
    returns: bool = False,
    best_first: bool = False,
    limit: int | None = None,
) -> list[TrialRecord]:
    """Trials of ``opt_id`` by trial number, or best score first (unqualified ones last)."""
    order = "score IS NULL, score DESC, trial_no" if best_first else "trial_no"
    cols = "trial_no, params_json, status, score, trades, metrics_json, error, seconds"
    if returns:
        cols += ", returns_blob"
    sql = f"SELECT {cols} FROM optimization_trials WHERE opt_id = ? ORDER BY {order}"
    args: tuple[Any, ...] = (opt_id,)
    if limit is not None:
        sql += " LIMIT ?"
        args = (opt_id, int(limit))
    out = []
    for row in conn.execute(sql, args):
        out.append(
            TrialRecord(
                trial_no=int(row[0]),
                params=json.loads(row[1]),
                status=row[2],
                score=None if row[3] is None else float(row[3]),
                trades=int(row[4]),
                metrics=decode_metrics(row[5]),
                error=row[6],
                seconds=float(row[7]),
                returns=decode_returns(row[8]) if returns else None,
            )
        )
    return out


def ok_trial_numbers(conn: sqlite3.Connection, opt_id: str) -> list[int]:
    """The numbers of the trials that ran (not refused), ascending."""
    rows = conn.execute(
        "SELECT trial_no FROM optimization_trials WHERE opt_id = ? AND status = 'ok' "
        "ORDER BY trial_no",
        (opt_id,),
    )
    return [int(r[0]) for r in rows]


def iter_returns(conn: sqlite3.Connection, opt_id: str) -> Iterator[tuple[int, FloatArray]]:
    """Each trial that ran, with its daily returns, one at a time (what PBO and the Deflated
    Sharpe Ratio are computed from)."""
    rows = conn.execute(
        "SELECT trial_no, returns_blob FROM optimization_trials "
        "WHERE opt_id = ? AND status = 'ok' ORDER BY trial_no",
        (opt_id,),
    )
    for no, blob in rows:
        yield int(no), decode_returns(blob)


def returns_matrix(conn: sqlite3.Connection, opt_id: str) -> tuple[list[int], FloatArray]:
    """The trial numbers of the trials that ran, and their daily returns as a days × trials
    matrix."""
    numbers: list[int] = []
    cols: list[FloatArray] = []
    for no, r in iter_returns(conn, opt_id):
        numbers.append(no)
        cols.append(r)
    if not cols:
        return [], np.empty((0, 0))
    return numbers, np.column_stack(cols)


def list_optimizations(
    conn: sqlite3.Connection, *, limit: int = 20, strategy: str | None = None
) -> list[OptimizationSummary]:
    """Top-level optimizations (not walk-forward folds), newest first."""
    where = "o.parent_id IS NULL"
    args: list[Any] = []
    if strategy:
        where += " AND o.strategy = ?"
        args.append(strategy)
    rows = conn.execute(
        "SELECT o.opt_id, o.kind, o.strategy, o.method, o.objective, o.budget, o.status, "
        "o.created_at, o.config_json, "
        "(SELECT COUNT(*) FROM optimization_trials t WHERE t.opt_id = o.opt_id), "
        "(SELECT MAX(score) FROM optimization_trials t WHERE t.opt_id = o.opt_id) "
        f"FROM optimizations o WHERE {where} ORDER BY o.created_at DESC, o.opt_id DESC LIMIT ?",
        (*args, int(limit)),
    ).fetchall()
    out = []
    for r in rows:
        config = json.loads(r[8])
        out.append(
            OptimizationSummary(
                opt_id=r[0], kind=r[1], strategy=r[2], method=r[3], objective=r[4],
                budget=int(r[5]), status=r[6], created_at=float(r[7]), trials=int(r[9]),
                best_score=None if r[10] is None else float(r[10]),
                symbols=tuple(config.get("symbols", ())), start=str(config.get("start", "")),
                end=str(config.get("end", "")),
            )
        )  # fmt: skip
    return out


def delete_optimization(conn: sqlite3.Connection, opt_id: str) -> int:
    """Delete an optimization, its trials and (for a walk-forward) its folds' searches; return
    how many optimizations went. InputError when there is no such id."""
    load_optimization(conn, opt_id)
    ids = [opt_id] + [c.opt_id for c in children(conn, opt_id)]
    with conn:
        for i in ids:
            conn.execute("DELETE FROM optimization_trials WHERE opt_id = ?", (i,))
            conn.execute("DELETE FROM optimizations WHERE opt_id = ?", (i,))
    return len(ids)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=False)


def trial_rows(records: Iterable[TrialRecord]) -> list[dict[str, Any]]:
    """Trials as plain dicts (for tables)."""
    return [
        {"trial": t.trial_no, **t.params, "score": t.score, "trades": t.trades, **t.metrics}
        for t in records
    ]
