"""Search methods: which parameter sets to try, in what order (the executor evaluates them).

- ``grid``: every admitted combination, in index order (last parameter fastest);
- ``random``: ``budget`` distinct admitted combinations drawn with a seeded generator;
- ``tpe``: Optuna's Tree-structured Parzen Estimator through ask-and-tell. The study owns the
  search (``study.ask()``), the executor owns evaluation, the result goes back with
  ``study.tell()``; Optuna 5's TPE is multivariate with the constant liar, so several trials
  can be in flight at once.

Grid and random trials are numbered by their position in a sequence that depends only on the
space, the constraints and the seed, so ``--resume`` regenerates it and skips what is stored:
nothing is evaluated twice and nothing is skipped. TPE trials are numbered as they are stored;
on resume the stored trials are told to a fresh study before it asks again.

Nothing here materialises the grid: combinations are decoded a block of indices at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fyerstrade.backtest.optimize.constraints import Constraint, admitted
from fyerstrade.backtest.optimize.space import SearchSpace
from fyerstrade.errors import InputError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "METHODS",
    "AdmissibleCount",
    "Proposal",
    "TpeSearch",
    "count_admissible",
    "grid_proposals",
    "random_proposals",
]

METHODS = ("grid", "random", "tpe")
DECODE_BLOCK = 65_536
EXACT_COUNT_LIMIT = 20_000_000
COUNT_SAMPLE = 200_000


@dataclass(frozen=True)
class Proposal:
    """A parameter set to evaluate; ``trial_no`` None means "number it when stored" (TPE);
    ``ref`` identifies an asked TPE trial until it is told."""

    trial_no: int | None
    params: dict[str, Any]
    ref: int = -1


@dataclass(frozen=True)
class AdmissibleCount:
    """How many combinations the constraints admit (``exact`` False: estimated by sampling)."""

    count: int
    exact: bool


def _block_admitted(
    space: SearchSpace, constraints: Sequence[Constraint], idx: list[np.ndarray]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    cols = space.columns(idx)
    return cols, admitted(constraints, cols)


def count_admissible(space: SearchSpace, constraints: Sequence[Constraint]) -> AdmissibleCount:
    """The number of admitted combinations: exact when the constrained axes span at most
    :data:`EXACT_COUNT_LIMIT` combinations (counted a block at a time), else estimated."""
    total = space.size
    if not constraints:
        return AdmissibleCount(total, True)
    names = set().union(*(c.names for c in constraints))
    inner = [a for a in space.axes if a.name in names]
    if not inner:  # constraints on fixed values only: all or nothing
        one = [np.zeros(1, dtype=np.int64) for _ in space.axes]
        _, ok = _block_admitted(space, constraints, one)
        return AdmissibleCount(total if bool(ok[0]) else 0, True)
    sub = SearchSpace(space.strategy, tuple(inner), space.fixed)
    rest = total // sub.size
    if sub.size <= EXACT_COUNT_LIMIT:
        n = 0
        for lo in range(0, sub.size, DECODE_BLOCK):
            idx = sub.indices(np.arange(lo, min(sub.size, lo + DECODE_BLOCK), dtype=np.int64))
            _, ok = _block_admitted(sub, constraints, idx)
            n += int(ok.sum())
        return AdmissibleCount(n * rest, True)
    rng = np.random.default_rng(0)
    idx = [rng.integers(0, len(a), COUNT_SAMPLE) for a in sub.axes]
    _, ok = _block_admitted(sub, constraints, idx)
    hits = int(ok.sum())
    return AdmissibleCount(math.ceil(hits / COUNT_SAMPLE * sub.size) * rest, False)


def grid_proposals(
    space: SearchSpace, constraints: Sequence[Constraint], done: Callable[[int], bool]
) -> Iterator[Proposal]:
    """Every admitted combination in index order, numbered 0, 1, 2, ... (skipping ``done``)."""
    rank = 0
    for lo in range(0, space.size, DECODE_BLOCK):
        flat = np.arange(lo, min(space.size, lo + DECODE_BLOCK), dtype=np.int64)
        cols, ok = _block_admitted(space, constraints, space.indices(flat))
        rows = np.flatnonzero(ok)
        for r, params in zip(rows.tolist(), space.params_at(cols, rows.tolist()), strict=True):
            del r
            if not done(rank):
                yield Proposal(rank, params)
            rank += 1


def random_proposals(
    space: SearchSpace,
    constraints: Sequence[Constraint],
    budget: int,
    seed: int,
    done: Callable[[int], bool],
    admissible: int | None = None,
) -> Iterator[Proposal]:
    """``budget`` distinct admitted combinations drawn uniformly (per axis) with ``seed``,
    numbered by draw order; the same seed gives the same sequence (``done`` ones skipped)."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, ...]] = set()
    position = 0
    limit = budget if admissible is None else min(budget, admissible)
    misses = 0
    while position < limit:
        idx = [rng.integers(0, len(a), 4096) for a in space.axes]
        cols, ok = _block_admitted(space, constraints, idx)
        rows = np.flatnonzero(ok).tolist()
        fresh = []
        for r in rows:
            key = tuple(int(i[r]) for i in idx)
            if key in seen:
                continue
            seen.add(key)
            fresh.append(r)
            if position + len(fresh) >= limit:
                break
        misses = 0 if fresh else misses + 1
        if misses > 200:  # nothing new in 800k draws: the admitted space is used up
            return
        for params in space.params_at(cols, fresh):
            if not done(position):
                yield Proposal(position, params)
            position += 1


def _distributions(space: SearchSpace) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for a in space.axes:
        if a.choices is not None:
            out[a.name] = CategoricalDistribution(list(a.choices))
        elif a.type is int:
            hi = int(a.value(len(a) - 1))
            out[a.name] = IntDistribution(int(a.lo), hi, step=int(a.step))
        else:
            hi_f = float(a.value(len(a) - 1))
            out[a.name] = FloatDistribution(float(a.lo), hi_f, step=float(a.step))
    return out


def _key(params: Mapping[str, Any]) -> str:
    return repr(sorted(params.items()))


class TpeSearch:
    """Ask-and-tell over an in-memory Optuna study (the trial store is the persistent record)."""

    def __init__(
        self,
        space: SearchSpace,
        constraints: Sequence[Constraint],
        budget: int,
        seed: int,
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self.constraints = list(constraints)
        self.budget = budget
        self.distributions = _distributions(space)
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        self.study: optuna.Study = optuna.create_study(direction="maximize", sampler=sampler)
        self._pending: dict[int, optuna.trial.Trial] = {}  # Proposal.ref → asked trial
        self._scores: dict[str, float | None] = {}
        self.told = 0

    def _frozen(self, params: Mapping[str, Any], score: float | None) -> optuna.trial.FrozenTrial:
        import optuna

        state = optuna.trial.TrialState.COMPLETE if score is not None else None
        return optuna.trial.create_trial(
            params={a.name: params[a.name] for a in self.space.axes},
            distributions=self.distributions,
            value=_finite(score) if state is not None else None,
            state=state or optuna.trial.TrialState.FAIL,
        )

    def replay(self, params: Mapping[str, Any], score: float | None) -> None:
        """Tell the study about a trial stored before (``--resume``)."""
        self.study.add_trial(self._frozen(params, score))
        self._scores[_key(params)] = score
        self.told += 1

    def proposals(self) -> Iterator[Proposal]:
        """Ask while the budget allows; a combination refused by the constraints is told as
        failed and asked again, one already tried is told its known score and asked again."""
        import optuna

        wasted = 0
        while self.told + len(self._pending) < self.budget:
            trial = self.study.ask(self.distributions)
            params = {**self.space.fixed, **trial.params}
            known = _key(params)
            if not all(c.admits(params) for c in self.constraints):
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                wasted += 1
            elif known in self._scores or any(_key(p) == known for p in self._pending_params()):
                score = self._scores.get(known)
                if score is None:
                    self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    self.study.tell(trial, _finite(score))
                wasted += 1
            else:
                wasted = 0
                proposal = Proposal(None, params, trial.number)
                self._pending[trial.number] = trial
                yield proposal
                continue
            if wasted > 2_000:
                return  # the sampler keeps proposing refused or known combinations

    def _pending_params(self) -> list[dict[str, Any]]:
        return [{**self.space.fixed, **t.params} for t in self._pending.values()]

    def tell(self, proposal: Proposal, score: float | None) -> None:
        import optuna

        trial = self._pending.pop(proposal.ref)
        self._scores[_key(proposal.params)] = score
        if score is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, _finite(score))
        self.told += 1

    def forget(self, proposal: Proposal) -> None:
        """A proposal that will not be evaluated (the run stopped): fail it in the study."""
        import optuna

        trial = self._pending.pop(proposal.ref, None)
        if trial is not None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _finite(score: float | None) -> float:
    if score is None or math.isnan(score):
        return -1e12
    return max(-1e12, min(1e12, score))


def check_method(name: str) -> str:
    key = name.strip().lower()
    if key not in METHODS:
        raise InputError(f"--method {name!r} is not a method; use grid, random or tpe")
    return key
