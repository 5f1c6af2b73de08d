"""Fill rules as candle tables: a few bars, the orders, the expected fills."""

from __future__ import annotations

from fyerstrade.domain import Instrument, InstrumentKind, OrderStatus, Segment, Side
from plugins.trading import ist_ts, run_table

ROWS = [
    # time, open, high, low, close
    ("10:00", 100.0, 101.0, 99.0, 100.5),
    ("10:05", 100.6, 102.0, 100.2, 101.8),
    ("10:10", 101.9, 103.0, 101.0, 102.5),
    ("10:15", 102.4, 102.6, 98.0, 98.5),
    ("10:20", 98.4, 99.0, 97.0, 97.5),
]


def fills_of(result):
    return [(f.side, f.quantity, f.price, f.ts, f.tag) for f in result.fills]


def test_market_order_fills_at_next_bar_open() -> None:
    r = run_table(ROWS, {"10:00": [lambda c: c.buy(c.symbols[0], 10)]})
    assert fills_of(r)[0] == (Side.BUY, 10, 100.6, ist_ts("10:05"), "")


def test_market_order_slippage_in_ticks_and_bps_is_adverse_and_tick_rounded() -> None:
    r = run_table(
        ROWS,
        {"10:00": [lambda c: c.buy(c.symbols[0], 10)], "10:10": [lambda c: c.close(c.symbols[0])]},
        slippage_ticks=2,
    )
    assert r.fills[0].price == 100.7  # 100.6 + 2 × 0.05
    assert r.fills[1].price == 102.3  # 102.4 − 2 × 0.05
    r = run_table(ROWS, {"10:00": [lambda c: c.buy(c.symbols[0], 10)]}, slippage_bps=10)
    assert r.fills[0].price == 100.7  # 100.6 × 1.001 = 100.7006 -> 100.70


def test_buy_limit_fills_at_limit_inside_range_not_before_next_bar() -> None:
    # placed at 10:05's close; 10:05's own low (100.2) does not count
    r = run_table(ROWS, {"10:05": [lambda c: c.buy(c.symbols[0], 5, limit=101.2)]})
    assert fills_of(r)[0] == (Side.BUY, 5, 101.2, ist_ts("10:10"), "")


def test_limit_gapped_through_fills_at_the_better_open() -> None:
    # a buy limit at 99.5 placed at 10:15's close; the 10:20 bar opens at 98.4, below it
    r = run_table(ROWS, {"10:15": [lambda c: c.buy(c.symbols[0], 5, limit=99.5)]})
    assert r.fills[0].price == 98.4  # opened below the limit: filled at the open


def test_limit_never_reached_does_not_fill() -> None:
    r = run_table(ROWS, {"10:00": [lambda c: c.buy(c.symbols[0], 5, limit=90.0)]})
    assert r.fills == []


def test_sell_stop_triggers_inside_range_and_gap_fills_at_open() -> None:
    script = {
        "10:00": [lambda c: c.buy(c.symbols[0], 10)],
        "10:05": [lambda c: c.sell(c.symbols[0], 10, stop=99.0, tag="stop")],
    }
    r = run_table(ROWS, script)
    # 10:15 bar: open 102.4 above the stop, low 98.0 reaches it -> fills at the stop
    assert fills_of(r)[1] == (Side.SELL, 10, 99.0, ist_ts("10:15"), "stop")
    script["10:05"] = [lambda c: c.sell(c.symbols[0], 10, stop=98.6, tag="stop")]
    script["10:15"] = []
    r = run_table([*ROWS[:3], ("10:15", 97.0, 98.0, 96.0, 97.5)], script)
    assert fills_of(r)[1] == (Side.SELL, 10, 97.0, ist_ts("10:15"), "stop")  # gap: the open
    assert r.trades[0].exit_reason == "stop"


def test_buy_stop_limit_triggers_then_fills_no_worse_than_limit() -> None:
    r = run_table(ROWS, {"10:00": [lambda c: c.buy(c.symbols[0], 5, stop=101.5, limit=101.6)]})
    assert fills_of(r)[0] == (Side.BUY, 5, 101.5, ist_ts("10:05"), "")
    # gap above the limit at 10:10 (open 101.9 > 101.7): triggered, waits for the limit
    rows = [*ROWS[:2], ("10:10", 101.9, 103.0, 101.8, 102.5), *ROWS[3:]]
    r = run_table(rows, {"10:05": [lambda c: c.buy(c.symbols[0], 5, stop=101.85, limit=101.7)]})
    assert fills_of(r)[0] == (Side.BUY, 5, 101.7, ist_ts("10:15"), "")


def test_stop_before_target_when_one_bar_reaches_both() -> None:
    script = {
        "10:00": [lambda c: c.buy(c.symbols[0], 10)],
        "10:10": [
            lambda c: c.sell(c.symbols[0], 10, limit=102.6, tag="target", reduce_only=True),
            lambda c: c.sell(c.symbols[0], 10, stop=98.5, tag="stop", reduce_only=True),
        ],
    }
    r = run_table(ROWS, script)  # 10:15 bar: high 102.6 (target) and low 98.0 (stop)
    assert [f.tag for f in r.fills] == ["", "stop"]
    assert r.fills[1].price == 98.5
    assert r.trades[0].exit_reason == "stop"


def test_exits_placed_on_entry_fill_are_matched_in_the_same_bar() -> None:
    def on_fill(ctx, fill):
        if fill.tag == "entry":
            ctx.sell(fill.symbol, 10, stop=99.8, tag="stop", reduce_only=True)

    rows = [("10:00", 100.0, 101.0, 99.0, 100.5), ("10:05", 100.6, 101.0, 99.5, 100.0)]
    r = run_table(
        rows, {"10:00": [lambda c: c.buy(c.symbols[0], 10, tag="entry")]}, on_fill=on_fill
    )
    assert fills_of(r) == [
        (Side.BUY, 10, 100.6, ist_ts("10:05"), "entry"),
        (Side.SELL, 10, 99.8, ist_ts("10:05"), "stop"),
    ]


def test_reduce_only_target_is_cancelled_when_the_position_closes() -> None:
    script = {
        "10:00": [lambda c: c.buy(c.symbols[0], 10)],
        "10:05": [
            lambda c: c.sell(c.symbols[0], 10, limit=110.0, tag="target", reduce_only=True),
            lambda c: c.close(c.symbols[0]),
        ],
    }
    r = run_table(ROWS, script)
    assert len(r.fills) == 2 and r.fills[1].price == 101.9
    assert r.trades[0].exit_reason == "signal"


def test_prices_are_rounded_to_the_tick_size() -> None:
    orders = []
    r = run_table(ROWS, {"10:00": [lambda c: orders.append(c.buy(c.symbols[0], 5, limit=101.23))]})
    assert orders[0].limit_price == 101.25
    assert r.fills[0].price == 100.6  # opened below the limit


def test_lot_size_multiple_is_enforced_for_derivatives() -> None:
    fut = Instrument(
        "NSE:NIFTY24MAYFUT",
        kind=InstrumentKind.FUTURE,
        segment=Segment.NSE_FO,
        lot_size=25,
        tick_size=0.05,
    )
    orders = []
    r = run_table(
        ROWS,
        {
            "10:00": [
                lambda c: orders.append(c.buy(c.symbols[0], 30)),
                lambda c: orders.append(c.buy(c.symbols[0], 50)),
            ]
        },
        instrument=fut,
        symbol=fut.symbol,
        capital=10_000_000,
    )
    assert orders[0].status is OrderStatus.REJECTED
    assert r.rejections[0].reason == (
        "quantity 30 is not a multiple of the lot size 25 in force on 2024-05-02"
    )
    assert [f.quantity for f in r.fills] == [50, 50]  # bought, then closed at end of data
    assert r.fills[-1].tag == "end_of_data"


def test_rejection_reasons_are_recorded() -> None:
    r = run_table(
        ROWS,
        {
            "10:00": [
                lambda c: c.buy(c.symbols[0], 0),
                lambda c: c.sell(c.symbols[0], 5),  # CNC short
                lambda c: c.buy(c.symbols[0], 5000),  # 5000 × 100.5 > 100 000 cash
            ]
        },
    )
    reasons = [x.reason for x in r.rejections]
    assert reasons[0] == "quantity must be positive, got 0"
    assert reasons[1].startswith("short selling is not allowed for CNC")
    assert reasons[2].startswith("insufficient funds: needs ₹502,500.00 margin")
    assert r.fills == []


def test_cancelled_order_never_fills() -> None:
    placed = []
    r = run_table(
        ROWS,
        {
            "10:00": [lambda c: placed.append(c.buy(c.symbols[0], 5, limit=99.0))],
            "10:05": [
                lambda c: placed.append(len(c.open_orders(c.symbols[0]))),
                lambda c: placed.append(c.cancel(placed[0].id)),
                lambda c: placed.append(c.cancel(placed[0])),
            ],
        },
    )
    assert placed[1:] == [1, True, False]  # one working order; cancelled once
    assert placed[0].status is OrderStatus.CANCELLED
    assert r.fills == []  # the 10:15 bar's low (98.0) would have filled it
