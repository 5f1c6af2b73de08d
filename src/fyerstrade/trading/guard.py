"""The session guard: every session rule of a run in one place — the entry window, the
square-off and the risk limits — for backtests (driven by bars) and live trading (driven by bars
and by the clock), so a live day and a backtest of the same bars decide alike.

* Entry window (intraday): an order that opens or increases a position is accepted only when
  placed inside ``[entry_start, entry_end]`` (IST, inclusive). Exits always are.
* Square-off (intraday), by bars: at the open of the first bar of the day at or after the
  square-off time, or at the close of the day's last bar when no bar reaches it
  (:meth:`square_off_bars` for whole arrays, :meth:`first_late_bar` one bar at a time). By the
  clock (live): at the first tick of each symbol at or after the square-off time
  (:meth:`square_off_due`), and for every symbol a minute later whatever the ticks
  (:meth:`square_off_overdue`).
* Risk limits (:class:`~fyerstrade.trading.risk.RiskGate`): at most ``max_open_positions``
  symbols with a position or a working entry; and the day's loss. After every timestamp the
  engine marks the account to the closes and asks :meth:`check_loss`; at the limit the guard
  halts: every working order is cancelled, every position is closed with a market order (the
  next bar's open, or live the next tick after the bar), and no entry is accepted until the
  next trading day (:meth:`new_day`: the day's starting equity is the equity at the close of
  the previous timestamp).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from fyerstrade.calendar import to_ist
from fyerstrade.domain import DAY_SECONDS, IST_OFFSET
from fyerstrade.trading.risk import RiskGate
from fyerstrade.trading.session import SessionRules, seconds_of_day

__all__ = ["SessionGuard"]


class SessionGuard:
    """See the module docstring."""

    __slots__ = ("_day", "_day_equity", "_intraday", "_sq_sod", "_squared", "risk", "rules")

    def __init__(self, rules: SessionRules | None = None, risk: RiskGate | None = None) -> None:
        self.rules = rules or SessionRules()
        self.risk = risk or RiskGate()
        self._sq_sod = seconds_of_day(self.rules.square_off)
        self._intraday = self.rules.intraday
        self._day = -1  # IST day number of the last timestamp (-1: none yet)
        self._day_equity = 0.0  # equity at the close of the last timestamp
        self._squared: set[tuple[str, int]] = set()  # (symbol, day) squared off by the clock

    # ---- what kind of day --------------------------------------------------------------------
    @property
    def intraday(self) -> bool:
        return self.rules.intraday

    @property
    def watches_loss(self) -> bool:
        """Does every timestamp need the account marked to market (a daily-loss limit)?"""
        return self.risk.max_daily_loss is not None

    @property
    def halted(self) -> str:
        """Why entries are stopped for the day ("" when they are not)."""
        return self.risk.halted

    # ---- orders ------------------------------------------------------------------------------
    def entry_reason(
        self, symbol: str, now: int, exposed: Callable[[], Iterable[str]], *, limits: bool
    ) -> str | None:
        """None when an order opening exposure in ``symbol`` may be placed at ``now``; else
        why not. ``limits``: check the risk limits too (not for a reduce-only order);
        ``exposed()``: the symbols holding a position or a working entry order."""
        if self._intraday:  # (a positional run has no window: skip asking per order)
            reason = self.window_reason(now)
            if reason is not None:
                return reason
        if limits and (self.risk.halted or self.risk.max_open_positions is not None):
            return self.risk.entry_reason(symbol, exposed())
        return None

    def window_reason(self, now: int) -> str | None:
        """Why an order opening exposure cannot be placed at ``now`` because of the intraday
        entry window (None: it can)."""
        rules = self.rules
        if rules.entry_allowed(now):
            return None
        at = to_ist(now).strftime("%H:%M")
        return f"entry at {at} IST is outside the intraday entry window {rules.entry_window_text()}"

    # ---- square-off by bars --------------------------------------------------------------------
    def square_off_bars(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the bars (open times ``ts``) to square off at: (at their open, at their
        close). Empty when positional."""
        return self.rules.square_off_bars(ts)

    def first_late_bar(self, prev_ts: int | None, ts: int) -> bool:
        """Is the bar opened at ``ts`` (after one opened at ``prev_ts``) the first of its day at
        or after the square-off time? (One bar at a time, as a live bar source has them.)"""
        return self.rules.first_late_bar(prev_ts, ts)

    # ---- square-off by the clock ---------------------------------------------------------------
    def square_off_time(self, ts: int) -> int:
        """The square-off instant of the IST day of ``ts`` (epoch seconds)."""
        day = (ts + IST_OFFSET) // DAY_SECONDS
        return day * DAY_SECONDS - IST_OFFSET + self._sq_sod

    def square_off_due(self, symbol: str, ts: int) -> bool:
        """True once per symbol and day: for its first tick at or after the square-off time."""
        if not self.rules.intraday or ts < self.square_off_time(ts):
            return False
        key = (symbol, (ts + IST_OFFSET) // DAY_SECONDS)
        if key in self._squared:
            return False
        self._squared.add(key)
        return True

    def square_off_overdue(self, now: int) -> bool:
        """True from a minute after the square-off time: every intraday position closes now,
        whether or not its symbol ticked."""
        return self.rules.intraday and now >= self.square_off_time(now) + 60

    # ---- the day's loss ------------------------------------------------------------------------
    def begin(self, equity: float) -> None:
        """The account before the first timestamp (a run's start, a live session's start): the
        day's loss counts from it."""
        self._day_equity = equity
        self.risk.new_day(equity)

    def new_day(self, now: int) -> bool:
        """Called at each timestamp (``now``: its close) before anything trades: True when it
        opens a new IST day, which starts from the equity at the previous close and clears a
        halt."""
        day = (now + IST_OFFSET) // DAY_SECONDS
        if day == self._day:
            return False
        self._day = day
        self.risk.new_day(self._day_equity)
        return True

    def check_loss(self, equity: float) -> bool:
        """After a timestamp, with the account marked to its closes: True when the day's loss
        has just reached the limit (the engine then halts)."""
        self._day_equity = equity
        return self.risk.check_loss(equity)
