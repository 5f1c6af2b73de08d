"""Order events: what a broker reports about an order, and all the engine books.

A broker (the simulated venue, paper trading, Fyers) reports every change of an order as one of
these frozen records; :meth:`~fyerstrade.trading.engine.TradingEngine.apply` checks it against
the order's state (``trading/order_states.py``) and books exactly what it says. Each event
names our order id, the broker's order id and the broker's time (epoch seconds), so events may
arrive at any moment — inside ``submit`` (the simulated venue answers at once), while a bar or
tick is matched, or later from a broker's own thread of updates.

Life of an order::

    NEW ─► SUBMITTED ─► PENDING ─► PARTIALLY_FILLED ─► FILLED
     │          │           │              │
     │          └───────────┴──────────────┴─► CANCELLED / REJECTED / EXPIRED / UNKNOWN
     └─► REJECTED (refused before the broker: a Rejection in the journal)

Events are named tuples: immutable, and cheap to build on the backtest's hot path (a frozen
dataclass costs three times as much per event). Two events are equal only when they are of the
same kind with the same values.

``OrderFilled`` is the fill that completes the order: nothing of it stays working. Its
quantity is normally the rest of the order; a reduce-only exit clipped to a smaller position at
the fill completes with less (``Order.filled_quantity < Order.quantity``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple, TypeVar, cast

__all__ = [
    "OrderAccepted",
    "OrderCancelled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderPartiallyFilled",
    "OrderRejected",
    "OrderUnknown",
    "from_fields",
]


class OrderAccepted(NamedTuple):
    """The broker took the order; it is working."""

    order_id: str
    ts: int
    broker_id: str = ""


class OrderPartiallyFilled(NamedTuple):
    """Part of the order executed; the rest keeps working."""

    order_id: str
    ts: int
    quantity: int
    price: float
    broker_id: str = ""
    trade_id: str = ""  # the exchange's id of this execution, when the broker has one


class OrderFilled(NamedTuple):
    """The execution that completes the order (see the module docstring)."""

    order_id: str
    ts: int
    quantity: int
    price: float
    broker_id: str = ""
    trade_id: str = ""


class OrderCancelled(NamedTuple):
    """No more of the order will execute (asked for, or the broker's own decision)."""

    order_id: str
    ts: int
    broker_id: str = ""
    reason: str = ""


class OrderRejected(NamedTuple):
    """The broker refused the order, before or at the fill (e.g. funds at the fill price)."""

    order_id: str
    ts: int
    reason: str
    broker_id: str = ""


class OrderExpired(NamedTuple):
    """The order's validity ran out (a day order at the close)."""

    order_id: str
    ts: int
    broker_id: str = ""
    reason: str = ""


class OrderUnknown(NamedTuple):
    """The broker cannot tell whether the order reached the exchange (a timeout, a dropped
    connection): nothing is assumed until it reports again."""

    order_id: str
    ts: int
    reason: str
    broker_id: str = ""


OrderEvent = (
    OrderAccepted
    | OrderPartiallyFilled
    | OrderFilled
    | OrderCancelled
    | OrderRejected
    | OrderExpired
    | OrderUnknown
)


def _same(self: tuple[Any, ...], other: object) -> bool:
    return type(self) is type(other) and tuple.__eq__(self, other) is True


def _differ(self: tuple[Any, ...], other: object) -> bool:
    return not _same(self, other)


def _hash(self: tuple[Any, ...]) -> int:
    return hash((type(self).__name__, *self))


for _kind in (
    OrderAccepted,
    OrderPartiallyFilled,
    OrderFilled,
    OrderCancelled,
    OrderRejected,
    OrderExpired,
    OrderUnknown,
):
    # a tuple compares by values only; an event also by its kind (cancelled ≠ expired)
    setattr(_kind, "__eq__", _same)  # noqa: B010
    setattr(_kind, "__ne__", _differ)  # noqa: B010
    setattr(_kind, "__hash__", _hash)  # noqa: B010


_E = TypeVar("_E", bound=tuple[Any, ...])


def from_fields(kind: type[_E]) -> Callable[[tuple[Any, ...]], _E]:
    """A constructor of ``kind`` from a tuple of *all* its fields, in order (no defaults):
    the event a broker's hot path builds without the named tuple's generated ``__new__``, a
    Python call of its own (the simulated venue reports two events per order)."""
    return cast(Callable[[tuple[Any, ...]], _E], partial(tuple.__new__, kind))
