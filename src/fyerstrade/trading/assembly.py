"""One assembly of the trading engine for both runners.

:func:`build_engine` turns a :class:`~fyerstrade.trading.spec.TradingSpec` (a ``BacktestConfig``
or a ``LiveConfig``) into the one :class:`~fyerstrade.trading.engine.TradingEngine`: the session
guard (entry window, square-off, risk limits), the order rules (leverage), the cost model, the
default product and the fixed quantity all come from the spec, the same way for a backtest and a
live session. What differs between the runners is handed in: the symbols' states, the clock, the
broker (the simulated venue, the paper broker, Fyers), the portfolio (a live session resumes its
account) and the journal.
"""

from __future__ import annotations

from collections.abc import Sequence

from fyerstrade.domain import DERIVATIVES, ProductType
from fyerstrade.strategies.base import Strategy
from fyerstrade.trading.broker import Broker
from fyerstrade.trading.clock import Clock
from fyerstrade.trading.costs import CostModel, FyersCostModel, ZeroCostModel
from fyerstrade.trading.engine import TradingEngine
from fyerstrade.trading.enum_members import CNC, INTRADAY, MARGIN
from fyerstrade.trading.fills import Slippage
from fyerstrade.trading.guard import SessionGuard
from fyerstrade.trading.journal import Journal
from fyerstrade.trading.orders import OrderRules
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.risk import RiskGate
from fyerstrade.trading.session import SessionRules
from fyerstrade.trading.spec import TradingSpec
from fyerstrade.trading.symbols import SymbolState

__all__ = ["build_engine", "session_guard", "slippage"]


def session_guard(spec: TradingSpec) -> SessionGuard:
    """The spec's session rules and risk limits."""
    return SessionGuard(
        SessionRules(spec.mode, spec.entry_start, spec.entry_end, spec.square_off),
        RiskGate(
            max_daily_loss=spec.risk.max_daily_loss,
            max_open_positions=spec.risk.max_open_positions,
        ),
    )


def slippage(spec: TradingSpec) -> Slippage:
    """The slippage a simulated venue applies to the spec's market and stop fills."""
    return Slippage(spec.slippage_ticks, spec.slippage_bps)


def build_engine(
    spec: TradingSpec,
    strategy: Strategy,
    states: Sequence[SymbolState],
    *,
    clock: Clock,
    broker: Broker,
    portfolio: Portfolio,
    journal: Journal,
    cost_model: CostModel | None = None,
    guard: SessionGuard | None = None,
    product: ProductType | None = None,
) -> TradingEngine:
    """The engine for ``spec`` (see the module docstring). ``cost_model`` overrides the model
    ``spec.costs`` selects; ``guard`` a guard already built from the spec (a backtest marks the
    square-off bars with it first); ``product`` fixes every entry's product (else INTRADAY in
    intraday mode, CNC for equity and MARGIN for F&O in positional mode)."""
    intraday = spec.mode == "intraday"

    fixed = product if product is not None else INTRADAY if intraday else None

    def default_product(st: SymbolState) -> ProductType:  # (asked for every entry)
        if fixed is not None:
            return fixed
        return MARGIN if st.instrument.kind in DERIVATIVES else CNC

    costs = cost_model or (FyersCostModel() if spec.costs else ZeroCostModel())
    return TradingEngine(
        strategy,
        states,
        clock=clock,
        broker=broker,
        portfolio=portfolio,
        rules=OrderRules(spec.intraday_leverage),
        costs=costs,
        journal=journal,
        default_product=default_product,
        fixed_quantity=spec.quantity,
        guard=guard or session_guard(spec),
    )
