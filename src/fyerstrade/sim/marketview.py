"""What the simulated exchange knows of its market (:class:`MarketView`): the last traded price
at an instant, the prints in a window, a minute's volume, the day's price band and whether the
session is open. All of it comes from the same :class:`~fyerstrade.sim.ticks.TickSource` as the
data socket's ticks, so orders trade at prices a client can see on the feed.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fyerstrade.calendar import ist_date
from fyerstrade.sim.matching import price_band
from fyerstrade.sim.state import SimState
from fyerstrade.sim.ticks import SimTick, TickSource
from fyerstrade.sim.universe import Kind, SimInstrument


class MarketView:
    """Market facts for the exchange (not thread-safe: the exchange calls it under its lock)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._source = TickSource(state)

    def ltp(self, inst: SimInstrument, at: int) -> SimTick | None:
        """The last print at or before ``at`` on that IST day (None before the first; indices
        never trade)."""
        if inst.kind is Kind.INDEX:
            return None
        return self._source.last_trade(inst, at)

    def ltp_or(self, inst: SimInstrument, fallback: float, at: int) -> float:
        last = self.ltp(inst, at)
        return last.price if last is not None else fallback

    def ticks(self, inst: SimInstrument, start: int, end: int) -> list[SimTick]:
        """The prints with ``start < ts <= end``."""
        return self._source.ticks(inst, start, end)

    def reference_close(self, inst: SimInstrument, day: date) -> float:
        """The price a day's band is built on: the previous close (the first open of the day for
        derivatives, whose previous close the simulator does not keep)."""
        if not inst.is_derivative:
            try:
                return self.state.market.previous_close(inst, day)
            except ValueError:
                pass
        bars = self.state.market.minute_bars(inst, day, self.state.root_of(inst))
        return float(bars.open[0]) if len(bars) else 0.0

    def band(self, inst: SimInstrument, at: int) -> tuple[float, float]:
        """The lowest and highest price accepted for ``inst`` on the session of ``at`` (the next
        session when ``at`` is not on a trading day)."""
        day = ist_date(at)
        if not self.state.cal.is_trading_day(day):
            day = self.state.cal.next_trading_day(day)
        ref = self.reference_close(inst, day)
        return price_band(ref, inst.tick) if ref > 0 else (inst.tick, float("inf"))

    def minute_volume(self, inst: SimInstrument, ts: int) -> int:
        """The volume traded in the minute containing ``ts``."""
        bars, _ = self._source.day(inst, ist_date(ts))
        minute = ts - ts % 60
        i = int(np.searchsorted(bars.ts, minute)) if len(bars) else 0
        return int(bars.volume[i]) if i < len(bars) and int(bars.ts[i]) == minute else 0

    def session_bounds(self, at: int) -> tuple[int, int] | None:
        """``(open, close)`` of the session open at ``at``, or None when the market is shut."""
        session = self.state.cal.session(ist_date(at))
        if session is None or not session.contains(at):
            return None
        return session.open_ts, session.close_ts

    def next_session_close(self, at: int) -> int:
        """The close of the session an order placed at ``at`` works in (today's if it has not
        closed yet, else the next trading day's)."""
        day = ist_date(at)
        session = self.state.cal.session(day)
        if session is not None and at < session.close_ts:
            return session.close_ts
        nxt = self.state.cal.session(self.state.cal.next_trading_day(day))
        return nxt.close_ts if nxt is not None else at
