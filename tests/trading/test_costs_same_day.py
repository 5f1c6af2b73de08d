"""A same-day CNC buy and sell is charged as intraday (issue 13.6; nse-market.md §5.1), worked
to the paisa against §5.5, in the cost model and through a backtest.

Worked examples (GST on brokerage + exchange charge, §5.5 variant (a)):

* CNC buy 100 @ ₹1,000 at 10:00, CNC sell 100 @ ₹1,010 at 14:00 the same day: the intraday row
  of §5.5 — brokerage 20 + 20, STT 0.025% of the sell 25.25, exchange 5.9697, IPFT 0.2010,
  SEBI 0.2010, stamp 0.003% of the buy 3.00, GST 8.2745, no DP: **₹82.90** (delivery rates
  would have charged 20 + 20 brokerage, STT 0.1% both sides 201.00, stamp 15.00, DP 14.75:
  ₹304.4 — the overcharge this fixes).
* The same buy sold the next day stays delivery: §5.5's delivery row (10 @ 2,000 → 2,100)
  is **₹107.47** with the ₹14.75 DP charge.
* Buy 100 today and sell 150 today (50 from holdings): 100 are intraday, 50 delivery (with DP).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fyerstrade.domain import Instrument, ProductType, Side
from fyerstrade.trading.costs import Charges, FyersCostModel
from plugins.trading import run_table

IST = ZoneInfo("Asia/Kolkata")
RELIANCE = Instrument("NSE:RELIANCE-EQ", isin="INE002A01018")
CNC, INTRADAY = ProductType.CNC, ProductType.INTRADAY
BUY, SELL = Side.BUY, Side.SELL


def ist(d: int, hh: int, mm: int = 0) -> int:
    return int(datetime(2026, 6, d, hh, mm, tzinfo=IST).timestamp())


def test_same_day_cnc_round_trip_is_charged_as_intraday_to_the_paisa() -> None:
    model = FyersCostModel()
    buy = model.charges(RELIANCE, CNC, BUY, 100, 1000.0, ist(15, 10))
    sell = model.charges(RELIANCE, CNC, SELL, 100, 1010.0, ist(15, 14))
    total = buy + sell
    intraday = FyersCostModel()
    expected = intraday.charges(RELIANCE, INTRADAY, BUY, 100, 1000.0, ist(15, 10)) + (
        intraday.charges(RELIANCE, INTRADAY, SELL, 100, 1010.0, ist(15, 14))
    )
    for line in ("brokerage", "stt", "exchange", "ipft", "sebi", "stamp", "gst", "dp"):
        assert getattr(total, line) == pytest.approx(getattr(expected, line), abs=1e-9), line
    assert round(total.total, 2) == 82.90 and total.dp == 0.0 and total.stt == 25.25
    # the buy was booked at delivery rates (nobody knew yet); the sell carries the credit
    assert buy.stt == pytest.approx(100.0) and sell.total < 0


def test_a_cnc_buy_sold_the_next_day_stays_delivery() -> None:
    model = FyersCostModel()
    total = model.charges(RELIANCE, CNC, BUY, 10, 2000.0, ist(15, 10)) + model.charges(
        RELIANCE, CNC, SELL, 10, 2100.0, ist(16, 10)
    )
    assert round(total.total, 2) == 107.47 and total.dp == pytest.approx(14.75)


def test_only_the_matched_quantity_is_intraday() -> None:
    model = FyersCostModel()
    buy = model.charges(RELIANCE, CNC, BUY, 100, 1000.0, ist(15, 10))
    sell = model.charges(RELIANCE, CNC, SELL, 150, 1010.0, ist(15, 14))
    ref = FyersCostModel()
    expected = (
        ref.charges(RELIANCE, INTRADAY, BUY, 100, 1000.0, ist(15, 10))
        + ref.charges(RELIANCE, INTRADAY, SELL, 100, 1010.0, ist(15, 14))
        + ref.charges(RELIANCE, CNC, SELL, 50, 1010.0, ist(15, 14))  # from holdings: delivery
    )
    assert (buy + sell).total == pytest.approx(expected.total, abs=1e-9)
    assert (buy + sell).dp == pytest.approx(14.75)


def test_selling_holdings_and_buying_back_the_same_day_refunds_the_dp_charge() -> None:
    model = FyersCostModel()
    sell = model.charges(RELIANCE, CNC, SELL, 50, 1010.0, ist(15, 10))
    assert sell.dp == pytest.approx(14.75)  # looks like a delivery sell, for now
    buy = model.charges(RELIANCE, CNC, BUY, 50, 1000.0, ist(15, 14))
    ref = FyersCostModel()
    expected = ref.charges(RELIANCE, INTRADAY, SELL, 50, 1010.0, ist(15, 10)) + ref.charges(
        RELIANCE, INTRADAY, BUY, 50, 1000.0, ist(15, 14)
    )
    assert (sell + buy).total == pytest.approx(expected.total, abs=1e-9)
    assert (sell + buy).dp == 0.0
    # a later delivery sell that day pays the DP charge again
    again = model.charges(RELIANCE, CNC, SELL, 10, 1020.0, ist(15, 15))
    assert again.dp == pytest.approx(14.75)


def test_days_and_stocks_do_not_mix() -> None:
    tcs = Instrument("NSE:TCS-EQ", isin="INE467B01029")
    model = FyersCostModel()
    model.charges(RELIANCE, CNC, BUY, 10, 2000.0, ist(15, 10))
    other = model.charges(tcs, CNC, SELL, 10, 3000.0, ist(15, 11))
    assert other.stt == pytest.approx(30.0)  # TCS sold from holdings: delivery STT
    model.reset()
    late = model.charges(RELIANCE, CNC, SELL, 10, 2000.0, ist(15, 12))
    assert late.stt == pytest.approx(20.0)  # reset forgets the buy


def test_charges_arithmetic() -> None:
    a = Charges(brokerage=20.0, stt=10.0, dp=14.75)
    assert (a - a).total == 0.0 and a.scaled(0.5).stt == 5.0 and (a + a).dp == 29.5


def test_a_backtest_round_trip_in_cnc_within_a_day_costs_intraday_charges() -> None:
    rows = [("10:00", 1000, 1000, 1000, 1000), ("10:05", 1000, 1000, 1000, 1000),
            ("10:10", 1010, 1010, 1010, 1010), ("10:15", 1010, 1010, 1010, 1010)]  # fmt: skip
    result = run_table(
        rows,
        {"10:00": [lambda ctx: ctx.buy(ctx.symbols[0], 100)],
         "10:05": [lambda ctx: ctx.close(ctx.symbols[0])]},
        instrument=RELIANCE, symbol=RELIANCE.symbol, costs=True, capital=500_000.0,
    )  # fmt: skip
    assert [f.product for f in result.fills] == [CNC, CNC]
    (trip,) = result.trades
    ref = FyersCostModel()
    buy, sell = result.fills
    intraday = (
        ref.charges(RELIANCE, INTRADAY, BUY, 100, buy.price, buy.ts).total
        + ref.charges(RELIANCE, INTRADAY, SELL, 100, sell.price, sell.ts).total
    )
    assert trip.costs == pytest.approx(intraday, abs=1e-9)
    assert trip.pnl == pytest.approx(100 * 10 - trip.costs)


def test_a_run_starts_with_no_cnc_orders_or_dp_charges_of_an_earlier_run() -> None:
    # a model that has charged a CNC buy (unmatched) and a delivery sell (DP paid) today
    used = FyersCostModel()
    used.charges(RELIANCE, CNC, BUY, 100, 1000.0, ist(15, 10))
    used.charges(RELIANCE, CNC, SELL, 10, 2000.0, ist(14, 10))
    fresh = used.for_run()
    new = FyersCostModel()
    # the next run's sell is not matched against the earlier run's buy: delivery, as for a
    # model that never charged anything, DP included
    sell = fresh.charges(RELIANCE, CNC, SELL, 100, 1010.0, ist(15, 14))
    assert sell == new.charges(RELIANCE, CNC, SELL, 100, 1010.0, ist(15, 14))
    assert sell.dp > 0
    again = fresh.charges(RELIANCE, CNC, SELL, 10, 2000.0, ist(14, 11))
    assert again.dp == new.for_run().charges(RELIANCE, CNC, SELL, 10, 2000.0, ist(14, 11)).dp > 0
    # and the model it came from still has its own day: its sell matches the buy
    matched = used.charges(RELIANCE, CNC, SELL, 100, 1010.0, ist(15, 14))
    assert matched.dp == 0 and matched.total < sell.total
