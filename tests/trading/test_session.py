"""Session rules as candle tables: the intraday entry window and the square-off."""

from __future__ import annotations

from datetime import date, time

import numpy as np

from fyerstrade.domain import ProductType, Side
from fyerstrade.trading.session import SessionRules
from plugins.trading import ist_ts, run_table, table

DAY_ROWS = [
    ("09:15", 100.0, 100.5, 99.5, 100.2),
    ("09:20", 100.2, 100.8, 100.0, 100.6),
    ("14:25", 101.0, 101.5, 100.8, 101.2),
    ("14:30", 101.2, 101.4, 101.0, 101.1),
    ("15:10", 101.1, 101.3, 100.9, 101.0),
    ("15:15", 101.05, 101.2, 100.7, 100.8),
    ("15:20", 100.8, 100.9, 100.5, 100.6),
]


def test_intraday_entries_only_inside_the_window() -> None:
    buy = [lambda c: c.buy(c.symbols[0], 10)]
    r = run_table(DAY_ROWS, {"09:15": buy, "14:25": buy, "14:30": buy}, mode="intraday")
    # 09:15 closes at 09:20 (inside), 14:25 closes 14:30 (inside, inclusive), 14:30 closes
    # 14:35 (outside)
    entries = [f for f in r.fills if f.tag != "square_off"]
    assert [f.ts for f in entries] == [ist_ts("09:20"), ist_ts("14:30")]
    assert r.rejections[0].reason == (
        "entry at 14:35 IST is outside the intraday entry window 09:20–14:30 IST"
    )


def test_intraday_entries_end_before_a_square_off_inside_the_window() -> None:
    # square-off 14:30 with the window to 14:30: the 14:25 bar closes at 14:30, the square-off
    # time; an entry then would open a position the day's square-off has already passed
    buy = [lambda c: c.buy(c.symbols[0], 10)]
    r = run_table(DAY_ROWS, {"09:15": buy, "14:25": buy}, mode="intraday", square_off=time(14, 30))
    assert [(f.side, f.ts, f.tag) for f in r.fills] == [
        (Side.BUY, ist_ts("09:20"), ""),
        (Side.SELL, ist_ts("14:30"), "square_off"),
    ]
    assert [x.reason for x in r.rejections] == [
        "entry at 14:30 IST is outside the intraday entry window 09:20–14:30 IST,"
        " ending before the 14:30 square-off"
    ]
    rules = SessionRules("intraday", time(9, 20), time(14, 30), time(14, 30))
    assert rules.entry_allowed(ist_ts("14:29")) and not rules.entry_allowed(ist_ts("14:30"))
    assert SessionRules("intraday").entry_allowed(ist_ts("14:30"))  # 15:15: the window's end


def test_exits_are_allowed_outside_the_window() -> None:
    r = run_table(
        DAY_ROWS,
        {"09:15": [lambda c: c.buy(c.symbols[0], 10)], "14:30": [lambda c: c.close(c.symbols[0])]},
        mode="intraday",
    )
    assert [(f.side, f.ts) for f in r.fills] == [
        (Side.BUY, ist_ts("09:20")),
        (Side.SELL, ist_ts("15:10")),
    ]
    assert r.rejections == []


def test_square_off_at_the_open_of_the_first_bar_at_or_after_1515() -> None:
    r = run_table(DAY_ROWS, {"09:15": [lambda c: c.buy(c.symbols[0], 10)]}, mode="intraday")
    assert [(f.side, f.price, f.ts, f.tag) for f in r.fills] == [
        (Side.BUY, 100.2, ist_ts("09:20"), ""),
        (Side.SELL, 101.05, ist_ts("15:15"), "square_off"),
    ]
    assert r.trades[0].exit_reason == "square_off"
    assert r.fills[0].product is ProductType.INTRADAY


def test_square_off_cancels_working_orders_and_applies_slippage() -> None:
    r = run_table(
        DAY_ROWS,
        {
            "09:15": [lambda c: c.buy(c.symbols[0], 10)],
            "14:25": [lambda c: c.sell(c.symbols[0], 10, limit=101.3, tag="target")],
        },
        mode="intraday",
        square_off=time(14, 30),
        slippage_ticks=1,
    )
    # the target would fill in the 14:30 bar (high 101.4) but square-off comes at its open
    assert [(f.price, f.tag) for f in r.fills] == [(100.25, ""), (101.15, "square_off")]


def test_square_off_at_the_last_close_when_no_bar_reaches_the_time() -> None:
    rows = DAY_ROWS[:5]  # data stop at the 15:10 bar
    r = run_table(rows, {"09:15": [lambda c: c.buy(c.symbols[0], 10)]}, mode="intraday")
    assert (r.fills[-1].price, r.fills[-1].ts, r.fills[-1].tag) == (
        101.0,
        ist_ts("15:15"),  # the close time of the 15:10 bar
        "square_off",
    )


def test_positional_mode_carries_overnight() -> None:
    r = run_table(DAY_ROWS, {"09:15": [lambda c: c.buy(c.symbols[0], 10)]})
    assert [f.tag for f in r.fills] == ["", "end_of_data"]
    assert r.fills[0].product is ProductType.CNC


def test_square_off_bars_per_day() -> None:
    rules = SessionRules("intraday")
    bars = table(DAY_ROWS)
    at_open, at_close = rules.square_off_bars(bars.ts)
    assert at_open.tolist() == [5] and at_close.tolist() == []
    at_open, at_close = SessionRules("positional").square_off_bars(bars.ts)
    assert at_open.size == 0 and at_close.size == 0


def test_first_late_bar_agrees_with_square_off_bars_bar_by_bar() -> None:
    rules = SessionRules("intraday", square_off=time(15, 15))
    d1, d2, d3 = date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)
    day1 = [ist_ts(hm, d1) for hm in ("15:05", "15:10", "15:15", "15:20", "15:25")]
    day2 = [ist_ts(hm, d2) for hm in ("09:15", "15:14", "15:16", "15:29")]
    day3 = [ist_ts("15:20", d3)]  # a day whose first bar is already late
    ts = day1 + day2 + day3
    at_open, _ = rules.square_off_bars(np.array(ts, np.int64))
    marks = [k for k, t in enumerate(ts) if rules.first_late_bar(ts[k - 1] if k else None, t)]
    assert marks == at_open.tolist() == [2, 7, 9]
    assert not SessionRules("positional").first_late_bar(None, day1[3])
