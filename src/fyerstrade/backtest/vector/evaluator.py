"""``VectorEvaluator``: the optimizer's :class:`~fyerstrade.backtest.evaluate.Evaluator` on the
numba kernel.

Built once per run (the bars, the session marks, the cost table: ``inputs.prepare``), it scores
each parameter set of a block with one kernel call and the compiled metrics
(``metrics.trial_metrics``), never building a fill or a round-trip object. Each symbol keeps an
:class:`~fyerstrade.strategies.signals.IndicatorCache`, so an indicator is computed once per
distinct value of the parameters it uses across the whole sweep (least recently used arrays are
dropped beyond ``cache_bytes``). Memory per trial is the run's arrays plus one equity curve and the
signals of one combination, however large the block; what a trial keeps is its metrics and its
daily returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fyerstrade.backtest.engine import BacktestConfig, InstrumentLookup
from fyerstrade.backtest.evaluate import TrialOutcome, period_days, warmup_start
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Instrument
from fyerstrade.errors import FyersTradeError
from fyerstrade.reporting.metrics import TRADING_DAYS_PER_YEAR
from fyerstrade.strategies.base import has_signals
from fyerstrade.strategies.registry import get_strategy
from fyerstrade.strategies.signals import IndicatorCache

from . import metrics as vm
from .indicators import BATCHED, COMPILED
from .inputs import UnsupportedRunError, prepare
from .run import load_bars, pack, signals_of, simulate

if TYPE_CHECKING:
    from fyerstrade.config import Settings

__all__ = ["VectorEvaluator"]


class VectorEvaluator:
    """Scores parameter sets of one configuration with the vectorized engine."""

    def __init__(
        self,
        config: BacktestConfig,
        bars: Mapping[str, CandleArrays],
        instruments: Mapping[str, Instrument],
        lookup: InstrumentLookup | None,
        *,
        settings: Settings | None = None,
        cache_bytes: int = 256 * 2**20,
    ) -> None:
        config.validate()
        self.config = config
        self.strategy = get_strategy(config.strategy, settings)
        if not has_signals(self.strategy):
            raise UnsupportedRunError(f"strategy {self.strategy.name} does not declare signals")
        rate = settings.risk_free_rate if settings is not None else 0.0
        self.daily_rf = (1.0 + rate) ** (1.0 / TRADING_DAYS_PER_YEAR) - 1.0
        warmup_from = warmup_start(config, bars)
        run_bars = load_bars(config, settings, bars, instruments, lookup, warmup_from)
        self.inputs = prepare(config, run_bars.bars, run_bars.instruments, run_bars.lookup)
        per_symbol = max(1, cache_bytes // max(1, len(self.inputs.bars)))
        self.caches = [
            IndicatorCache(self.strategy, b, per_symbol, COMPILED) for b in self.inputs.bars
        ]
        self.days = period_days(config, bars)
        # each evaluated day's value is the last day with a step on or before it
        self._day_index = (np.searchsorted(self.inputs.days, self.days, side="right") - 1).astype(
            np.int64
        )
        ts = self.inputs.step_ts
        self._span = (int(ts[0]), int(ts[-1])) if len(ts) else (0, 0)
        self._out = np.empty(vm.N_METRICS, dtype=np.float64)
        self._defined = np.empty(vm.N_METRICS, dtype=np.uint8)

    @property
    def indicators_computed(self) -> int:
        """Indicator arrays computed so far (over every symbol)."""
        return sum(c.computed for c in self.caches)

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[TrialOutcome]:
        checked: list[Mapping[str, Any] | FyersTradeError] = []
        for raw in params:
            try:  # types, bounds, checks between params: once per combination
                checked.append(self.strategy(**raw).param_values)
            except FyersTradeError as exc:
                checked.append(exc)
        # the block's indicators with a batch twin first, each function's values in one pass
        valid = [v for v in checked if not isinstance(v, FyersTradeError)]
        for cache in self.caches:
            cache.precompute(valid, BATCHED)
        return [self._one(v) for v in checked]

    def _one(self, values: Mapping[str, Any] | FyersTradeError) -> TrialOutcome:
        inputs = self.inputs
        try:
            if isinstance(values, FyersTradeError):
                raise values
            per_symbol = signals_of(self.strategy, self.caches, values, inputs.symbols)
            packed = pack(inputs, per_symbol, f"strategy {self.strategy.name} signals")
            run = simulate(inputs, packed, records=False)
        except FyersTradeError as exc:
            return TrialOutcome({}, 0, np.zeros(self.days.size, dtype=np.float64), str(exc))
        returns = np.empty(self.days.size, dtype=np.float64)
        vm.trial_metrics(
            run.accounts,
            run.day_equity,
            run.trades,
            len(inputs.step_ts),
            self._span[0],
            self._span[1],
            float(self.config.capital),
            self.daily_rf,
            self._day_index,
            self._out,
            self._defined,
            returns,
        )
        return TrialOutcome(vm.metrics_dict(self._out, self._defined), len(run.trades), returns)
