"""The synthetic market as a pure function: determinism, shape, continuity, derivatives."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from fyerstrade.calendar import get_calendar
from fyerstrade.domain import Resolution
from fyerstrade.sim.market import SyntheticMarket, black_scholes
from fyerstrade.sim.universe import ROOTS, Kind

CAL = get_calendar(assume_weekdays=True)
SBIN = next(r for r in ROOTS if r.symbol == "NSE:SBIN-EQ")
IDEA = next(r for r in ROOTS if r.symbol == "NSE:IDEA-EQ")


def test_a_day_does_not_depend_on_what_was_generated_before() -> None:
    d = date(2024, 3, 14)
    fresh = SyntheticMarket(42, CAL).minute_bars(SBIN, d)
    busy = SyntheticMarket(42, CAL)
    for other in CAL.trading_days(date(2023, 12, 1), date(2024, 2, 1)):
        busy.minute_bars(IDEA, other)
    again = busy.minute_bars(SBIN, d)
    for a, b in zip(fresh, again, strict=True):
        assert np.array_equal(a, b)


def test_year_boundary_is_continuous() -> None:
    market = SyntheticMarket(42, CAL)
    last_2024 = CAL.previous_trading_day(date(2025, 1, 1))
    first_2025 = CAL.next_trading_day(date(2024, 12, 31))
    assert market.previous_close(SBIN, first_2025) == pytest.approx(
        market.close_on(SBIN, last_2024)
    )


def test_intraday_shape_busier_open_and_close_and_more_volatile_open() -> None:
    market = SyntheticMarket(3, CAL)
    days = CAL.trading_days(date(2025, 3, 1), date(2025, 5, 31))
    vols = np.array(
        [market.minute_bars(SBIN, d).volume for d in days if CAL.session(d).minutes == 375]
    )
    ranges = np.array(
        [
            (b.high - b.low) / b.close
            for b in (market.minute_bars(SBIN, d) for d in days)
            if len(b) == 375
        ]
    )
    mean_vol = vols.mean(axis=0)
    assert mean_vol[:15].mean() > 1.5 * mean_vol[150:225].mean()
    assert mean_vol[-15:].mean() > 1.5 * mean_vol[150:225].mean()
    mean_range = ranges.mean(axis=0)
    assert mean_range[:15].mean() > 1.2 * mean_range[150:225].mean()


def test_low_priced_stock_stays_positive_on_its_tick() -> None:
    market = SyntheticMarket(42, CAL)
    for d in CAL.trading_days(date(2025, 1, 1), date(2025, 2, 28)):
        bars = market.minute_bars(IDEA, d)
        assert (bars.low >= 0.01).all()
        assert np.allclose(np.round(bars.close * 100), bars.close * 100)


def test_resolutions_other_than_one_minute_follow_the_calendar() -> None:
    market = SyntheticMarket(42, CAL)
    d = date(2025, 6, 10)
    for res in (Resolution.M3, Resolution.M15, Resolution.M60, Resolution.M240):
        bars = market.bars(SBIN, res, d)
        assert bars.ts.tolist() == CAL.bar_times(d, res).tolist()
        assert bars.volume.sum() == market.minute_bars(SBIN, d).volume.sum()


def test_black_scholes_put_call_parity() -> None:
    spot = np.array([24000.0, 25000.0, 26000.0])
    tau = np.array([0.1, 0.1, 0.1])
    call = black_scholes(spot, 25000.0, tau, 0.15, call=True)
    put = black_scholes(spot, 25000.0, tau, 0.15, call=False)
    assert np.allclose(call - put, spot - 25000.0 * np.exp(-0.065 * 0.1), atol=1e-3)


def test_universe_roots() -> None:
    assert 50 <= sum(r.kind is Kind.EQUITY for r in ROOTS) <= 55
    assert {r.symbol for r in ROOTS if r.kind is Kind.INDEX} == {
        "NSE:NIFTY50-INDEX",
        "NSE:NIFTYBANK-INDEX",
    }
    assert len({r.token for r in ROOTS}) == len(ROOTS)
