"""The simulated trading account: today's positions per (symbol, product), cash, realized P&L and
the margin that positions and open orders block (:class:`Account`).

Positions follow Fyers' ``/positions`` model: one row per symbol and product (``id`` is
``<symbol>-<product>``), the day's buy and sell quantities and values, the net quantity at its
average cost, realized P&L on the closed part. Closing quantity is priced against the average
cost (FIFO and average cost give the same realized P&L for one open lot).

Funds: the account starts the day with ``funds`` rupees; realized P&L adds to it; margin is
blocked by open positions (at their average cost) and by open orders for the part that would
grow a position (an order that only reduces a position blocks nothing). The simulator charges no
brokerage or taxes (a real contract note does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fyerstrade.sim.matching import margin_rate
from fyerstrade.sim.universe import Kind, SimInstrument

SHORT_OPTION_RATE = 0.15  # of the strike's notional, for a written option


@dataclass(slots=True)
class SimPosition:
    """One symbol and product, today."""

    inst: SimInstrument
    product: str
    buy_qty: int = 0
    buy_val: float = 0.0
    sell_qty: int = 0
    sell_val: float = 0.0
    net_qty: int = 0
    net_avg: float = 0.0
    realized: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.inst.symbol}-{self.product}"

    @property
    def side(self) -> int:
        """1 long, -1 short, 0 closed (Fyers' position side)."""
        return (self.net_qty > 0) - (self.net_qty < 0)

    def apply(self, side: int, qty: int, price: float) -> None:
        """Book a fill of ``qty`` at ``price`` on ``side`` (1 buy, -1 sell)."""
        if side > 0:
            self.buy_qty += qty
            self.buy_val += qty * price
        else:
            self.sell_qty += qty
            self.sell_val += qty * price
        signed = side * qty
        if self.net_qty == 0 or (self.net_qty > 0) == (signed > 0):
            total = abs(self.net_qty) + qty
            self.net_avg = (abs(self.net_qty) * self.net_avg + qty * price) / total
            self.net_qty += signed
            return
        closing = min(qty, abs(self.net_qty))
        self.realized += closing * (price - self.net_avg) * (1 if self.net_qty > 0 else -1)
        self.net_qty += signed
        if self.net_qty == 0:
            self.net_avg = 0.0
        elif (self.net_qty > 0) == (signed > 0):  # flipped: the rest opens at this price
            self.net_avg = price

    def unrealized(self, ltp: float) -> float:
        return (ltp - self.net_avg) * self.net_qty if self.net_qty else 0.0


def margin_for(inst: SimInstrument, product: str, qty: int, price: float, short: bool) -> float:
    """Margin blocked by ``qty`` units at ``price`` (``short``: the units are sold short)."""
    if qty <= 0:
        return 0.0
    if inst.kind is Kind.OPTION and short:
        return qty * inst.strike * SHORT_OPTION_RATE
    return qty * price * margin_rate(inst.kind, product)


class Account:
    """Cash, positions and margin of the one simulated client (not thread-safe: the exchange
    holds its lock around every call)."""

    def __init__(self, funds: float) -> None:
        self.start_funds = funds
        self.positions: dict[tuple[str, str], SimPosition] = {}

    def position(self, inst: SimInstrument, product: str) -> SimPosition:
        key = (inst.symbol, product)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = SimPosition(inst, product)
        return pos

    def net(self, symbol: str, product: str) -> int:
        pos = self.positions.get((symbol, product))
        return pos.net_qty if pos is not None else 0

    @property
    def realized(self) -> float:
        return sum(p.realized for p in self.positions.values())

    @property
    def balance(self) -> float:
        """Cash: the day's starting funds plus realized P&L."""
        return self.start_funds + self.realized

    def position_margin(self) -> float:
        return sum(
            margin_for(p.inst, p.product, abs(p.net_qty), p.net_avg, p.net_qty < 0)
            for p in self.positions.values()
        )

    def order_margin(
        self, inst: SimInstrument, product: str, side: int, qty: int, price: float, pending: int
    ) -> float:
        """Margin an order of ``qty`` on ``side`` needs, given the position and ``pending``
        (signed quantity of the symbol's other open orders in the same product): only the part
        that grows the position counts."""
        exposure = self.net(inst.symbol, product) + pending
        if side > 0:
            growing = qty - max(0, min(qty, -exposure)) if exposure < 0 else qty
        else:
            growing = qty - max(0, min(qty, exposure)) if exposure > 0 else qty
        return margin_for(inst, product, growing, price, short=side < 0)

    def unrealized(self, ltp: Callable[[SimInstrument], float]) -> float:
        return sum(p.unrealized(ltp(p.inst)) for p in self.positions.values() if p.net_qty)

    def available(self, blocked_by_orders: float, unrealized: float) -> float:
        """What a new order may use: cash less margin in use, less any mark-to-market loss."""
        return self.balance - self.position_margin() - blocked_by_orders + min(0.0, unrealized)

    def open_positions(self) -> Iterable[SimPosition]:
        return [p for p in self.positions.values() if p.net_qty]

    def convert(self, pos: SimPosition, qty: int, to_product: str) -> None:
        """Move ``qty`` of an open position to another product at its average cost."""
        side = pos.side
        price = pos.net_avg
        target = self.position(pos.inst, to_product)
        # Out of the old product as if closed at cost (no P&L), into the new one at cost.
        pos.net_qty -= side * qty
        if side > 0:
            pos.buy_qty -= qty
            pos.buy_val -= qty * price
            target.buy_qty += qty
            target.buy_val += qty * price
        else:
            pos.sell_qty -= qty
            pos.sell_val -= qty * price
            target.sell_qty += qty
            target.sell_val += qty * price
        if pos.net_qty == 0:
            pos.net_avg = 0.0
        total = abs(target.net_qty) + qty
        target.net_avg = (abs(target.net_qty) * target.net_avg + qty * price) / total
        target.net_qty += side * qty
