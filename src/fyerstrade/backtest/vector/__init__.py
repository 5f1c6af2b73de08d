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

__all__ = ["UnsupportedRunError", "run_vector", "unsupported_reason"]

if TYPE_CHECKING:
    from fyerstrade.backtest.vector.inputs import UnsupportedRunError
    from fyerstrade.backtest.vector.run import run_vector, unsupported_reason


def __getattr__(name: str) -> Any:
    # lazy: importing the package must not import numba (the CLI starts fast)
    if name == "UnsupportedRunError":
        from fyerstrade.backtest.vector.inputs import UnsupportedRunError

        return UnsupportedRunError
    if name in ("run_vector", "unsupported_reason"):
        from fyerstrade.backtest.vector import run

        return getattr(run, name)
    raise AttributeError(name)
