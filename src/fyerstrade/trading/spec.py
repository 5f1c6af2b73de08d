"""The trading spec: what defines a run for the trading core, typed and strict.

:class:`RiskLimits` are the account limits the session guard enforces (``trading/guard.py``),
the same for a backtest (``--max-daily-loss``, ``--max-positions``) and for live trading (the
live config's ``risk:``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RiskLimits", "StrictModel"]


class StrictModel(BaseModel):
    """Frozen, rejects unknown keys (naming them), no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RiskLimits(StrictModel):
    """Limits the engine enforces on the account."""

    max_daily_loss: float | None = Field(
        default=None, gt=0, description="Rupees lost today (realized + unrealized) that stop it."
    )
    max_open_positions: int | None = Field(
        default=None, ge=1, description="Open positions beyond which no new entry is accepted."
    )
