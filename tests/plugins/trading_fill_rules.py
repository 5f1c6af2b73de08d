"""The fill rules as candle tables that both engines run: a few bars, the signals, the fills.

Each :class:`FillCase` is one rule of the README's "Backtest assumptions" written as data: bars on
one IST date (5-minute bars), the strategy's signals by bar time (entries, exits, short entries,
stop levels, targets), the run's options, and the fills (side, quantity, price, bar time, tag)
and rejections it must produce. :func:`run_case` runs a case through the event engine (a
:class:`~fyerstrade.strategies.signal_strategy.SignalStrategy` placing the orders bar by bar) or
through the vectorized engine; ``tests/backtest/test_fill_rules.py`` holds both to every case
(the README's "Backtest assumptions" are these tables in words).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any, ClassVar, Literal

import numpy as np

from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.domain import Instrument, InstrumentKind, ProductType, Resolution, Segment, Side
from fyerstrade.strategies import registry
from fyerstrade.strategies.signal_strategy import SignalStrategy
from fyerstrade.strategies.signals import SignalBars, Signals, Target
from plugins.trading import DAY, Row, ist_ts, table

BUY, SELL = Side.BUY, Side.SELL
Engine = Literal["event", "vector"]
ENGINES: tuple[Engine, ...] = ("event", "vector")
SYMBOL = "NSE:TEST-EQ"

ROWS: tuple[Row, ...] = (
    # time, open, high, low, close
    ("10:00", 100.0, 101.0, 99.0, 100.5),
    ("10:05", 100.6, 102.0, 100.2, 101.8),
    ("10:10", 101.9, 103.0, 101.0, 102.5),
    ("10:15", 102.4, 102.6, 98.0, 98.5),
    ("10:20", 98.4, 99.0, 97.0, 97.5),
)
DAY_ROWS: tuple[Row, ...] = (
    ("09:15", 100.0, 100.5, 99.5, 100.2),
    ("09:20", 100.2, 100.8, 100.0, 100.6),
    ("14:25", 101.0, 101.5, 100.8, 101.2),
    ("14:30", 101.2, 101.4, 101.0, 101.1),
    ("15:10", 101.1, 101.3, 100.9, 101.0),
    ("15:15", 101.05, 101.2, 100.7, 100.8),
    ("15:20", 100.8, 100.9, 100.5, 100.6),
)
FUTURE = Instrument(
    "NSE:NIFTY24MAYFUT", kind=InstrumentKind.FUTURE, segment=Segment.NSE_FO, lot_size=25
)

ExpectedFill = tuple[Side, int, float, str, str]  # side, quantity, price, HH:MM, tag


@dataclass(frozen=True)
class FillCase:
    rule: str
    rows: Sequence[Row]
    fills: Sequence[ExpectedFill]
    entries: Sequence[str] = ()
    exits: Sequence[str] = ()
    short_entries: Sequence[str] = ()
    stops: Mapping[str, float] = field(default_factory=dict)  # entry bar -> stop level
    targets: tuple[Target, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    instrument: Instrument | None = None
    rejections: Sequence[str] = ()
    exit_reasons: Sequence[str] | None = None

    def signals(self, bars: SignalBars) -> Signals:
        stamps = {ist_ts(t): k for k, t in enumerate(r[0] for r in self.rows)}

        def flags(times: Sequence[str]) -> np.ndarray:
            out = np.zeros(len(bars), dtype=bool)
            out[[stamps[ist_ts(t)] for t in times]] = True
            return out

        stop = None
        if self.stops:
            stop = np.full(len(bars), np.nan)
            for t, level in self.stops.items():
                stop[stamps[ist_ts(t)]] = level
        return Signals(
            entries=flags(self.entries),
            exits=flags(self.exits) if self.exits else None,
            short_entries=flags(self.short_entries) if self.short_entries else None,
            stop=stop,
            targets=self.targets,
        )


def run_case(case: FillCase, engine: Engine) -> BacktestResult:
    """Run ``case`` through one engine (costs off unless the case turns them on)."""

    class Table(SignalStrategy):
        name: ClassVar[str] = "table"

        @classmethod
        def signals(cls, bars: SignalBars, params: Mapping[str, Any]) -> Signals:
            return case.signals(bars)

    from fyerstrade.backtest.vector.run import run_vector  # numba only for the tests that need it

    symbol = case.instrument.symbol if case.instrument else SYMBOL
    registry.BUILTINS["table"] = Table
    try:
        cfg = BacktestConfig(
            strategy="table",
            params={},
            symbols=[symbol],
            resolution=Resolution.M5,
            start=DAY,
            end=DAY,
            **({"costs": False, "quantity": 10} | dict(case.config)),
        )
        run = run_backtest if engine == "event" else run_vector
        return run(
            cfg,
            data={symbol: table(case.rows)},
            instruments={symbol: case.instrument or Instrument(symbol)},
        )
    finally:
        del registry.BUILTINS["table"]


def fills_of(result: BacktestResult) -> list[ExpectedFill]:
    hhmm = {ist_ts(f"{h:02d}:{m:02d}"): f"{h:02d}:{m:02d}" for h in range(9, 16) for m in range(60)}
    return [(f.side, f.quantity, f.price, hhmm[f.ts], f.tag) for f in result.fills]


CASES: tuple[FillCase, ...] = (
    FillCase(
        "a market order fills at the next bar's open; the end of data closes at the last close",
        ROWS,
        entries=["10:00"],
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 97.5, "10:25", "end_of_data")],
        exit_reasons=["end_of_data"],
    ),
    FillCase(
        "an exit signal sells at the next bar's open",
        ROWS,
        entries=["10:00"],
        exits=["10:10"],
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 102.4, "10:15", "signal")],
        exit_reasons=["signal"],
    ),
    FillCase(
        "slippage in ticks moves market fills against the trader",
        ROWS,
        entries=["10:00"],
        exits=["10:10"],
        config={"slippage_ticks": 2},
        fills=[(BUY, 10, 100.7, "10:05", "entry"), (SELL, 10, 102.3, "10:15", "signal")],
    ),
    FillCase(
        "slippage in basis points, rounded to the tick (100.6 × 1.001 = 100.7006 → 100.70)",
        ROWS,
        entries=["10:00"],
        exits=["10:10"],
        config={"slippage_bps": 10},
        fills=[(BUY, 10, 100.7, "10:05", "entry"), (SELL, 10, 102.3, "10:15", "signal")],
    ),
    FillCase(
        "the end of data closes at the last close without slippage",
        ROWS,
        entries=["10:00"],
        config={"slippage_ticks": 2},
        fills=[(BUY, 10, 100.7, "10:05", "entry"), (SELL, 10, 97.5, "10:25", "end_of_data")],
    ),
    FillCase(
        "a stop fills at the stop when a later bar's range reaches it",
        ROWS,
        entries=["10:00"],
        stops={"10:00": 99.0},
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 99.0, "10:15", "stop")],
        exit_reasons=["stop"],
    ),
    FillCase(
        "a stop the bar gaps through fills at the open",
        (*ROWS[:3], ("10:15", 97.0, 98.0, 96.0, 97.5)),
        entries=["10:00"],
        stops={"10:00": 98.6},
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 97.0, "10:15", "stop")],
    ),
    FillCase(
        "a stop level is rounded to the tick size (99.03 → 99.05)",
        ROWS,
        entries=["10:00"],
        stops={"10:00": 99.03},
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 99.05, "10:15", "stop")],
    ),
    FillCase(
        "a stop and a target reached in the entry's own bar: the stop first",
        ROWS,
        entries=["10:10"],
        stops={"10:10": 98.5},
        targets=(Target(0.05),),  # 102.4 + 0.05 × 3.9 → 102.6, the bar's high
        fills=[(BUY, 10, 102.4, "10:15", "entry"), (SELL, 10, 98.5, "10:15", "stop")],
        exit_reasons=["stop"],
    ),
    FillCase(
        "targets are placed when the entry fills and matched against the rest of that bar",
        ROWS,
        entries=["10:00"],
        stops={"10:00": 99.0},
        targets=(Target(0.75),),  # 100.6 + 0.75 × 1.6 = 101.8 ≤ the 10:05 high
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 101.8, "10:05", "target1")],
        exit_reasons=["target"],
    ),
    FillCase(
        "a target the bar gaps through fills at the (better) open",
        (
            ("10:00", 100.0, 101.0, 99.0, 100.5),
            ("10:05", 100.6, 101.0, 100.2, 100.9),
            ("10:10", 101.9, 103.0, 101.0, 102.5),
        ),
        entries=["10:00"],
        stops={"10:00": 99.0},
        targets=(Target(0.5),),  # 101.4: opened above at 101.9
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 101.9, "10:10", "target1")],
    ),
    FillCase(
        "targets split the position in whole lots; the last takes the rest",
        ROWS,
        instrument=FUTURE,
        config={"quantity": 100},
        entries=["10:00"],
        stops={"10:00": 99.0},
        targets=(Target(0.5, 0.7), Target(1.5)),  # 70 → 50 (2 lots) at 101.4, 50 at 103.0
        fills=[
            (BUY, 100, 100.6, "10:05", "entry"),
            (SELL, 50, 101.4, "10:05", "target1"),
            (SELL, 50, 103.0, "10:10", "target2"),
        ],
        exit_reasons=["target", "target"],
    ),
    FillCase(
        "an entry filled at or through its stop is closed at the next open",
        ROWS,
        entries=["10:00"],
        stops={"10:00": 100.8},
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 101.9, "10:10", "stop")],
        exit_reasons=["stop"],
    ),
    FillCase(
        "a working stop is cancelled when an exit signal closes the position",
        ROWS,
        entries=["10:00"],
        exits=["10:05"],
        stops={"10:00": 99.0},  # would fill at 10:15 (low 98.0)
        fills=[(BUY, 10, 100.6, "10:05", "entry"), (SELL, 10, 101.9, "10:10", "signal")],
    ),
    FillCase(
        "a short entry while long reverses the position in one order",
        ROWS,
        entries=["10:00"],
        short_entries=["10:10"],
        config={"product": ProductType.MARGIN},
        fills=[
            (BUY, 10, 100.6, "10:05", "entry"),
            (SELL, 20, 102.4, "10:15", "entry"),
            (BUY, 10, 97.5, "10:25", "end_of_data"),
        ],
        exit_reasons=["signal", "end_of_data"],
    ),
    FillCase(
        "CNC (delivery) cannot sell short",
        ROWS,
        short_entries=["10:00"],
        fills=[],
        rejections=["short selling is not allowed for CNC (delivery); use INTRADAY or MARGIN"],
    ),
    FillCase(
        "an order the free margin cannot pay for at the last close is refused",
        ROWS,
        entries=["10:00"],
        config={"quantity": 5000},
        fills=[],
        rejections=[
            "insufficient funds: needs ₹502,500.00 margin for 5000 at ₹100.50 (CNC), "
            "₹100,000.00 free"
        ],
    ),
    FillCase(
        "funds are checked again at the fill price",
        ROWS,
        entries=["10:00"],
        config={"capital": 1005.0},  # 10 × 100.5 at the close, 10 × 100.6 at the fill
        fills=[],
        rejections=[
            "insufficient funds: needs ₹1,006.00 margin for 10 at ₹100.60 (CNC), ₹1,005.00 "
            "free at the fill"
        ],
    ),
    FillCase(
        "without a quantity, entries are sized to the free margin with 1% headroom",
        ROWS,
        entries=["10:00"],
        config={"quantity": None},  # 100 000 / (100.5 × 1.01) = 985.2
        fills=[(BUY, 985, 100.6, "10:05", "entry"), (SELL, 985, 97.5, "10:25", "end_of_data")],
    ),
    FillCase(
        "F&O entries are sized in whole lots at the intraday leverage",
        ROWS,
        instrument=FUTURE,
        entries=["10:00"],
        config={"quantity": None},  # 500 000 / (100.5 × 1.01) / 25 = 197.03 lots
        fills=[
            (BUY, 4925, 100.6, "10:05", "entry"),
            (SELL, 4925, 97.5, "10:25", "end_of_data"),
        ],
    ),
    FillCase(
        "an F&O quantity must be a multiple of the lot size in force that day",
        ROWS,
        instrument=FUTURE,
        entries=["10:00"],
        config={"quantity": 30},
        fills=[],
        rejections=["quantity 30 is not a multiple of the lot size 25 in force on 2024-05-02"],
    ),
    FillCase(
        "intraday entries only when placed inside the entry window (judged at the bar's close)",
        DAY_ROWS,
        config={"mode": "intraday"},
        entries=["09:15", "14:25", "15:10"],  # closes 09:20 and 14:30 (inclusive): in; 15:15 out
        exits=["09:20", "14:30"],
        fills=[
            (BUY, 10, 100.2, "09:20", "entry"),
            (SELL, 10, 101.0, "14:25", "signal"),
            (BUY, 10, 101.2, "14:30", "entry"),
            (SELL, 10, 101.1, "15:10", "signal"),
        ],
        rejections=["entry at 15:15 IST is outside the intraday entry window 09:20–14:30 IST"],
    ),
    FillCase(
        "intraday positions are squared off at the open of the first bar at or after 15:15",
        DAY_ROWS,
        config={"mode": "intraday", "slippage_ticks": 1},
        entries=["09:15"],
        stops={"09:15": 99.0},
        fills=[(BUY, 10, 100.25, "09:20", "entry"), (SELL, 10, 101.0, "15:15", "square_off")],
        exit_reasons=["square_off"],
    ),
    FillCase(
        "the square-off cancels an entry still working at that bar",
        DAY_ROWS,
        config={"mode": "intraday", "entry_end": time(15, 0), "square_off": time(15, 10)},
        entries=["14:30"],  # placed at 14:35 (inside the window), due at the 15:10 bar's open
        fills=[],
    ),
    FillCase(
        "without a bar at or after 15:15 the square-off is at the day's last close",
        DAY_ROWS[:5],
        config={"mode": "intraday"},
        entries=["09:15"],
        fills=[(BUY, 10, 100.2, "09:20", "entry"), (SELL, 10, 101.0, "15:15", "square_off")],
    ),
)
