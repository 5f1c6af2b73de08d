"""Flattening a Fyers account: cancel every working order, then close every open position, until
the broker shows nothing working and nothing open (:func:`flatten_account`).

Used by the kill switch when no engine owns the broker (``fyerstrade live kill`` with the engine
stopped or dead). Order matters: resting orders (stop legs included, which Fyers shows as pending
or in transit) are cancelled *first*, so that no stop can trigger and re-open a position while it
is being closed. Positions are closed by Fyers' own exit (a protected market order per position
id, never the SDK's exit-everything default). Whatever is still working or open is tried again
every ``retry_every`` seconds until ``deadline``; what remains is reported, not hidden.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fyerstrade.errors import BrokerError, RetryableError
from fyerstrade.fyers.order_gateway import OrderGateway

__all__ = ["FlattenReport", "flatten_account"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FlattenReport:
    """What flattening did and what (if anything) is left."""

    cancelled: list[str] = field(default_factory=list)  # broker order ids
    exited: list[str] = field(default_factory=list)  # position ids
    working: list[str] = field(default_factory=list)  # orders still working at the end
    open: list[str] = field(default_factory=list)  # positions still open at the end
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def flat(self) -> bool:
        return not self.working and not self.open

    def describe(self) -> str:
        head = (
            f"cancelled {len(self.cancelled)} order(s), exited {len(self.exited)} position(s) "
            f"in {self.seconds:.1f} s"
        )
        if self.flat:
            return f"{head}; nothing is working or open"
        left = []
        if self.working:
            left.append(f"orders still working: {', '.join(self.working)}")
        if self.open:
            left.append(f"positions still open: {', '.join(self.open)}")
        return f"{head}; NOT FLAT: {'; '.join(left)}"


def flatten_account(
    gateway: OrderGateway,
    *,
    deadline: float = 30.0,
    retry_every: float = 2.0,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FlattenReport:
    """Cancel every working order, then exit every open position; repeat until flat or
    ``deadline`` seconds have passed."""
    report = FlattenReport()
    start = monotonic()
    while True:
        try:
            working = [o for o in gateway.orderbook() if o.state.is_working]
            for order in working:
                gateway.cancel(order.broker_id)
                if order.broker_id not in report.cancelled:
                    report.cancelled.append(order.broker_id)
            still = [o.broker_id for o in gateway.orderbook() if o.state.is_working]
            positions = [p for p in gateway.positions() if p.net_qty]
            if not still:
                for position in positions:
                    gateway.exit_position(position.position_id)
                    if position.position_id not in report.exited:
                        report.exited.append(position.position_id)
            done_orders = [o.broker_id for o in gateway.orderbook() if o.state.is_working]
            done_positions = [p.position_id for p in gateway.positions() if p.net_qty]
        except (BrokerError, RetryableError) as exc:
            log.warning("flattening: %s; trying again", exc)
            report.errors.append(str(exc))
            done_orders, done_positions = ["(unknown)"], ["(unknown)"]
        report.working, report.open = done_orders, done_positions
        report.seconds = monotonic() - start
        if report.flat or report.seconds >= deadline:
            return report
        sleep(min(retry_every, max(deadline - report.seconds, 0.0)))
