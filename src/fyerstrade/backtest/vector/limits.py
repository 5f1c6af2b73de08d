"""What of a run's spec the vectorized kernel does not model (the event engine runs those)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fyerstrade.backtest.engine import BacktestConfig

__all__ = ["risk_reason"]


def risk_reason(config: BacktestConfig) -> str | None:
    """Why the kernel cannot run ``config``'s risk limits (None: it has none; the session
    guard's daily-loss halt and position count are the event engine's)."""
    risk = config.risk
    if risk.max_daily_loss is None and risk.max_open_positions is None:
        return None
    return "the run has risk limits (max daily loss, max open positions)"
