"""The simulated exchange's pure rules: protection prices, bands, triggers, minute caps, margin,
and the account's position arithmetic."""

from __future__ import annotations

import pytest

from fyerstrade.sim.account import Account, SimPosition, margin_for
from fyerstrade.sim.matching import (
    indian_amount,
    marketable,
    minute_cap,
    mpp_band,
    on_tick,
    price_band,
    protection_price,
    stop_triggered,
    stop_valid,
)
from fyerstrade.sim.universe import Kind, SimInstrument

SBIN = SimInstrument("NSE:SBIN-EQ", "STATE BANK", Kind.EQUITY, 3045, 0.1, 1)
OPT = SimInstrument("NSE:NIFTY26DEC26000CE", "NIFTY CE", Kind.OPTION, 9, 0.05, 65, strike=26000)


@pytest.mark.parametrize(
    ("kind", "ltp", "band"),
    [
        (Kind.FUTURE, 9_000.0, 50.0),
        (Kind.FUTURE, 26_000.0, 130.0),
        (Kind.OPTION, 8.0, 1.5),
        (Kind.OPTION, 15.0, 2.25),
        (Kind.OPTION, 200.0, 20.0),
        (Kind.EQUITY, 1_000.0, 20.0),
    ],
)
def test_mpp_bands(kind: Kind, ltp: float, band: float) -> None:
    assert mpp_band(kind, ltp) == pytest.approx(band)


def test_protection_price_is_on_the_tick_away_from_the_market_inside_the_band() -> None:
    limits = (800.0, 1200.0)
    assert protection_price(1, 1000.0, 20.0, 0.1, limits) == 1020.0
    assert protection_price(-1, 1000.0, 20.0, 0.1, limits) == 980.0
    assert protection_price(1, 1000.0, 0.07, 0.05, limits) == 1000.05  # floor to the tick
    assert protection_price(-1, 1000.0, 0.07, 0.05, limits) == 999.95
    assert protection_price(1, 1190.0, 20.0, 0.1, limits) == 1200.0  # clamped to the band
    assert protection_price(-1, 810.0, 20.0, 0.1, limits) == 800.0


def test_price_band_and_tick_grid() -> None:
    assert price_band(1000.0, 0.1) == (800.0, 1200.0)
    assert price_band(1071.37, 0.05) == (857.10, 1285.60)
    assert on_tick(950.1, 0.1) and on_tick(1000.05, 0.05) and not on_tick(950.03, 0.1)


def test_marketable_triggers_and_stop_validity() -> None:
    assert marketable(1, 100.0, 100.0) and marketable(1, 100.0, 99.9)
    assert not marketable(1, 100.0, 100.1)
    assert marketable(-1, 100.0, 100.1) and not marketable(-1, 100.0, 99.9)
    assert stop_triggered(1, 100.0, 100.0) and not stop_triggered(1, 100.0, 99.95)
    assert stop_triggered(-1, 100.0, 99.0) and not stop_triggered(-1, 100.0, 100.05)
    assert stop_valid(1, 101.0, 100.0) and not stop_valid(1, 99.0, 100.0)
    assert stop_valid(-1, 99.0, 100.0) and not stop_valid(-1, 101.0, 100.0)


def test_minute_cap_in_whole_lots() -> None:
    assert minute_cap(12_345, 0.1, 1) == 1_234
    assert minute_cap(12_345, 0.1, 65) == 1_170
    assert minute_cap(10, 0.1, 65) == 65  # at least one lot
    assert minute_cap(0, 0.1, 1) == 1


def test_indian_grouping() -> None:
    assert indian_amount(525690.2) == "5,25,690.20"
    assert indian_amount(1_000_000) == "10,00,000.00"
    assert indian_amount(305.36) == "305.36"
    assert indian_amount(-12345.678) == "-12,345.68"


def test_position_arithmetic() -> None:
    p = SimPosition(SBIN, "INTRADAY")
    p.apply(1, 10, 100.0)
    p.apply(1, 10, 110.0)
    assert (p.net_qty, p.net_avg) == (20, 105.0)
    p.apply(-1, 5, 120.0)
    assert (p.net_qty, p.net_avg, p.realized) == (15, 105.0, 75.0)
    p.apply(-1, 25, 100.0)  # closes 15, opens 10 short at 100
    assert (p.net_qty, p.net_avg, p.realized) == (-10, 100.0, 0.0)
    assert p.side == -1 and p.unrealized(90.0) == 100.0
    p.apply(1, 10, 95.0)
    assert (p.net_qty, p.realized, p.side) == (0, 50.0, 0)
    assert (p.buy_qty, p.sell_qty) == (30, 30)


def test_margin_only_for_what_grows_a_position() -> None:
    acct = Account(100_000.0)
    acct.position(SBIN, "INTRADAY").apply(1, 100, 1000.0)
    assert acct.order_margin(SBIN, "INTRADAY", -1, 60, 1000.0, 0) == 0.0
    assert acct.order_margin(SBIN, "INTRADAY", -1, 150, 1000.0, 0) == 50 * 1000.0 * 0.2
    assert acct.order_margin(SBIN, "INTRADAY", -1, 60, 1000.0, -60) == 20 * 1000.0 * 0.2
    assert acct.order_margin(SBIN, "CNC", 1, 10, 1000.0, 0) == 10_000.0
    assert margin_for(OPT, "MARGIN", 65, 200.0, short=False) == 13_000.0
    assert margin_for(OPT, "MARGIN", 65, 200.0, short=True) == 65 * 26000 * 0.15
    assert acct.position_margin() == 100 * 1000.0 * 0.2
    assert acct.available(0.0, -500.0) == 100_000.0 - 20_000.0 - 500.0


def test_conversion_moves_quantity_at_cost() -> None:
    acct = Account(1_000_000.0)
    intraday = acct.position(SBIN, "INTRADAY")
    intraday.apply(1, 10, 100.0)
    acct.convert(intraday, 4, "CNC")
    cnc = acct.position(SBIN, "CNC")
    assert (intraday.net_qty, cnc.net_qty, cnc.net_avg) == (6, 4, 100.0)
    assert acct.realized == 0.0
