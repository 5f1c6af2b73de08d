"""The one set of defaults of a trading run: mode, capital, sizing, costs, slippage, session times.

``backtest run``'s options, ``BacktestConfig``, the dashboard's Backtest form and the README all
take their defaults from :data:`RUN_DEFAULTS`, so the CLI's ``--help``, the page and the docs can
never disagree (``tests/backtest/test_defaults.py`` holds them to it). A trading spec that
backtest and live configs extend takes its field defaults from here too.

Why positional: a strategy without a session rule of its own should not be squared off behind
its back; intraday (product INTRADAY, entry window, square-off) is one ``--mode intraday`` away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Literal

Mode = Literal["intraday", "positional"]
MODES: tuple[Mode, ...] = ("positional", "intraday")


@dataclass(frozen=True, slots=True)
class RunDefaults:
    """Defaults shared by every surface that starts a run."""

    mode: Mode = "positional"
    capital: float = 100_000.0
    quantity: int | None = None  # None: size each entry by free margin
    costs: bool = True
    slippage_ticks: float = 0.0
    slippage_bps: float = 0.0
    entry_start: time = time(9, 20)
    entry_end: time = time(14, 30)
    square_off: time = time(15, 15)
    intraday_leverage: float = 5.0

    @property
    def entry_window_text(self) -> str:
        """``09:20-14:30``, the CLI's ``--entry-window`` form."""
        return f"{self.entry_start:%H:%M}-{self.entry_end:%H:%M}"

    @property
    def square_off_text(self) -> str:
        return f"{self.square_off:%H:%M}"


RUN_DEFAULTS = RunDefaults()
