"""Portfolio: cash, net positions (long and short) with average price, realized and unrealized
P&L, equity and exposure, changed only by :meth:`Portfolio.apply` of a fill.

Cash accounting is the simple exchange-settled model: a buy pays ``quantity × price``, a sell
receives it (short sales included), and every fill pays its charges. Equity is cash plus the
marked value of all positions (negative for shorts), so it is the same number whether a position
is long, short or flat. Margin is the order manager's business, not the portfolio's.

Round trips: every fill that reduces a position closes that quantity as one :class:`RoundTrip`
(entry = the position's average price and first-entry time; charges = the entry charges carried
in proportion plus this fill's charges), so a partial exit (e.g. 70 % at a first target) is its
own round trip, as in backtesting.py. A fill that reverses a position closes the old one and
opens the rest the other way.
"""

from __future__ import annotations

from fyerstrade.domain import Fill, Position, ProductType, RoundTrip
from fyerstrade.trading.enum_members import BUY, SELL, SIGN

EXIT_REASONS = ("signal", "stop", "target", "square_off", "end_of_data", "risk", "manual")
_EXACT = frozenset(EXIT_REASONS)


def exit_reason(tag: str) -> str:
    """Map an order tag to a round-trip exit reason (``target1`` -> ``target``)."""
    if tag in _EXACT:
        return tag
    if not tag:
        return "signal"
    for reason in EXIT_REASONS:
        if tag.startswith(reason):
            return reason
    return "signal"


class Portfolio:
    """Cash and net positions; see the module docstring for the accounting rules."""

    __slots__ = ("cash", "initial_cash", "positions", "realized_pnl", "total_costs")

    def __init__(self, cash: float) -> None:
        self.initial_cash = float(cash)
        self.cash = float(cash)
        self.positions: dict[str, Position] = {}
        self.realized_pnl = 0.0
        self.total_costs = 0.0

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos

    def quantity(self, symbol: str) -> int:
        pos = self.positions.get(symbol)
        return 0 if pos is None else pos.quantity

    def mark(self, symbol: str, price: float) -> None:
        """Set the price unrealized P&L and equity use for ``symbol``."""
        self.position(symbol).last_price = price

    def apply(self, fill: Fill) -> list[RoundTrip]:
        """Book a fill: cash, position, average price, realized P&L; return closed round trips."""
        symbol, quantity, price, costs = fill.symbol, fill.quantity, fill.price, fill.costs
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        signed = quantity * SIGN[fill.side]
        self.cash -= signed * price + costs
        self.total_costs += costs
        pos.last_price = price
        old = pos.quantity
        if old == 0 or (old > 0) == (signed > 0):
            # opening or adding: new average price, entry charges carried
            new = old + signed
            pos.avg_price = (pos.avg_price * abs(old) + price * quantity) / abs(new)
            if old == 0:
                pos.opened_ts = fill.ts
                pos.product = fill.product
                pos.costs = 0.0
            pos.costs += costs
            pos.quantity = new
            return []
        # reducing, closing or reversing
        close_qty = min(abs(old), quantity)
        entry_costs = pos.costs * close_qty / abs(old)
        exit_costs = costs * close_qty / quantity
        direction = 1 if old > 0 else -1
        gross = (price - pos.avg_price) * close_qty * direction
        self.realized_pnl += gross
        pos.realized_pnl += gross
        pos.costs -= entry_costs
        closed = [
            RoundTrip(  # (positional: symbol, side, quantity, entry ts and price, exit ts and
                symbol,  # price, pnl, costs, exit reason, product; faster than keywords)
                BUY if old > 0 else SELL,
                close_qty,
                pos.opened_ts,
                pos.avg_price,
                fill.ts,
                price,
                gross - entry_costs - exit_costs,
                entry_costs + exit_costs,
                exit_reason(fill.tag),
                pos.product,
            )
        ]
        rest = quantity - close_qty
        pos.quantity = old + signed
        if pos.quantity == 0:
            pos.avg_price = 0.0
            pos.costs = 0.0
        elif rest > 0:  # reversed: the remainder opens the other way
            pos.avg_price = fill.price
            pos.opened_ts = fill.ts
            pos.product = fill.product
            pos.costs = fill.costs * rest / fill.quantity
        return closed

    @property
    def unrealized_pnl(self) -> float:
        return sum(p.unrealized_pnl for p in self.positions.values())

    @property
    def market_value(self) -> float:
        """Signed value of all positions at their last price."""
        return sum(p.quantity * p.last_price for p in self.positions.values())

    @property
    def gross_exposure(self) -> float:
        """Sum of absolute position values at their last price."""
        return sum(abs(p.quantity * p.last_price) for p in self.positions.values())

    @property
    def equity(self) -> float:
        return self.cash + self.market_value

    def margin_used(self, leverage: dict[ProductType, float]) -> float:
        """Margin blocked by open positions: |quantity| × average price / product leverage."""
        return sum(
            abs(p.quantity) * p.avg_price / leverage.get(p.product, 1.0)
            for p in self.positions.values()
            if p.quantity
        )
