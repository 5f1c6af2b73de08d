"""Enum members bound once as module constants for the per-order hot paths.

Reading ``Side.BUY`` goes through the Enum metaclass (~150 ns in CPython 3.11); a module global is
a dictionary hit. Trading-core modules import these names instead of spelling the members out.
"""

from __future__ import annotations

from fyerstrade.domain import OrderStatus, OrderType, ProductType, Side

BUY = Side.BUY
SELL = Side.SELL
SIGN = {Side.BUY: 1, Side.SELL: -1}

MARKET = OrderType.MARKET
LIMIT = OrderType.LIMIT
STOP = OrderType.STOP
STOP_LIMIT = OrderType.STOP_LIMIT

SUBMITTED = OrderStatus.SUBMITTED
PENDING = OrderStatus.PENDING
PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED
FILLED = OrderStatus.FILLED
CANCELLED = OrderStatus.CANCELLED
REJECTED = OrderStatus.REJECTED

CNC = ProductType.CNC
INTRADAY = ProductType.INTRADAY
MARGIN = ProductType.MARGIN
