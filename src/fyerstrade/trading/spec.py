"""The trading spec: what defines a run for the trading core, typed and strict.

:class:`TradingSpec` holds what a backtest and a live session share — strategy and parameters,
symbols, resolution, mode, money, costs, slippage, session times and risk limits — with the
defaults of :data:`~fyerstrade.trading.defaults.RUN_DEFAULTS`. ``BacktestConfig``
(``backtest/engine.py``: adds the dates and the product) and ``LiveConfig`` (``live/config.py``:
adds the broker, the schedule, notifications, …) extend it, and
:func:`~fyerstrade.trading.assembly.build_engine` builds the one trading engine from it for
both runners.

Strict: an unknown key is refused naming it, NaN and infinity are refused, a value is checked
when assigned too. :class:`RiskLimits` are the account limits the session guard enforces
(``trading/guard.py``): ``--max-daily-loss``/``--max-positions`` in a backtest, ``risk:`` in the
live config.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fyerstrade.domain import Resolution
from fyerstrade.trading.defaults import RUN_DEFAULTS, Mode

__all__ = ["RiskLimits", "StrictModel", "TradingSpec", "spec_problem"]


class StrictModel(BaseModel):
    """Rejects unknown keys (naming them), NaN and infinity; checks values when assigned."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)


class RiskLimits(StrictModel):
    """Limits the engine enforces on the account."""

    max_daily_loss: float | None = Field(
        default=None, gt=0, description="Rupees lost today (realized + unrealized) that stop it."
    )
    max_open_positions: int | None = Field(
        default=None, ge=1, description="Open positions beyond which no new entry is accepted."
    )


class TradingSpec(StrictModel):
    """What the trading core needs to trade a strategy (see the module docstring)."""

    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)
    symbols: list[str]
    resolution: Resolution
    mode: Mode = RUN_DEFAULTS.mode
    capital: float = Field(default=RUN_DEFAULTS.capital, gt=0)
    quantity: int | None = Field(default=RUN_DEFAULTS.quantity, ge=1)  # None: by free margin
    costs: bool = RUN_DEFAULTS.costs
    slippage_ticks: float = Field(default=RUN_DEFAULTS.slippage_ticks, ge=0)
    slippage_bps: float = Field(default=RUN_DEFAULTS.slippage_bps, ge=0)
    entry_start: time = RUN_DEFAULTS.entry_start
    entry_end: time = RUN_DEFAULTS.entry_end
    square_off: time = RUN_DEFAULTS.square_off
    intraday_leverage: float = Field(default=RUN_DEFAULTS.intraday_leverage, ge=1)
    risk: RiskLimits = Field(default_factory=RiskLimits)

    @field_validator("resolution", mode="before")
    @classmethod
    def _resolution(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v  # YAML's resolution: 5

    @field_validator("entry_start", "entry_end", "square_off", mode="before")
    @classmethod
    def _hhmm(cls, v: Any) -> Any:
        if isinstance(v, int) and 0 <= v < 24 * 60:  # YAML reads 09:20 as 560 (sexagesimal)
            return time(v // 60, v % 60)
        return v

    @model_validator(mode="after")
    def _window(self) -> TradingSpec:
        if self.entry_end < self.entry_start:
            raise ValueError(
                f"entry_end {self.entry_end:%H:%M} is before entry_start {self.entry_start:%H:%M}"
            )
        return self


def spec_problem(exc: ValidationError) -> str:
    """The first problem of ``exc`` as one line naming the key: ``capital: Input should be
    greater than 0``, ``capital must be a finite number, got nan``."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err.get("loc") or ())
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        return f"unknown key '{key}'"
    if err.get("type") == "finite_number":
        return f"{key.replace('_', ' ')} must be a finite number, got {err.get('input')}"
    return f"{key}: {msg}" if key else msg
