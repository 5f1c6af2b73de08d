"""Clocks: where the trading core gets "now" from (never ``datetime.now()``).

A backtest hands the engine a :class:`SimulatedClock` that the replay advances to each bar's close
time; live trading hands it a :class:`WallClock`. The engine and strategies only call ``now()``.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """The current instant as epoch seconds (UTC)."""

    def now(self) -> int: ...


class SimulatedClock:
    """A clock that moves only when told to (by the bar replay)."""

    __slots__ = ("ts",)

    def __init__(self, ts: int = 0) -> None:
        self.ts = ts

    def now(self) -> int:
        return self.ts

    def advance_to(self, ts: int) -> None:
        """Move to ``ts``; time never goes backwards."""
        if ts < self.ts:
            raise ValueError(f"clock cannot go back from {self.ts} to {ts}")
        self.ts = ts


class WallClock:
    """The machine's clock (live trading)."""

    __slots__ = ()

    def now(self) -> int:
        return int(time.time())
