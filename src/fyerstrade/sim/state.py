"""Everything a running simulator holds (:class:`SimState`), shared by its HTTP handlers."""

from __future__ import annotations

import threading
from datetime import date

from fyerstrade.calendar import NSECalendar, get_calendar, ist_date
from fyerstrade.sim.config import SimConfig
from fyerstrade.sim.faults import Faults
from fyerstrade.sim.limits import SlidingWindowLimiter
from fyerstrade.sim.market import SyntheticMarket
from fyerstrade.sim.stats import SimStats
from fyerstrade.sim.tokens import signing_key
from fyerstrade.sim.universe import ROOTS, SimInstrument, Universe, build_universe

_ROOTS = {r.symbol: r for r in ROOTS}


class SimState:
    """Config, market, counters, fault switches, rate limiter and token bookkeeping."""

    def __init__(self, config: SimConfig, cal: NSECalendar | None = None) -> None:
        self.config = config
        # The simulator keeps serving past the last published holiday list (as plain weekdays).
        self.cal = cal or get_calendar(assume_weekdays=True)
        self.market = SyntheticMarket(config.seed, self.cal)
        self.stats = SimStats()
        self.faults = Faults()
        self.limiter = SlidingWindowLimiter(config.per_second, config.per_minute)
        self.key = signing_key(config.app_id, config.secret)
        self._lock = threading.Lock()
        self._used_codes: set[str] = set()
        self._revoked: set[str] = set()
        self._universes: dict[date, Universe] = {}

    def now(self) -> int:
        return self.config.now()

    # ------------------------------------------------------------------ tokens

    def use_code(self, jti: str) -> bool:
        """Mark an auth code used; False if it was used before (codes are single-use)."""
        with self._lock:
            if jti in self._used_codes:
                return False
            self._used_codes.add(jti)
            return True

    def revoke(self, token_id: str) -> None:
        with self._lock:
            self._revoked.add(token_id)

    def is_revoked(self, token_id: str) -> bool:
        with self._lock:
            return token_id in self._revoked

    # ------------------------------------------------------------------ instruments

    def universe(self, day: date | None = None) -> Universe:
        """The instruments listed on ``day`` (default: the sim clock's IST date)."""
        d = day or ist_date(self.now())
        with self._lock:
            cached = self._universes.get(d)
        if cached is not None:
            return cached
        ref = d if self.cal.is_trading_day(d) else self.cal.next_trading_day(d)

        def spot(symbol: str) -> float:
            return self.market.previous_close(_ROOTS[symbol], ref)

        built = build_universe(d, self.cal, spot)
        with self._lock:
            return self._universes.setdefault(d, built)

    def instrument(self, symbol: str) -> SimInstrument | None:
        return self.universe().get(symbol)

    def root_of(self, inst: SimInstrument) -> SimInstrument:
        """The instrument a symbol's prices come from (itself for equities and indices)."""
        return _ROOTS[inst.root] if inst.is_derivative else inst
