"""What every worker needs to evaluate trials, shipped once: the run's options and the bars.

An :class:`EvaluationJob` holds the backtest configuration (its parameters are replaced per
trial), the bars of every symbol, a picklable instrument lookup and the two settings evaluation
depends on (the user strategy folder and the risk-free rate). Nothing else of the driver's
settings travels: no token, no secret, no path but the strategy folder. Workers get it
explicitly (a Ray worker has no access to the driver's globals or environment).

A :class:`Block` is a few parameter sets for one :class:`Period` (the sweep's dates, or one
walk-forward window with its warm-up). Workers keep the evaluator of each period they have seen,
so the bars are sliced and the strategy class looked up once per worker and period, not once
per trial.

:func:`bars_to_shared` and :func:`bars_from_shared` put the bars of every symbol into one
``multiprocessing.shared_memory`` block and map them back as read-only numpy views: a process
pool's workers attach once and never receive a copy of the bars.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from multiprocessing import shared_memory
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fyerstrade.backtest.evaluate import (
    EngineChoice,
    Evaluator,
    EventEvaluator,
    InstrumentTable,
    TrialOutcome,
)
from fyerstrade.candles import CandleArrays

if TYPE_CHECKING:
    from fyerstrade.backtest.engine import BacktestConfig
    from fyerstrade.backtest.optimize.methods import Proposal
    from fyerstrade.config import Settings

__all__ = ["Block", "EvaluationJob", "Period", "bars_from_shared", "bars_to_shared"]

_COLUMNS = ("ts", "open", "high", "low", "close", "volume")
_DTYPES = {"ts": np.int64, "volume": np.int64}
_CACHE_SIZE = 8


@dataclass(frozen=True)
class Period:
    """Dates to evaluate (inclusive), and where the warm-up bars start (``None``: none)."""

    start: date
    end: date
    warmup_from: date | None = None


@dataclass(frozen=True)
class Block:
    """Parameter sets evaluated together on one worker."""

    period: Period
    proposals: Sequence[Proposal]

    @property
    def params(self) -> list[dict[str, Any]]:
        return [p.params for p in self.proposals]


@dataclass
class EvaluationJob:
    """The configuration, bars and lookups every worker evaluates with."""

    config: BacktestConfig
    bars: Mapping[str, CandleArrays]
    instruments: InstrumentTable
    strategy_dir: str | None = None
    risk_free_rate: float = 0.0
    engine: EngineChoice = "auto"
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def create(
        cls,
        config: BacktestConfig,
        bars: Mapping[str, CandleArrays],
        instruments: InstrumentTable,
        settings: Settings,
        engine: EngineChoice = "auto",
    ) -> EvaluationJob:
        return cls(
            config=config,
            bars=bars,
            instruments=instruments,
            strategy_dir=str(settings.strategy_dir) if settings.strategy_dir else None,
            risk_free_rate=float(settings.risk_free_rate),
            engine=engine,
        )

    def settings(self) -> Settings:
        """The worker's settings: only what evaluation reads, given explicitly."""
        from fyerstrade.config import load_settings

        return load_settings(
            env_file=None,
            strategy_dir=Path(self.strategy_dir) if self.strategy_dir else None,
            risk_free_rate=self.risk_free_rate,
        )

    def without_bars(self) -> EvaluationJob:
        return replace(self, bars={})

    def load_kernel(self) -> None:
        """Load the vectorized engine's compiled kernel in this process when the job will use
        it (numba loads it from its disk cache at import, compiling on a first run): a process
        pool forked afterwards inherits it, instead of each worker loading it again (1-3 s each
        on a loaded machine, before its first trial)."""
        if self.engine == "event":
            return
        from fyerstrade.backtest.evaluate import vector_unsupported

        if vector_unsupported(self.config, self.settings()) is None:
            import fyerstrade.backtest.vector.evaluator  # noqa: F401

    def evaluator(self, period: Period) -> Evaluator:
        """An evaluator of ``period`` over views of the bars (no copy)."""
        from fyerstrade.backtest.evaluate import build_evaluator
        from fyerstrade.calendar import ist_epoch

        config = self.config.model_copy(update={"start": period.start, "end": period.end})
        first = ist_epoch(period.warmup_from or period.start)
        last = ist_epoch(period.end) + 86_400
        bars = {}
        for sym in config.symbols:
            arrays = self.bars[sym]
            i, j = np.searchsorted(arrays.ts, (first, last))
            bars[sym] = arrays.slice(int(i), int(j))
        return build_evaluator(
            config,
            bars,
            self.instruments.instruments,
            self.instruments,
            settings=self.settings(),
            engine=self.engine,
        )


class EvaluatorCache:
    """A worker's evaluators by (job, period), the few most recent kept."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, Period], Evaluator] = OrderedDict()

    def get(self, job: EvaluationJob, period: Period) -> Evaluator:
        key = (job.key, period)
        ev = self._items.get(key)
        if ev is None:
            ev = job.evaluator(period)
            self._items[key] = ev
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return ev


def evaluate_block(
    cache: EvaluatorCache, job: EvaluationJob, period: Period, params: list[dict[str, Any]]
) -> tuple[list[TrialOutcome], float]:
    """Outcomes of ``params`` and the seconds the block took (evaluator set-up included).

    A full garbage collection ends every event-engine block: each event-engine run leaves
    reference cycles (engine, context, strategy) holding its indicator and equity arrays, and
    the run's ``gc.freeze()`` sends what is still uncollected to the oldest generation, which
    Python collects rarely. Without this a worker grew by ~3 MB a trial (1.4 GB after 500 trials
    of a year of 5-minute bars); with it a worker stays flat. A vectorized block leaves no such
    cycles and skips it (in a pool worker that had not frozen what it inherited, a full
    collection walked the driver's whole heap: 55-100 ms of CPU, a fifth of a block)."""
    t0 = time.perf_counter()
    evaluator = cache.get(job, period)
    outcomes = evaluator.evaluate(params)
    if isinstance(evaluator, EventEvaluator):
        gc.collect()
    return outcomes, time.perf_counter() - t0


# ---- bars in shared memory ---------------------------------------------------------------

Layout = list[tuple[str, int, int]]  # (symbol, bars, byte offset)


def bars_to_shared(
    bars: Mapping[str, CandleArrays],
) -> tuple[shared_memory.SharedMemory, Layout]:
    """Copy every symbol's columns into one new shared memory block; the caller closes and
    unlinks it."""
    total = sum(len(a) * 8 * len(_COLUMNS) for a in bars.values())
    shm = shared_memory.SharedMemory(create=True, size=max(total, 8))
    layout: Layout = []
    offset = 0
    for sym, arrays in bars.items():
        n = len(arrays)
        layout.append((sym, n, offset))
        for col in _COLUMNS:
            dtype = _DTYPES.get(col, np.float64)
            view = np.ndarray((n,), dtype=dtype, buffer=shm.buf, offset=offset)
            view[:] = getattr(arrays, col)
            offset += n * 8
    return shm, layout


def bars_from_shared(shm: shared_memory.SharedMemory, layout: Layout) -> dict[str, CandleArrays]:
    """Read-only views of the bars in ``shm`` (no copy)."""
    out = {}
    for sym, n, offset in layout:
        cols = []
        for col in _COLUMNS:
            dtype = _DTYPES.get(col, np.float64)
            view = np.ndarray((n,), dtype=dtype, buffer=shm.buf, offset=offset)
            view.flags.writeable = False
            cols.append(view)
            offset += n * 8
        out[sym] = CandleArrays(*cols)
    return out
