"""opening_price_crossover on a hand-written day: entry, stop, R and the two targets."""

from __future__ import annotations

import pytest

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.domain import Resolution, Side
from fyerstrade.strategies.opening_price_crossover import OpeningPriceCrossover
from plugins.trading import DAY, ist_ts, table

# EMA(1) is the close itself and EMA(2) lags it, so on a rising close the filter passes.
PARAMS = {"ema_fast": 1, "ema_slow": 2}
ROWS = [
    ("09:15", 100.0, 100.4, 99.2, 99.5),  # day open 100.0
    ("09:20", 99.5, 99.9, 99.0, 99.6),  # closes at/below the open
    ("09:25", 99.6, 100.6, 99.4, 100.5),  # closes above: signal; stop = min(99.4, 99.0)
    ("09:30", 100.6, 100.9, 100.2, 100.8),  # entry at 100.6; R = 1.6
    ("09:35", 100.8, 102.3, 100.5, 102.0),  # target1 at 102.2 (70 of 100)
    ("09:40", 102.0, 103.0, 101.8, 102.9),
    ("09:45", 102.9, 105.5, 102.5, 105.0),  # target2 at 105.4 (30)
    ("09:50", 105.0, 105.2, 104.0, 104.5),
]


def run(rows: list[tuple[str, float, float, float, float]], **kw: object):
    cfg = BacktestConfig(
        strategy="opening_price_crossover",
        params=PARAMS,
        symbols=["X"],
        resolution=Resolution.M5,
        start=DAY,
        end=DAY,
        mode="intraday",
        quantity=100,
        costs=False,
        **kw,  # type: ignore[arg-type]
    )
    return run_backtest(cfg, data={"X": table(rows)})


def test_signal_indicator_marks_the_crossing_bar_only() -> None:
    values = OpeningPriceCrossover(**PARAMS).indicators(table(ROWS))
    assert values["day_open"].tolist() == [100.0] * len(ROWS)
    assert values["signal"].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]


def test_entry_stop_and_targets() -> None:
    r = run(ROWS)
    got = [(f.side, f.quantity, f.price, f.ts, f.tag) for f in r.fills]
    assert got == [
        (Side.BUY, 100, 100.6, ist_ts("09:30"), "entry"),
        (Side.SELL, 70, 102.2, ist_ts("09:35"), "target1"),
        (Side.SELL, 30, 105.4, ist_ts("09:45"), "target2"),
    ]
    assert [t.exit_reason for t in r.trades] == ["target", "target"]
    assert sum(t.pnl for t in r.trades) == pytest.approx(70 * 1.6 + 30 * 4.8)


def test_stop_takes_the_rest_after_the_first_target() -> None:
    rows = [*ROWS[:5], ("09:40", 102.0, 102.1, 99.0, 99.5), *ROWS[6:]]
    r = run(rows)
    assert [(f.quantity, f.price, f.tag) for f in r.fills[:3]] == [
        (100, 100.6, "entry"),
        (70, 102.2, "target1"),
        (30, 99.0, "stop"),
    ]
    # flat again, the next close above the open is a new entry (one position at a time)
    assert r.fills[3].tag == "entry" and r.fills[3].ts == ist_ts("09:50")


def test_stop_first_when_the_entry_bar_reaches_both() -> None:
    rows = [*ROWS[:3], ("09:30", 100.6, 102.5, 98.5, 100.0), *ROWS[4:]]
    r = run(rows)
    assert [(f.quantity, f.price, f.tag) for f in r.fills[:2]] == [
        (100, 100.6, "entry"),
        (100, 99.0, "stop"),
    ]
