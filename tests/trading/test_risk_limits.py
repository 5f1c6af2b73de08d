"""Risk limits as candle tables: the session guard's daily-loss halt (an order with its fill,
entries refused until the next day) and the maximum of open positions, in a backtest."""

from __future__ import annotations

from datetime import date

from fyerstrade.domain import OrderStatus, OrderType, Side
from fyerstrade.trading.spec import RiskLimits
from plugins.trading import days, ist_ts, run_table

ROWS = [
    # time, open, high, low, close
    ("10:00", 100.0, 101.0, 99.0, 100.5),
    ("10:05", 100.6, 102.0, 100.2, 101.8),
    ("10:10", 101.9, 103.0, 101.0, 102.5),
    ("10:15", 102.4, 102.6, 98.0, 98.5),
    ("10:20", 98.4, 99.0, 97.0, 97.5),
    ("10:25", 97.6, 98.0, 97.0, 97.8),
]
BUY_100 = [lambda c: c.buy(c.symbols[0], 100)]


def test_the_daily_loss_halt_is_an_order_with_its_fill_and_stops_entries() -> None:
    # bought 100 at 100.6; at the 10:15 close (98.5) the day has lost ₹210 ≥ ₹150
    r = run_table(
        ROWS,
        {"10:00": BUY_100, "10:20": BUY_100},
        risk=RiskLimits(max_daily_loss=150),
    )
    (halt,) = [o for o in r.orders if o.tag == "risk"]
    (fill,) = [f for f in r.fills if f.order_id == halt.id]
    # a market order placed at the 10:15 close: filled at the next bar's open
    assert (fill.side, fill.quantity, fill.price, fill.ts) == (
        Side.SELL,
        100,
        98.4,
        ist_ts("10:20"),
    )
    assert halt.order_type is OrderType.MARKET and halt.status is OrderStatus.FILLED
    assert r.trades[0].exit_reason == "risk"
    # the entry at 10:20 is refused: the day is halted
    assert [x.reason.split(";")[0] for x in r.rejections] == [
        "risk: max daily loss reached: lost ₹210.00 today (limit ₹150.00)"
    ]
    assert any("max daily loss reached" in line.message for line in r.logs)
    assert [f.tag for f in r.fills] == ["", "risk"]


def test_the_same_run_without_a_limit_keeps_trading() -> None:
    r = run_table(ROWS, {"10:00": BUY_100, "10:20": BUY_100})
    assert [f.tag for f in r.fills] == ["", "", "end_of_data"]
    assert r.rejections == []


def test_a_halt_ends_with_the_day() -> None:
    script = {
        "2024-05-02 10:00": BUY_100,
        "2024-05-02 10:20": BUY_100,  # refused: halted
        "2024-05-03 10:00": BUY_100,  # a new day: accepted
    }
    r = run_table(
        [],
        script,
        bars=days(ROWS, date(2024, 5, 2), date(2024, 5, 3)),
        risk=RiskLimits(max_daily_loss=150),
    )
    assert [(f.tag, f.ts) for f in r.fills if f.side is Side.BUY] == [
        ("", ist_ts("10:05", date(2024, 5, 2))),
        ("", ist_ts("10:05", date(2024, 5, 3))),
    ]
    assert len(r.rejections) == 1


def test_max_open_positions_refuses_an_entry_in_another_symbol() -> None:
    both = [lambda c: c.buy("NSE:A-EQ", 10), lambda c: c.buy("NSE:B-EQ", 10)]
    r = run_table(
        ROWS,
        {"10:00": both},
        symbols=["NSE:A-EQ", "NSE:B-EQ"],
        risk=RiskLimits(max_open_positions=1),
    )
    assert [f.symbol for f in r.fills if f.tag == ""] == ["NSE:A-EQ"]
    assert [x.reason for x in r.rejections] == ["risk: 1 open positions, the limit is 1"]
