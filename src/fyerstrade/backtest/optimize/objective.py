"""What a sweep maximises: one metric of ``backtest run --json``, and a minimum trade count.

A trial *qualifies* when it ran, made at least ``min_trades`` round trips and its metric is
defined; only qualifying trials are ranked and chosen. The score is the metric, negated for the
ones where lower is better (``max_drawdown``, ``volatility``), so a higher score is always
better and the stored ``score`` column sorts one way.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass

from fyerstrade.errors import InputError

__all__ = ["OBJECTIVES", "Objective", "parse_objective"]

#: objective name → +1 when higher is better, -1 when lower is better
OBJECTIVES: dict[str, int] = {
    "sharpe": 1,
    "sortino": 1,
    "calmar": 1,
    "total_return": 1,
    "cagr": 1,
    "profit_factor": 1,
    "expectancy": 1,
    "win_rate": 1,
    "final_equity": 1,
    "max_drawdown": -1,
    "volatility": -1,
}


@dataclass(frozen=True)
class Objective:
    """The metric to optimise and the trades a trial needs to count."""

    metric: str = "sharpe"
    min_trades: int = 5

    @property
    def direction(self) -> int:
        return OBJECTIVES[self.metric]

    def score(self, metrics: Mapping[str, float | None], trades: int) -> float | None:
        """Higher is better; ``None`` when the trial does not qualify."""
        if trades < self.min_trades:
            return None
        value = metrics.get(self.metric)
        if value is None or math.isnan(value):
            return None
        return float(value) * self.direction

    def value_of(self, score: float | None) -> float | None:
        """The metric's own value back from a score."""
        return None if score is None else score * self.direction

    def describe(self) -> str:
        verb = "maximise" if self.direction > 0 else "minimise"
        return f"{verb} {self.metric} (at least {self.min_trades} trades)"


def parse_objective(name: str, min_trades: int) -> Objective:
    key = name.strip().lower().replace("-", "_")
    if key not in OBJECTIVES:
        close = difflib.get_close_matches(key, list(OBJECTIVES), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(
            f"--objective {name!r} is not an objective{hint}; use one of {', '.join(OBJECTIVES)}"
        )
    if min_trades < 0:
        raise InputError(f"--min-trades must not be negative, got {min_trades}")
    return Objective(key, min_trades)
