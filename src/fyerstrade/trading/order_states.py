"""The order state machine: which status an event moves an order to, and which moves exist.

Every status change is an event (``trading/events.py``) with a time and, where it matters, a
reason. A move the table does not list — a fill after a cancel, an acceptance of a filled
order — is an :class:`~fyerstrade.errors.OrderStateError`: the broker and our books disagree,
and trading must stop rather than guess. ``UNKNOWN`` is a state of its own: the broker could
not say whether the order reached the exchange; only its next report (or a reconciliation)
moves it on, to any state it may really be in.
"""

from __future__ import annotations

from collections.abc import Mapping

from fyerstrade.domain import OPEN_STATUSES, Order, OrderStatus
from fyerstrade.errors import OrderStateError
from fyerstrade.trading.events import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderUnknown,
)

__all__ = ["EVENT_STATUS", "OPEN", "TRANSITIONS", "check_transition", "next_status"]

NEW = OrderStatus.NEW
SUBMITTED = OrderStatus.SUBMITTED
PENDING = OrderStatus.PENDING
PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED
FILLED = OrderStatus.FILLED
CANCELLED = OrderStatus.CANCELLED
REJECTED = OrderStatus.REJECTED
EXPIRED = OrderStatus.EXPIRED
UNKNOWN = OrderStatus.UNKNOWN

_ENDS = frozenset({PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED, EXPIRED})

OPEN = OPEN_STATUSES

#: status → the statuses it may move to. Terminal statuses move nowhere.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    NEW: frozenset({SUBMITTED, REJECTED}),
    SUBMITTED: _ENDS | {PENDING, UNKNOWN},
    PENDING: _ENDS | {UNKNOWN},
    PARTIALLY_FILLED: frozenset({PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED, UNKNOWN}),
    UNKNOWN: _ENDS | {PENDING},
    FILLED: frozenset(),
    CANCELLED: frozenset(),
    REJECTED: frozenset(),
    EXPIRED: frozenset(),
}

#: the status each kind of event moves an order to
EVENT_STATUS: Mapping[type, OrderStatus] = {
    OrderAccepted: PENDING,
    OrderPartiallyFilled: PARTIALLY_FILLED,
    OrderFilled: FILLED,
    OrderCancelled: CANCELLED,
    OrderRejected: REJECTED,
    OrderExpired: EXPIRED,
    OrderUnknown: UNKNOWN,
}


def check_transition(order: Order, new: OrderStatus, why: str) -> None:
    """Raise OrderStateError when ``order`` cannot move to ``new``; ``why`` names the cause."""
    if new not in TRANSITIONS[order.status]:
        raise OrderStateError(
            f"order {order.id} ({order.side} {order.quantity} {order.symbol}) cannot go from "
            f"{order.status} to {new} ({why}); the broker and the books disagree: trading stops"
        )


def next_status(order: Order, event: OrderEvent) -> OrderStatus:
    """The status ``event`` moves ``order`` to (OrderStateError when impossible, or when a
    fill is more than the order has left)."""
    new = EVENT_STATUS[type(event)]
    check_transition(order, new, type(event).__name__)
    if isinstance(event, OrderPartiallyFilled | OrderFilled):
        left = order.quantity - order.filled_quantity
        if event.quantity <= 0 or event.quantity > left:
            raise OrderStateError(
                f"order {order.id} ({order.side} {order.quantity} {order.symbol}): a fill of "
                f"{event.quantity} with {left} left; the broker and the books disagree: "
                "trading stops"
            )
        if isinstance(event, OrderPartiallyFilled) and event.quantity == left:
            raise OrderStateError(
                f"order {order.id}: a partial fill of all {left} left; the broker should "
                "report it filled: trading stops"
            )
    return new
