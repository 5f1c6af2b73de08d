"""The engine's journal: where orders, fills, round trips, rejections and strategy log lines
go.

The engine writes through the small :class:`Journal` protocol; a backtest collects everything in
memory (:class:`MemoryJournal`, persisted afterwards by ``backtest/journal.py``), live trading
writes to the trading database as events happen. An order is recorded before it reaches the
broker (``record_order``: the object, whose status the broker's events then move on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


class MemoryJournal:
    """Keeps every record in lists (a backtest's journal). ``orders`` holds each order handed to
    the broker once (the object, so it shows its final state).

    The ``record_*`` methods are the lists' own ``append`` (bound once): a backtest records a
    few objects per order, and a Python method around each append was a measurable part of
    the order path."""

    __slots__ = (
        "fills",
        "logs",
        "orders",
        "record_fill",
        "record_log",
        "record_order",
        "record_rejection",
        "record_trade",
        "rejections",
        "trades",
    )

    def __init__(self) -> None:
        self.orders: list[Order] = []
        self.fills: list[Fill] = []
        self.trades: list[RoundTrip] = []
        self.rejections: list[Rejection] = []
        self.logs: list[LogLine] = []
        self.record_order: Callable[[Order], None] = self.orders.append
        self.record_fill: Callable[[Fill], None] = self.fills.append
        self.record_trade: Callable[[RoundTrip], None] = self.trades.append
        self.record_rejection: Callable[[Rejection], None] = self.rejections.append
        self.record_log: Callable[[LogLine], None] = self.logs.append
