"""The kernel's fills and round trips as the column sequences of a ``BacktestResult``
(:mod:`fyerstrade.backtest.columns`): the same values ``records.fills_of`` and
``records.round_trips`` give as objects, with no object built until one is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fyerstrade.backtest.columns import Coded, FillColumns, Numbered, TradeColumns
from fyerstrade.domain import Side
from fyerstrade.trading.portfolio import exit_reason

from . import layout as lay
from .inputs import PRODUCTS, KernelInputs
from .records import tag_name

_SIDES = (Side.BUY, Side.SELL)  # code 0: a buy (side > 0), code 1: a sell


def _sides(direction: npt.NDArray[Any]) -> Coded:
    return Coded((direction <= 0).astype(np.int8), _SIDES)


def fill_columns(
    records: npt.NDArray[np.void], inputs: KernelInputs, entry_tag: str
) -> FillColumns:
    """The fill records (``records.FILL_DTYPE``) as a :class:`FillColumns`."""
    tags = {code: tag_name(code, entry_tag) for code in np.unique(records["tag"]).tolist()}
    return FillColumns(
        {
            "order_id": Numbered("O", records["order"]),
            "symbol": Coded(records["symbol"], inputs.symbols),
            "side": _sides(records["side"]),
            "quantity": np.ascontiguousarray(records["quantity"]),
            "price": np.ascontiguousarray(records["price"]),
            "ts": np.ascontiguousarray(records["ts"]),
            "costs": np.ascontiguousarray(records["costs"]),
            "product": Coded(records["product"], PRODUCTS),
            "tag": Coded(records["tag"], tags),
        }
    )


def trade_columns(
    table: npt.NDArray[np.float64], inputs: KernelInputs, entry_tag: str
) -> TradeColumns:
    """The kernel's round-trip table (``layout.T_*`` columns) as a :class:`TradeColumns`."""
    tag = table[:, lay.T_TAG].astype(np.int64)
    reasons = {code: exit_reason(tag_name(code, entry_tag)) for code in np.unique(tag).tolist()}

    def ints(col: int) -> npt.NDArray[np.int64]:
        return table[:, col].astype(np.int64)

    def floats(col: int) -> npt.NDArray[np.float64]:
        return np.ascontiguousarray(table[:, col])

    return TradeColumns(
        {
            "symbol": Coded(ints(lay.T_SYM), inputs.symbols),
            "side": _sides(ints(lay.T_SIDE)),
            "quantity": ints(lay.T_QTY),
            "entry_ts": ints(lay.T_ENTRY_TS),
            "entry_price": floats(lay.T_ENTRY_PRICE),
            "exit_ts": ints(lay.T_EXIT_TS),
            "exit_price": floats(lay.T_EXIT_PRICE),
            "pnl": floats(lay.T_PNL),
            "costs": floats(lay.T_COSTS),
            "exit_reason": Coded(tag, reasons),
            "product": Coded(ints(lay.T_PRODUCT), PRODUCTS),
        }
    )
