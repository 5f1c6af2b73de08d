"""Running a sweep: the method proposes, the executor evaluates, the trial store keeps.

:func:`plan` checks a sweep before anything runs (every constraint excluding every combination,
a grid larger than the trial budget) and :func:`run_sweep` drives it::

    method proposals ─► blocks (sized to time and memory) ─► executor ─► outcomes
        ▲                                                                  │
        └──────────── tell (TPE) ◄── score ◄── store one block per transaction

Blocks start at one trial (the event engine) or a few dozen (the vectorized engine) and are
resized after every block so that one takes about :data:`TARGET_BLOCK_SECONDS`, never more
trials than :data:`MEMORY_BUDGET` allows for all blocks in flight. Every finished block is
stored before the next result is read, so an interruption (Ctrl-C, a kill, a crash) keeps
every finished trial, and :func:`run_sweep` on the same id continues with what is missing.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fyerstrade.backtest.evaluate import TrialOutcome
from fyerstrade.backtest.optimize import trials as store
from fyerstrade.backtest.optimize.constraints import Constraint
from fyerstrade.backtest.optimize.executors import Executor
from fyerstrade.backtest.optimize.job import Block, Period
from fyerstrade.backtest.optimize.methods import (
    AdmissibleCount,
    Proposal,
    TpeSearch,
    count_admissible,
    grid_proposals,
    random_proposals,
)
from fyerstrade.backtest.optimize.objective import Objective
from fyerstrade.backtest.optimize.space import SearchSpace
from fyerstrade.errors import InputError
from fyerstrade.interrupts import check_interrupted

__all__ = ["Progress", "SweepPlan", "SweepSpec", "plan", "run_sweep"]

TARGET_BLOCK_SECONDS = 0.5
MEMORY_BUDGET = 512 * 1024 * 1024
DEFAULT_BUDGET = 10_000
TPE_MAX_BLOCK = 4

#: progress(done, total, best score so far)
Progress = Callable[[int, int, float | None], None]


@dataclass(frozen=True)
class SweepSpec:
    """What to search and how."""

    space: SearchSpace
    constraints: Sequence[Constraint]
    objective: Objective
    method: str
    budget: int
    seed: int = 0


@dataclass(frozen=True)
class SweepPlan:
    """How many trials the sweep will run, and how many the constraints admit."""

    trials: int
    admissible: AdmissibleCount


def plan(spec: SweepSpec) -> SweepPlan:
    """Check the sweep before anything runs; InputError (one line) when it cannot run."""
    if spec.budget < 1:
        raise InputError(f"--trials must be at least 1, got {spec.budget}")
    count = count_admissible(spec.space, spec.constraints)
    if count.count == 0:
        texts = " and ".join(repr(c.text) for c in spec.constraints)
        raise InputError(
            f"the constraint {texts} excludes every combination of {spec.space.describe()}"
        )
    about = "" if count.exact else "about "
    if spec.method == "grid":
        if count.count > spec.budget:
            raise InputError(
                f"the grid has {about}{count.count:,} combinations, more than the trial budget "
                f"of {spec.budget:,}; narrow the ranges with --param, raise --trials, or search "
                f"it with --method random --trials N or --method tpe --trials N"
            )
        return SweepPlan(count.count, count)
    return SweepPlan(min(spec.budget, count.count) if count.exact else spec.budget, count)


class _Sizer:
    """Trials per block: about TARGET_BLOCK_SECONDS each, within the memory budget."""

    def __init__(self, start: int, cap: int) -> None:
        self.cap = max(1, cap)
        self.size = max(1, min(start, self.cap))

    def update(self, trials: int, seconds: float) -> None:
        if trials <= 0 or seconds <= 0:
            return
        ideal = TARGET_BLOCK_SECONDS * trials / seconds
        self.size = max(1, min(self.cap, int(ideal), self.size * 4))


def memory_cap(bars: int, days: int, slots: int) -> int:
    """Trials per block so that every block in flight fits :data:`MEMORY_BUDGET`: a vectorized
    evaluation holds a few float64 columns per bar for each trial, plus its daily returns."""
    per_trial = 4 * 8 * max(bars, 1) + 8 * days + 4096
    return max(1, MEMORY_BUDGET // (max(slots, 1) * per_trial))


def _record(
    trial_no: int, proposal: Proposal, outcome: TrialOutcome, objective: Objective, seconds: float
) -> store.TrialRecord:
    if outcome.error is not None:
        return store.TrialRecord(
            trial_no, proposal.params, "refused", None, 0, {}, None, outcome.error, seconds
        )
    score = objective.score(outcome.metrics, outcome.trades)
    return store.TrialRecord(
        trial_no,
        proposal.params,
        "ok",
        score,
        outcome.trades,
        dict(outcome.metrics),
        np.asarray(outcome.daily_returns, dtype=np.float64),
        None,
        seconds,
    )


def run_sweep(
    conn: sqlite3.Connection,
    opt_id: str,
    spec: SweepSpec,
    executor: Executor,
    period: Period,
    *,
    vectorized: bool,
    bars: int,
    days: int,
    progress: Progress | None = None,
) -> int:
    """Evaluate what ``opt_id`` still lacks; return how many trials are stored in total.

    The executor must be open. The optimization's status is left to the caller (it knows
    whether it was interrupted)."""
    planned = plan(spec)
    done = store.done_trial_numbers(conn, opt_id)
    stored = len(done)
    best = store.best_score(conn, opt_id)
    total = max(planned.trials, stored)
    cap = memory_cap(bars, days, 2 * executor.workers)
    sizer = _Sizer(32 if vectorized else 1, cap)

    tpe: TpeSearch | None = None
    proposals: Iterator[Proposal]
    if spec.method == "grid":
        proposals = grid_proposals(spec.space, spec.constraints, done.__contains__)
    elif spec.method == "random":
        proposals = random_proposals(
            spec.space, spec.constraints, spec.budget, spec.seed, done.__contains__,
            planned.admissible.count if planned.admissible.exact else None,
        )  # fmt: skip
    else:
        tpe = TpeSearch(spec.space, spec.constraints, spec.budget, spec.seed)
        for t in store.load_trials(conn, opt_id):
            tpe.replay(t.params, t.score)
        proposals = tpe.proposals()
        sizer.cap = min(sizer.cap, TPE_MAX_BLOCK)
        sizer.size = min(sizer.size, sizer.cap)
    next_no = max(done, default=-1) + 1

    def blocks() -> Iterator[Block]:
        while True:
            chunk = []
            for p in proposals:
                chunk.append(p)
                if len(chunk) >= sizer.size:
                    break
            if not chunk:
                return
            yield Block(period, chunk)

    if progress is not None:
        progress(stored, total, best)
    for block, outcomes, seconds in executor.run(blocks()):
        per_trial = seconds / max(1, len(outcomes))
        records = []
        for proposal, outcome in zip(block.proposals, outcomes, strict=True):
            no = proposal.trial_no
            if no is None:
                no = next_no
                next_no += 1
            records.append(_record(no, proposal, outcome, spec.objective, per_trial))
        store.add_trials(conn, opt_id, records)
        for proposal, rec in zip(block.proposals, records, strict=True):
            if tpe is not None:
                tpe.tell(proposal, rec.score)
            if rec.score is not None and (best is None or rec.score > best):
                best = rec.score
        stored += len(records)
        total = max(total, stored)
        sizer.update(len(outcomes), seconds)
        if progress is not None:
            progress(stored, total, best)
        check_interrupted()  # a Ctrl-C (the dashboard's Stop) that numba's compiler swallowed
    return stored


def best_trial(conn: sqlite3.Connection, opt_id: str) -> store.TrialRecord | None:
    """The qualifying trial with the highest score (the lowest trial number on a tie)."""
    top = store.load_trials(conn, opt_id, best_first=True, limit=1, returns=True)
    if not top or top[0].score is None:
        return None
    return top[0]


def finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def metrics_json(metrics: Mapping[str, float | None]) -> dict[str, float | None]:
    """Metrics for strict JSON: non-finite values become ``None``."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in metrics.items()
    }
