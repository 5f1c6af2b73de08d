"""Account risk limits the order manager enforces: maximum daily loss and maximum open positions.

:class:`RiskGate` is handed to the :class:`~fyerstrade.trading.engine.TradingEngine` (live
trading does; a backtest may). It refuses an order that opens or increases exposure when

* the account is *halted*: the day's loss reached ``max_daily_loss`` (:meth:`check_loss`, called
  by the bar source after marking to market; the caller then squares everything off), or
* ``max_open_positions`` symbols already hold a position or a working entry order.

Exits are never refused. A new trading day (:meth:`new_day`) clears the halt and takes the day's
starting equity.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["RiskGate"]


class RiskGate:
    def __init__(
        self, *, max_daily_loss: float | None = None, max_open_positions: int | None = None
    ) -> None:
        self.max_daily_loss = max_daily_loss
        self.max_open_positions = max_open_positions
        self.day_start_equity = 0.0
        self.halted = ""  # why entries are stopped for the day ("" = not halted)

    def new_day(self, equity: float) -> None:
        self.day_start_equity = equity
        self.halted = ""

    def check_loss(self, equity: float) -> bool:
        """Halt when the day's loss reached the limit; True only at the moment it happens."""
        if self.halted or self.max_daily_loss is None:
            return False
        loss = self.day_start_equity - equity
        if loss >= self.max_daily_loss:
            self.halted = (
                f"max daily loss reached: lost ₹{loss:,.2f} today "
                f"(limit ₹{self.max_daily_loss:,.2f})"
            )
            return True
        return False

    def entry_reason(self, symbol: str, exposed: Iterable[str]) -> str | None:
        """None when a new entry in ``symbol`` is allowed; ``exposed`` are the symbols holding a
        position or a working entry order."""
        if self.halted:
            return f"risk: {self.halted}; no new entries today"
        limit = self.max_open_positions
        if limit is not None:
            others = {s for s in exposed if s != symbol}
            if len(others) >= limit:
                return f"risk: {len(others)} open positions, the limit is {limit}"
        return None
