"""The Fyers/NSE cost model against reference/nse-market.md §5.5, to the paisa."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from fyerstrade.domain import Instrument, InstrumentKind, OptionType, ProductType, Segment, Side
from fyerstrade.errors import InputError
from fyerstrade.trading.cost_rates import FYERS_NSE_RATES, Component, CostSegment, RateRow
from fyerstrade.trading.costs import (
    Charges,
    CostModel,
    FyersCostModel,
    GstBase,
    ZeroCostModel,
    cost_segment,
)

IST = ZoneInfo("Asia/Kolkata")
BUY, SELL = Side.BUY, Side.SELL

RELIANCE = Instrument("NSE:RELIANCE-EQ", isin="INE002A01018")
TCS = Instrument("NSE:TCS-EQ", isin="INE467B01029")
NIFTY_FUT = Instrument(
    "NSE:NIFTY26JUNFUT", kind=InstrumentKind.FUTURE, segment=Segment.NSE_FO, lot_size=65
)
NIFTY_OPT = Instrument(
    "NSE:NIFTY2660925000CE",
    kind=InstrumentKind.OPTION,
    segment=Segment.NSE_FO,
    lot_size=65,
    strike=25000.0,
    option_type=OptionType.CE,
)
NIFTY_INDEX = Instrument("NSE:NIFTY50-INDEX", kind=InstrumentKind.INDEX)


def ist(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=IST).timestamp())


DAY1 = ist(2026, 6, 15)
DAY2 = ist(2026, 6, 16)


def round_trip(
    model: FyersCostModel,
    inst: Instrument,
    product: ProductType,
    qty: int,
    entry: float,
    exit_: float,
    entry_ts: int = DAY1,
    exit_ts: int | None = None,
) -> Charges:
    buy = model.charges(inst, product, BUY, qty, entry, entry_ts)
    sell = model.charges(
        inst, product, SELL, qty, exit_, entry_ts + 3600 if exit_ts is None else exit_ts
    )
    return buy + sell


# §5.5: (brokerage, stt, exch, ipft, sebi, stamp, gst_a, gst_b, dp, total_a), as printed (4 dp).
WORKED = {
    "equity intraday 100 @ 1000 -> 1010": (
        (RELIANCE, ProductType.INTRADAY, 100, 1000.0, 1010.0, DAY1),
        (40.00, 25.25, 5.9697, 0.2010, 0.2010, 3.00, 8.2745, 8.3469, 0.0, 82.90),
    ),
    "equity delivery 10 @ 2000 -> 2100": (
        (RELIANCE, ProductType.CNC, 10, 2000.0, 2100.0, DAY2),
        (40.00, 41.00, 1.2177, 0.0410, 0.0410, 3.00, 7.4192, 7.4339, 14.75, 107.47),
    ),
    "equity delivery 5 @ 1000 -> 1050 (0.3% below the cap)": (
        (RELIANCE, ProductType.CNC, 5, 1000.0, 1050.0, DAY2),
        (30.75, 10.25, 0.3044, 0.0102, 0.0102, 0.75, 5.5898, 5.5935, 14.75, 62.41),
    ),
    "NIFTY future 1 lot @ 25000 -> 25100": (
        (NIFTY_FUT, ProductType.MARGIN, 65, 25000.0, 25100.0, DAY1),
        (40.00, 815.75, 56.3375, 3.2565, 3.2565, 32.50, 17.3407, 18.5131, 0.0, 968.44),
    ),
    "NIFTY option 1 lot premium 100 -> 110": (
        (NIFTY_OPT, ProductType.INTRADAY, 65, 100.0, 110.0, DAY1),
        (40.00, 10.725, 4.7816, 0.0683, 0.0136, 0.195, 8.0607, 8.0754, 0.0, 63.84),
    ),
}


@pytest.mark.parametrize("name", list(WORKED))
def test_worked_examples_to_the_paisa(name: str) -> None:
    (inst, product, qty, entry, exit_, exit_ts), expected = WORKED[name]
    brokerage, stt, exch, ipft, sebi, stamp, gst_a, gst_b, dp, total = expected
    got = round_trip(FyersCostModel(), inst, product, qty, entry, exit_, DAY1, exit_ts)
    # Components are printed to 4 decimals, so they must agree to half of the last digit
    # (the reference truncates 0.01365 to 0.0136, hence 1e-4 there); the total to the paisa.
    for field, want in [
        ("brokerage", brokerage),
        ("stt", stt),
        ("exchange", exch),
        ("ipft", ipft),
        ("sebi", sebi),
        ("stamp", stamp),
        ("gst", gst_a),
        ("dp", dp),
    ]:
        assert getattr(got, field) == pytest.approx(want, abs=1e-4), field
    assert round(got.total, 2) == total
    assert abs(got.total - total) < 0.005
    variant_b = round_trip(
        FyersCostModel(gst_base=GstBase.ALL_FEES), inst, product, qty, entry, exit_, DAY1, exit_ts
    )
    assert variant_b.gst == pytest.approx(gst_b, abs=1e-4)
    assert variant_b.total - got.total == pytest.approx(gst_b - gst_a, abs=1e-4)


def test_worked_intraday_example_exact_per_order() -> None:
    """Each leg, computed by hand from the §5 rates (no rounding anywhere)."""
    model = FyersCostModel()
    buy = model.charges(RELIANCE, ProductType.INTRADAY, BUY, 100, 1000.0, DAY1)
    assert buy.brokerage == 20.0  # 0.03% of ₹1,00,000 = ₹30, capped at ₹20
    assert buy.stt == 0.0  # intraday STT is sell-side only
    assert buy.stamp == pytest.approx(3.0, rel=1e-12)
    assert buy.exchange == pytest.approx(2.97, rel=1e-12)
    assert buy.gst == pytest.approx(0.18 * 22.97, rel=1e-12)
    sell = model.charges(RELIANCE, ProductType.INTRADAY, SELL, 100, 1010.0, DAY1 + 60)
    assert sell.stt == pytest.approx(25.25, rel=1e-12)
    assert sell.stamp == 0.0  # stamp duty is buy-side only
    assert sell.dp == 0.0  # no DP charge on intraday
    assert model.fill_costs(RELIANCE, ProductType.INTRADAY, SELL, 100, 1010.0, DAY1) == (
        pytest.approx(sell.total, rel=1e-15)
    )


@pytest.mark.parametrize(
    ("ts", "rate"),
    [
        (ist(2022, 6, 10), 0.0001),
        (ist(2024, 6, 14), 0.000125),
        (ist(2024, 9, 30, 15, 29), 0.000125),
        (ist(2024, 10, 1, 9, 15), 0.0002),
        (ist(2025, 3, 12), 0.0002),
        (ist(2026, 3, 31, 15, 29), 0.0002),
        (ist(2026, 4, 1, 9, 15), 0.0005),
        (ist(2026, 5, 20), 0.0005),
    ],
)
def test_futures_stt_follows_its_history(ts: int, rate: float) -> None:
    sell = FyersCostModel().charges(NIFTY_FUT, ProductType.MARGIN, SELL, 65, 25000.0, ts)
    assert sell.stt == pytest.approx(65 * 25000.0 * rate, rel=1e-12)


def test_effective_date_is_the_ist_date_not_the_utc_date() -> None:
    """00:30 IST on 2024-10-01 is still 2024-09-30 in UTC; the new rates apply already."""
    ts = ist(2024, 10, 1, 0, 30)
    assert datetime.fromtimestamp(ts, ZoneInfo("UTC")).date() == date(2024, 9, 30)
    sell = FyersCostModel().charges(NIFTY_FUT, ProductType.MARGIN, SELL, 65, 25000.0, ts)
    assert sell.stt == pytest.approx(65 * 25000.0 * 0.0002, rel=1e-12)
    assert sell.exchange == pytest.approx(65 * 25000.0 * 0.0000173, rel=1e-12)


def test_2024_trades_pay_2024_rates() -> None:
    """Before 2024-10-01: no delivery brokerage, top-slab exchange charges, older option STT."""
    model = FyersCostModel()
    ts = ist(2024, 6, 14)
    delivery = model.charges(RELIANCE, ProductType.CNC, BUY, 10, 2000.0, ts)
    assert delivery.brokerage == 0.0
    assert delivery.exchange == pytest.approx(20000 * 0.0000322, rel=1e-12)
    option = model.charges(NIFTY_OPT, ProductType.INTRADAY, SELL, 65, 110.0, ts)
    assert option.stt == pytest.approx(7150 * 0.000625, rel=1e-12)
    assert option.exchange == pytest.approx(7150 * 0.000495, rel=1e-12)
    assert option.ipft == pytest.approx(7150 * 50e-7, rel=1e-12)
    after = model.charges(RELIANCE, ProductType.CNC, BUY, 10, 2000.0, ist(2024, 10, 1))
    assert after.brokerage == 20.0


def test_dp_charged_once_per_isin_per_ist_day() -> None:
    model = FyersCostModel()
    first = model.charges(RELIANCE, ProductType.CNC, SELL, 5, 2100.0, DAY2)
    second = model.charges(RELIANCE, ProductType.CNC, SELL, 5, 2105.0, DAY2 + 3600)
    other_stock = model.charges(TCS, ProductType.CNC, SELL, 1, 4000.0, DAY2 + 3600)
    next_day = model.charges(RELIANCE, ProductType.CNC, SELL, 1, 2110.0, DAY2 + 86_400)
    assert first.dp == pytest.approx(14.75, rel=1e-12)
    assert second.dp == 0.0
    assert other_stock.dp == pytest.approx(14.75, rel=1e-12)
    assert next_day.dp == pytest.approx(14.75, rel=1e-12)
    # The DP GST is inside dp, not in gst: gst is 18% of brokerage + exchange only.
    assert first.gst == pytest.approx(0.18 * (first.brokerage + first.exchange), rel=1e-12)
    model.reset()
    again = model.charges(RELIANCE, ProductType.CNC, SELL, 5, 2100.0, DAY2)
    assert again.dp == pytest.approx(14.75, rel=1e-12)


def test_dp_falls_back_to_the_symbol_without_an_isin() -> None:
    model = FyersCostModel()
    a = Instrument("NSE:AAA-EQ")
    b = Instrument("NSE:BBB-EQ")
    assert model.charges(a, ProductType.CNC, SELL, 1, 100.0, DAY1).dp > 0
    assert model.charges(b, ProductType.CNC, SELL, 1, 100.0, DAY1).dp > 0
    assert model.charges(a, ProductType.CNC, SELL, 1, 100.0, DAY1).dp == 0.0
    assert model.charges(a, ProductType.CNC, BUY, 1, 100.0, DAY2).dp == 0.0  # buys never pay DP


@pytest.mark.parametrize(
    ("product", "rate", "qty", "price", "expected"),
    [
        # intraday: 0.03% reaches ₹20 at ₹66,666.67 of value
        (ProductType.INTRADAY, 0.0003, 1, 66_000.0, 19.8),
        (ProductType.INTRADAY, 0.0003, 1, 66_666.0, 19.9998),
        (ProductType.INTRADAY, 0.0003, 1, 66_667.0, 20.0),
        (ProductType.INTRADAY, 0.0003, 100, 10_000.0, 20.0),
        # delivery: 0.3% reaches ₹20 at ₹6,666.67 of value
        (ProductType.CNC, 0.003, 1, 6_666.0, 19.998),
        (ProductType.CNC, 0.003, 1, 6_667.0, 20.0),
        (ProductType.CNC, 0.003, 3, 100.0, 0.9),
    ],
)
def test_brokerage_cap_versus_percentage(
    product: ProductType, rate: float, qty: int, price: float, expected: float
) -> None:
    got = FyersCostModel().charges(RELIANCE, product, BUY, qty, price, DAY1)
    assert got.brokerage == pytest.approx(expected, rel=1e-12)
    assert got.brokerage == pytest.approx(min(20.0, qty * price * rate), rel=1e-12)


def test_options_brokerage_is_flat_whatever_the_premium() -> None:
    model = FyersCostModel()
    for premium in (0.05, 1.0, 500.0):
        got = model.charges(NIFTY_OPT, ProductType.INTRADAY, BUY, 65, premium, DAY1)
        assert got.brokerage == 20.0


def test_zero_model() -> None:
    zero = ZeroCostModel()
    assert isinstance(zero, CostModel)
    assert isinstance(FyersCostModel(), CostModel)
    for inst in (RELIANCE, NIFTY_FUT, NIFTY_OPT):
        for side in (BUY, SELL):
            assert zero.fill_costs(inst, ProductType.CNC, side, 65, 25000.0, DAY1) == 0.0


def test_segments_from_kind_and_product() -> None:
    assert cost_segment(RELIANCE, ProductType.INTRADAY) is CostSegment.EQUITY_INTRADAY
    assert cost_segment(RELIANCE, ProductType.CNC) is CostSegment.EQUITY_DELIVERY
    assert cost_segment(RELIANCE, ProductType.MARGIN) is CostSegment.EQUITY_DELIVERY
    assert cost_segment(NIFTY_FUT, ProductType.INTRADAY) is CostSegment.FUTURES
    assert cost_segment(NIFTY_FUT, ProductType.MARGIN) is CostSegment.FUTURES
    assert cost_segment(NIFTY_OPT, ProductType.MARGIN) is CostSegment.OPTIONS


def test_index_cannot_be_traded() -> None:
    with pytest.raises(InputError, match="index and cannot be traded"):
        FyersCostModel().fill_costs(NIFTY_INDEX, ProductType.INTRADAY, BUY, 1, 25000.0, DAY1)


def test_mismatched_segment_is_a_clear_error() -> None:
    odd = Instrument("NSE:ODD", kind=InstrumentKind.FUTURE, segment=Segment.NSE_CM)
    with pytest.raises(InputError, match="expected NSE_FO"):
        FyersCostModel().fill_costs(odd, ProductType.MARGIN, BUY, 1, 100.0, DAY1)


def test_table_without_a_segment_is_a_clear_error() -> None:
    equity_only = [r for r in FYERS_NSE_RATES if r.segment is CostSegment.EQUITY_INTRADAY]
    model = FyersCostModel(rates=equity_only)
    assert model.fill_costs(RELIANCE, ProductType.INTRADAY, BUY, 1, 100.0, DAY1) > 0
    with pytest.raises(InputError, match="no rates for FUTURES"):
        model.fill_costs(NIFTY_FUT, ProductType.MARGIN, BUY, 65, 25000.0, DAY1)


def test_trade_before_the_table_starts_is_a_clear_error() -> None:
    rows = [RateRow(CostSegment.FUTURES, Component.STT, date(2024, 10, 1), rate=0.0002, side=SELL)]
    model = FyersCostModel(rates=rows)
    assert model.fill_costs(NIFTY_FUT, ProductType.MARGIN, BUY, 65, 100.0, ist(2020, 1, 1)) == 0.0
    with pytest.raises(InputError, match="no stt rate for FUTURES sells before 2024-10-01"):
        model.fill_costs(NIFTY_FUT, ProductType.MARGIN, SELL, 65, 100.0, ist(2024, 9, 30))


@pytest.mark.parametrize(("qty", "price"), [(0, 100.0), (-5, 100.0), (1, -1.0)])
def test_bad_order_inputs(qty: int, price: float) -> None:
    with pytest.raises(InputError):
        FyersCostModel().fill_costs(RELIANCE, ProductType.INTRADAY, BUY, qty, price, DAY1)


def test_admin_square_off_charge() -> None:
    assert FyersCostModel().admin_square_off_charge() == pytest.approx(59.0, rel=1e-12)
    # Not part of any fill: an intraday sell at 15:20 IST costs the same as one at 11:00.
    model = FyersCostModel()
    late = model.charges(RELIANCE, ProductType.INTRADAY, SELL, 10, 100.0, ist(2026, 6, 15, 15, 20))
    early = model.charges(RELIANCE, ProductType.INTRADAY, SELL, 10, 100.0, ist(2026, 6, 15, 11))
    assert late == early


def test_charges_to_dict_has_every_line_and_total() -> None:
    c = Charges(
        brokerage=1.0, stt=2.0, exchange=3.0, ipft=4.0, sebi=5.0, stamp=6.0, gst=7.0, dp=8.0
    )
    d = c.to_dict()
    assert d["total"] == 36.0
    assert set(d) == {"brokerage", "stt", "exchange", "ipft", "sebi", "stamp", "gst", "dp", "total"}


def test_exercise_stt_on_intrinsic_value() -> None:
    model = FyersCostModel()
    intrinsic = (25_150.0 - 25_000.0) * 65  # a 25000 CE settled at 25150, one lot
    assert model.exercise_stt(intrinsic, ist(2026, 3, 26)) == pytest.approx(intrinsic * 0.00125)
    assert model.exercise_stt(intrinsic, ist(2026, 4, 30)) == pytest.approx(intrinsic * 0.0015)
    assert model.exercise_stt(0.0, ist(2026, 4, 30)) == 0.0  # out of the money: not exercised


def test_zero_model_breakdown_is_all_zero() -> None:
    got = ZeroCostModel().charges(NIFTY_OPT, ProductType.INTRADAY, SELL, 65, 110.0, DAY1)
    assert got == Charges() and got.total == 0.0
