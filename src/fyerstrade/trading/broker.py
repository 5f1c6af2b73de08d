"""The broker port: where the engine's orders go and where order events come from.

The engine hands a :class:`Broker` orders (``submit``) and cancel requests (``cancel``) and
receives everything that happens to them as events (``trading/events.py``) through the
:class:`EventSink` it binds to the broker: ``sink.apply(event)``. It books exactly what it is
told — a partial fill, a rejection at the fill, a cancel the broker decided on its own.

Market input is the third part of the port: the bars (``on_bar``) and prices (``quote``) the
runner feeds. A simulated venue (``trading/venue.py``: backtests; ``live/paper.py``: paper
trading on ticks) matches its book against them; a real broker (Fyers) ignores them, its
exchange does the matching and its order updates arrive as events on their own thread.

:class:`Account` is what a simulated venue reads of the trading account at a fill (the
position to clip a reduce-only order to, the free margin for the funds check) — a real broker
keeps its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from fyerstrade.domain import Order
from fyerstrade.trading.events import OrderEvent
from fyerstrade.trading.orders import OrderRules
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.symbols import SymbolState

__all__ = ["Account", "Broker", "EventSink"]


class EventSink(Protocol):
    """Where a broker reports order events (the engine)."""

    def apply(self, event: OrderEvent) -> None: ...


class Account(Protocol):
    """The account and market state a simulated venue reads (the engine)."""

    rules: OrderRules
    portfolio: Portfolio

    @property
    def by_symbol(self) -> Mapping[str, SymbolState]: ...

    def now(self) -> int: ...

    def free_margin(self) -> float: ...


class Broker(Protocol):
    def bind(self, sink: EventSink, account: Account) -> None:
        """Report events to ``sink`` from now on (the engine binds itself once)."""

    def submit(self, order: Order) -> None:
        """Send a new order (status SUBMITTED); its fate arrives as events."""

    def cancel(self, order_id: str) -> None:
        """Ask to cancel an open order; an ``OrderCancelled`` (or a fill that came first)
        answers."""

    def on_bar(self, state: SymbolState, i: int) -> None:
        """Market input: bar ``i`` of ``state`` (its open, high, low) has traded."""

    def quote(self, state: SymbolState, price: float, ts: int, *, slippage: bool = True) -> None:
        """Market input: ``state``'s market trades at ``price`` at ``ts``; the next market
        order submitted for it (a square-off, a risk exit) fills there, with the venue's
        slippage unless ``slippage`` is False (the end of the data: a valuation at the last
        close)."""
