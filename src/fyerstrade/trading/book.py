"""The simulated book: orders accepted by a simulated broker, waiting for a bar or tick to fill
them, and the order in which one bar matches them (market, then stops, then limits; then by
arrival)."""

from __future__ import annotations

from fyerstrade.domain import Order
from fyerstrade.trading.fills import PRIORITY

__all__ = ["WorkingOrder", "match_order"]


class WorkingOrder:
    """An accepted order waiting in the simulated book.

    ``active_from`` is the first bar index it may fill in; ``ref_open`` replaces the bar's open
    for the gap rule when the order was placed inside the bar (from ``on_fill``)."""

    __slots__ = ("active_from", "order", "priority", "reduce_only", "ref_open", "seq")

    def __init__(
        self, order: Order, active_from: int, reduce_only: bool, ref_open: float | None, seq: int
    ) -> None:
        self.order = order
        self.active_from = active_from
        self.reduce_only = reduce_only
        self.ref_open = ref_open
        self.priority = PRIORITY[order.order_type]
        self.seq = seq


def match_order(w: WorkingOrder) -> tuple[int, int]:
    return (w.priority, w.seq)
