"""The vectorized backtest engine: a numba kernel that applies the event engine's rules to whole
arrays, for strategies that declare ``signals`` (``strategies/signals.py``).

* :func:`run_vector` — one backtest, the same ``BacktestResult`` as ``run_backtest``;
* :class:`VectorEvaluator` — blocks of parameter combinations for the optimizer (indicators
  computed once per distinct parameter value, metrics computed in the kernel's fast path);
* :func:`unsupported_reason` — why a run must go through the event engine instead.

The kernel is compiled on first use and cached on disk (``cache.py``), so later processes load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "UnsupportedRunError",
    "VectorEvaluator",
    "run_vector",
    "unsupported",
    "unsupported_reason",
]

if TYPE_CHECKING:
    from fyerstrade.backtest.engine import BacktestConfig
    from fyerstrade.backtest.vector.evaluator import VectorEvaluator
    from fyerstrade.backtest.vector.inputs import UnsupportedRunError
    from fyerstrade.backtest.vector.run import run_vector, unsupported_reason
    from fyerstrade.config import Settings


def unsupported(config: BacktestConfig, settings: Settings | None = None) -> str | None:
    """Why the vectorized engine cannot run ``config`` (None: it can). What only the data can
    tell (a tick size that changes during the run) raises ``UnsupportedRunError`` when the run
    or the evaluator is built."""
    from fyerstrade.strategies.base import has_signals
    from fyerstrade.strategies.registry import get_strategy

    strategy = get_strategy(config.strategy, settings)
    if not has_signals(strategy):
        return f"strategy {strategy.name} does not declare signals"
    from fyerstrade.backtest.vector.limits import risk_reason

    return risk_reason(config)


def __getattr__(name: str) -> Any:
    # lazy: importing the package must not import numba (the CLI starts fast)
    if name == "VectorEvaluator":
        from fyerstrade.backtest.vector.evaluator import VectorEvaluator

        return VectorEvaluator
    if name == "UnsupportedRunError":
        from fyerstrade.backtest.vector.inputs import UnsupportedRunError

        return UnsupportedRunError
    if name in ("run_vector", "unsupported_reason"):
        from fyerstrade.backtest.vector import run

        return getattr(run, name)
    raise AttributeError(name)
