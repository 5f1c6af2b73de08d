"""The engine's journal: where orders, fills, round trips, rejections and strategy log lines
go.

The engine writes through the small :class:`Journal` protocol; a backtest collects everything in
memory (:class:`MemoryJournal`, persisted afterwards by ``backtest/journal.py``), live trading
writes to the trading database as events happen. An order is recorded before it reaches the
broker (``record_order``: the object, whose status the broker's events then move on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from fyerstrade.domain import Fill, Order, RoundTrip, Side


@dataclass(slots=True, frozen=True)
class Rejection:
    """An order the order manager or the broker refused, and why."""

    ts: int
    symbol: str
    side: Side
    quantity: int
    reason: str


@dataclass(slots=True, frozen=True)
class LogLine:
    """A line from ``ctx.log()`` (or the engine) for the debug log."""

    ts: int
    level: str
    symbol: str
    message: str


class Journal(Protocol):
    def record_order(self, order: Order) -> None: ...
    def record_fill(self, fill: Fill) -> None: ...
    def record_trade(self, trade: RoundTrip) -> None: ...
    def record_rejection(self, rejection: Rejection) -> None: ...
    def record_log(self, line: LogLine) -> None: ...


@dataclass
class MemoryJournal:
    """Keeps every record in lists (a backtest's journal). ``orders`` holds each order handed to
    the broker once (the object, so it shows its final state)."""

    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    trades: list[RoundTrip] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)

    def record_order(self, order: Order) -> None:
        self.orders.append(order)

    def record_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def record_trade(self, trade: RoundTrip) -> None:
        self.trades.append(trade)

    def record_rejection(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)

    def record_log(self, line: LogLine) -> None:
        self.logs.append(line)
