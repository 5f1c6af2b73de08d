"""Session rules: the intraday entry window and square-off, positional carry.

Times are IST wall-clock times, compared with a bar's IST time of day (IST is UTC+05:30 with no
DST, so the conversion is arithmetic on epoch seconds and needs no per-bar datetime).

* Intraday mode: an order that opens or increases a position is accepted only when it is placed
  (the close time of the bar the strategy is deciding on) inside ``[entry_start, entry_end]``,
  default 09:20–14:30, and before the square-off time when ``entry_end`` is not (an entry at
  or after it would open a position the day's square-off has already passed). Exits are always
  accepted.
* Square-off: every INTRADAY position is closed at the **open of the first bar of the day whose
  open time is at or after** ``square_off`` (default 15:15), with a market order (plus slippage),
  before that bar's other orders; open INTRADAY orders of the symbol are cancelled, those the
  strategy placed at the close just before included (at the square-off instant the strategy
  decides first, and what it placed never trades; a live source cancels them right after the
  strategy, before a real broker is sent anything: ``TradingEngine.on_bars``). When a day has
  no such bar (e.g. the data stop early, or 240-minute bars), the position is closed at the
  **close of that day's last bar**, after the strategy has seen it.
* Positional mode: positions carry overnight; nothing is squared off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import numpy as np

from fyerstrade.domain import DAY_SECONDS, IST_OFFSET
from fyerstrade.trading.defaults import RUN_DEFAULTS, Mode

DAY = DAY_SECONDS

DEFAULT_ENTRY_START = RUN_DEFAULTS.entry_start
DEFAULT_ENTRY_END = RUN_DEFAULTS.entry_end
DEFAULT_SQUARE_OFF = RUN_DEFAULTS.square_off


def seconds_of_day(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def ist_seconds_of_day(ts: int) -> int:
    """Seconds since IST midnight of the epoch instant ``ts``."""
    return (ts + IST_OFFSET) % DAY


def ist_day_number(ts: np.ndarray) -> np.ndarray:
    """IST calendar day of each timestamp as days since 1970-01-01 (vectorized)."""
    return (ts.astype(np.int64) + IST_OFFSET) // DAY


@dataclass(frozen=True, slots=True)
class SessionRules:
    mode: Mode = RUN_DEFAULTS.mode
    entry_start: time = DEFAULT_ENTRY_START
    entry_end: time = DEFAULT_ENTRY_END
    square_off: time = DEFAULT_SQUARE_OFF

    @property
    def intraday(self) -> bool:
        return self.mode == "intraday"

    def entry_bounds(self) -> tuple[int, int]:
        """The intraday entry window as seconds of the IST day, both ends included:
        ``[entry_start, entry_end]``, ended before the square-off time when that comes first
        (an entry at or after it would open a position the day's square-off has passed: live,
        closed at whatever moment the clock is next looked at; in a backtest, carried)."""
        end = min(seconds_of_day(self.entry_end), seconds_of_day(self.square_off) - 1)
        return seconds_of_day(self.entry_start), end

    def entry_allowed(self, ts: int) -> bool:
        """May an order placed at ``ts`` open or increase a position?"""
        if not self.intraday:
            return True
        first, last = self.entry_bounds()
        return first <= ist_seconds_of_day(ts) <= last

    def entry_window_text(self) -> str:
        text = f"{self.entry_start:%H:%M}–{self.entry_end:%H:%M} IST"
        if self.square_off <= self.entry_end:
            text += f", ending before the {self.square_off:%H:%M} square-off"
        return text

    def first_late_bar(self, prev_ts: int | None, ts: int) -> bool:
        """Is the bar opened at ``ts`` (after the bar opened at ``prev_ts``, if any) the first
        of its day at or after the square-off time? The one-bar form of
        :meth:`square_off_bars`' "at their open", for a live bar source."""
        if not self.intraday:
            return False
        sq = seconds_of_day(self.square_off)
        if (ts + IST_OFFSET) % DAY < sq:
            return False
        if prev_ts is None or (prev_ts + IST_OFFSET) // DAY != (ts + IST_OFFSET) // DAY:
            return True
        return (prev_ts + IST_OFFSET) % DAY < sq

    def square_off_bars(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices of bars to square off at: (at their open, at their close). Empty when
        positional. ``ts`` are bar open times, ascending."""
        empty = np.empty(0, dtype=np.int64)
        if not self.intraday or len(ts) == 0:
            return empty, empty
        day = ist_day_number(ts)
        sod = (ts.astype(np.int64) + IST_OFFSET) % DAY
        late = sod >= seconds_of_day(self.square_off)
        # first late bar of each day
        prev_day = np.concatenate(([day[0] - 1], day[:-1]))
        prev_late = np.concatenate(([False], late[:-1])) & (prev_day == day)
        at_open = np.flatnonzero(late & ~prev_late)
        # days with no late bar: their last bar, at its close
        last_of_day = np.flatnonzero(np.concatenate((day[1:] != day[:-1], [True])))
        days_with_late = np.unique(day[late])
        no_late = ~np.isin(day[last_of_day], days_with_late)
        at_close = last_of_day[no_late]
        return at_open.astype(np.int64), at_close.astype(np.int64)
