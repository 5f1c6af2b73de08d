"""Evaluating many parameter sets of one backtest: the seam between the optimizer and the engines.

An :class:`Evaluator` is built once for a run's configuration and bars, then scores parameter
sets in blocks::

    evaluator = build_evaluator(config, bars, instruments, lookup, settings=settings)
    outcomes = evaluator.evaluate([{"fast": 5, "slow": 20}, {"fast": 10, "slow": 40}])
    outcomes[0].metrics["sharpe"], outcomes[0].trades, outcomes[0].daily_returns

Every outcome carries the metrics of ``backtest run --json`` (same names, same definitions:
:func:`~fyerstrade.reporting.metrics.compute_metrics`), the number of round trips, and the daily
returns aligned to ``evaluator.days`` (the IST day numbers of the evaluated period that have
bars), so the optimizer can store them and compute PBO and the Deflated Sharpe Ratio later.

Two implementations, one interface:

- :class:`EventEvaluator` runs the event engine (:func:`~fyerstrade.backtest.engine.run_backtest`)
  once per parameter set: any strategy, every option;
- ``VectorEvaluator`` (``backtest/vector.py``) runs the numba kernel over whole arrays, for
  strategies that declare ``signals`` and options the kernel supports.

:func:`build_evaluator` picks the vectorized one when it can and the event engine otherwise.

Bars may start before ``config.start``: those bars are warm-up. Indicators see them, nothing
trades before ``config.start`` and ``days`` starts there (walk-forward hands each out-of-sample
window the in-sample tail this way).

A parameter set the strategy refuses (its constructor raises, e.g. ``fast >= slow``) or that
makes it raise while running is not an exception of :meth:`Evaluator.evaluate`: its outcome has
``error`` set, no metrics, no trades and zero returns, and the other sets of the block still run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from fyerstrade.domain import DAY_SECONDS, IST_OFFSET, Instrument
from fyerstrade.errors import FyersTradeError, InputError

if TYPE_CHECKING:
    from fyerstrade.backtest.engine import BacktestConfig, InstrumentLookup
    from fyerstrade.candles import CandleArrays
    from fyerstrade.config import Settings

__all__ = [
    "Evaluator",
    "EventEvaluator",
    "InstrumentTable",
    "TrialOutcome",
    "build_evaluator",
    "period_days",
    "returns_on_days",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
EngineChoice = Literal["auto", "event", "vector"]


@dataclass(frozen=True)
class TrialOutcome:
    """What one parameter set scored.

    ``metrics`` has the names of ``backtest run --json`` (``None`` where undefined, ``inf``
    kept); ``daily_returns`` is float64, one simple return per entry of the evaluator's ``days``
    (the first measured from the starting capital). ``error`` is set, with empty metrics, when
    the strategy refused the parameters or raised."""

    metrics: dict[str, float | None]
    trades: int
    daily_returns: FloatArray
    error: str | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Evaluator(Protocol):
    """Scores parameter sets of one configuration over one set of bars."""

    days: IntArray  # int64 IST day numbers (days since 1970-01-01) of the evaluated period

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[TrialOutcome]:
        """One outcome per parameter set, in order."""
        ...


@dataclass(frozen=True)
class InstrumentTable:
    """A picklable instrument lookup: the contract of each symbol, and per (symbol, date) the
    one in force that day where it differs (F&O lot sizes change). Workers of another process
    or machine receive it with the bars."""

    instruments: Mapping[str, Instrument]
    by_day: Mapping[tuple[str, date], Instrument] = field(default_factory=dict)

    def __call__(self, symbol: str, d: date) -> Instrument:
        return self.by_day.get((symbol, d)) or self.instruments[symbol]

    @classmethod
    def capture(
        cls,
        instruments: Mapping[str, Instrument],
        lookup: InstrumentLookup | None,
        bars: Mapping[str, CandleArrays],
    ) -> InstrumentTable:
        """Freeze ``lookup`` (any callable) over every day of ``bars``."""
        by_day: dict[tuple[str, date], Instrument] = {}
        if lookup is not None:
            for sym, arrays in bars.items():
                if sym not in instruments or not instruments[sym].is_derivative:
                    continue
                for day in np.unique((arrays.ts + IST_OFFSET) // DAY_SECONDS).tolist():
                    d = date(1970, 1, 1) + timedelta(days=int(day))
                    ins = lookup(sym, d)
                    if ins != instruments[sym]:
                        by_day[(sym, d)] = ins
        return cls(dict(instruments), by_day)


def period_days(config: BacktestConfig, bars: Mapping[str, CandleArrays]) -> IntArray:
    """The IST day numbers between ``config.start`` and ``config.end`` on which any of the
    config's symbols has a bar, ascending (each symbol's bars are in time order, so its repeats
    are dropped in one pass before the few days left are sorted)."""
    from fyerstrade.calendar import ist_epoch

    lo = ist_epoch(config.start)
    hi = ist_epoch(config.end + timedelta(days=1)) - 1
    parts = []
    for sym in config.symbols:
        ts = bars[sym].ts
        i, j = np.searchsorted(ts, (lo, hi + 1))
        parts.append(distinct_runs((ts[i:j].astype(np.int64) + IST_OFFSET) // DAY_SECONDS))
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(parts)).astype(np.int64)


def distinct_runs(values: IntArray) -> IntArray:
    """``values`` without the elements equal to the one before them (each run of equal values
    kept once): the same set, so ``np.unique`` of it equals ``np.unique(values)``, and it is one
    pass over sorted values instead of a sort."""
    if values.size < 2:
        return values
    keep = np.empty(values.size, dtype=np.bool_)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def warmup_start(config: BacktestConfig, bars: Mapping[str, CandleArrays]) -> date | None:
    """The IST day of the first bar when the bars start before ``config.start`` (warm-up: seen by
    the indicators, never traded), else None."""
    from fyerstrade.calendar import ist_date

    first = min((int(bars[s].ts[0]) for s in config.symbols if len(bars[s])), default=None)
    if first is None or ist_date(first) >= config.start:
        return None
    return ist_date(first)


def returns_on_days(
    equity_ts: npt.ArrayLike, equity: npt.ArrayLike, capital: float, days: IntArray
) -> FloatArray:
    """Daily simple returns on ``days`` from an equity curve: each day's value is the curve's
    last point on or before that day (the capital before the first point), the first return is
    measured from ``capital``. A curve with a point on every day gives exactly the returns
    ``compute_metrics`` measures Sharpe on."""
    ts = np.asarray(equity_ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if days.size == 0:
        return np.empty(0, dtype=np.float64)
    point_day = (ts + IST_OFFSET) // DAY_SECONDS
    last = np.searchsorted(point_day, days, side="right") - 1
    level = np.where(last >= 0, eq[np.maximum(last, 0)] if eq.size else capital, capital)
    prev = np.concatenate(([capital], level[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(prev != 0, level / prev - 1.0, 0.0)
    return np.asarray(out, dtype=np.float64)


def _failed(error: str, n_days: int) -> TrialOutcome:
    return TrialOutcome({}, 0, np.zeros(n_days, dtype=np.float64), error)


class EventEvaluator:
    """Scores each parameter set with one run of the event engine (any strategy, any option)."""

    def __init__(
        self,
        config: BacktestConfig,
        bars: Mapping[str, CandleArrays],
        instruments: Mapping[str, Instrument],
        lookup: InstrumentLookup | None,
        *,
        settings: Settings | None = None,
    ) -> None:
        from fyerstrade.strategies.registry import get_strategy

        config.validate()
        self.config = config
        self.bars = bars
        self.instruments = instruments
        self.lookup = lookup
        self.settings = settings
        self.risk_free_rate = settings.risk_free_rate if settings is not None else 0.0
        self.strategy = get_strategy(config.strategy, settings)
        self.days: IntArray = period_days(config, bars)
        self._warmup_from = warmup_start(config, bars)

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[TrialOutcome]:
        return [self._one(p) for p in params]

    def _one(self, params: Mapping[str, Any]) -> TrialOutcome:
        from fyerstrade.backtest.engine import run_backtest
        from fyerstrade.reporting.metrics import compute_metrics

        cfg = self.config.model_copy(update={"params": dict(params)})
        try:
            self.strategy(**cfg.params)  # the constructor checks parameters against each other
            result = run_backtest(
                cfg,
                self.settings,
                data=self.bars,
                instruments=self.instruments,
                lookup=self.lookup,
                warmup_from=self._warmup_from,
            )
        except FyersTradeError as exc:
            return _failed(str(exc), self.days.size)
        metrics = compute_metrics(
            result.trades,
            result.equity_ts,
            result.equity,
            cfg.capital,
            risk_free_rate=self.risk_free_rate,
            exposure=result.exposure,
        ).to_dict()
        returns = returns_on_days(result.equity_ts, result.equity, cfg.capital, self.days)
        return TrialOutcome(dict(metrics), len(result.trades), returns)


def _vector_module() -> Any:
    """``fyerstrade.backtest.vector`` (the numba kernel), or None before it exists."""
    import importlib

    try:
        return importlib.import_module("fyerstrade.backtest.vector")
    except ModuleNotFoundError as exc:
        if exc.name == "fyerstrade.backtest.vector":
            return None
        raise


def vector_unsupported(config: BacktestConfig, settings: Settings | None = None) -> str | None:
    """Why the vectorized engine cannot evaluate ``config`` (``None`` when it can, as far as the
    configuration tells; what only the bars can tell is found when the evaluator is built)."""
    vector = _vector_module()
    if vector is None:
        return "the vectorized engine is not available"
    reason: str | None = vector.unsupported(config, settings)
    return reason


def build_evaluator(
    config: BacktestConfig,
    bars: Mapping[str, CandleArrays],
    instruments: Mapping[str, Instrument],
    lookup: InstrumentLookup | None,
    *,
    settings: Settings | None = None,
    engine: EngineChoice = "auto",
) -> Evaluator:
    """The fastest evaluator for ``config``: the vectorized engine when the strategy declares
    ``signals`` and the kernel supports the run's options, else the event engine. ``engine``
    forces one (``vector`` raises InputError saying why it cannot)."""
    if engine != "event":
        reason = vector_unsupported(config, settings)
        vector = _vector_module()
        if reason is None and vector is not None:
            try:
                evaluator: Evaluator = vector.VectorEvaluator(
                    config, bars, instruments, lookup, settings=settings
                )
                return evaluator
            except vector.UnsupportedRunError as exc:  # what only the bars tell
                reason = str(exc)
        if engine == "vector":
            raise InputError(f"the vectorized engine cannot run this: {reason}")
        log.debug("event engine for %s: %s", config.strategy, reason)
    return EventEvaluator(config, bars, instruments, lookup, settings=settings)
