"""Order checks before an order reaches the broker.

:class:`OrderRules` answers "may this order be placed, and if not, why" with a reason a trader
can act on; the engine records every refusal as a ``Rejection``. Checks, in order:

1. the quantity is positive, and the symbol is not an index (an index is read, never traded);
2. for F&O, the quantity is a multiple of the lot size in force that day;
3. limit and stop prices are positive (they are rounded to the tick size by the engine);
4. a CNC (delivery) order may not open a short position;
5. (the session's: the entry window and the risk limits, asked of the session guard,
   ``trading/guard.py``, for an order that opens or increases a position;)
6. the margin the opening part needs (``quantity × price / leverage``: leverage 1 for CNC, the
   configured intraday leverage for INTRADAY and MARGIN) is no more than the free margin
   (equity minus the margin blocked by open positions). Checked at placement against the last
   close, and by the simulated venue again at the fill price.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fyerstrade.calendar import to_ist
from fyerstrade.domain import Instrument, InstrumentKind, Order, ProductType, Side
from fyerstrade.trading.defaults import RUN_DEFAULTS
from fyerstrade.trading.enum_members import CNC, LIMIT, SELL, SIGN, STOP, STOP_LIMIT

INDEX = InstrumentKind.INDEX


def opening_quantity(position: int, side: Side, quantity: int) -> int:
    """The part of an order that opens or increases exposure (0 for a pure exit)."""
    signed = quantity * SIGN[side]
    if position == 0 or (position > 0) == (signed > 0):
        return quantity
    return max(0, quantity - abs(position))


@dataclass(frozen=True)
class OrderRules:
    intraday_leverage: float = RUN_DEFAULTS.intraday_leverage

    leverages: dict[ProductType, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lev = {p: (1.0 if p is CNC else self.intraday_leverage) for p in ProductType}
        object.__setattr__(self, "leverages", lev)

    def leverage(self, product: ProductType) -> float:
        return self.leverages[product]

    def static_reason(
        self, order: Order, instrument: Instrument, position: int, now: int
    ) -> str | None:
        """Checks 1–4 (everything but the session and money); None when the order passes."""
        if order.quantity <= 0:
            return f"quantity must be positive, got {order.quantity}"
        if instrument.kind is INDEX or instrument.symbol.endswith("-INDEX"):
            return f"{instrument.symbol} is an index and cannot be traded; trade its futures"
        lot = instrument.lot_size
        if lot > 1 and order.quantity % lot and instrument.is_derivative:
            day = to_ist(now).date().isoformat()
            return (
                f"quantity {order.quantity} is not a multiple of the lot size {lot} "
                f"in force on {day}"
            )
        if order.order_type in (LIMIT, STOP_LIMIT) and (
            order.limit_price is None or order.limit_price <= 0
        ):
            return f"a {order.order_type} order needs a positive limit price"
        if order.order_type in (STOP, STOP_LIMIT) and (
            order.stop_price is None or order.stop_price <= 0
        ):
            return f"a {order.order_type} order needs a positive stop price"
        if (
            order.side is SELL
            and order.product is CNC
            and opening_quantity(position, order.side, order.quantity)
        ):
            return "short selling is not allowed for CNC (delivery); use INTRADAY or MARGIN"
        return None

    def funds_reason(
        self, opening: int, price: float, product: ProductType, free_margin: float
    ) -> str | None:
        """Check 6: None when ``free_margin`` covers the opening quantity at ``price``."""
        if opening <= 0:
            return None
        needed = opening * price / self.leverages[product]
        if needed > free_margin + 1e-9:
            return (
                f"insufficient funds: needs ₹{needed:,.2f} margin for {opening} at "
                f"₹{price:,.2f} ({product}), ₹{max(free_margin, 0.0):,.2f} free"
            )
        return None
