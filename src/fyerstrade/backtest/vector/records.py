"""The kernel's output as records: fills (a numpy structured array, the one canonical output of a
simulation, as vectorbt's order records are), and the views the rest of the platform reads.

From the fill records come the ``Fill`` objects, the round trips (booked by the same
``Portfolio.apply`` the event engine uses), the equity, cash and exposure curves (rebuilt from
each fill's cash and position, as the event engine rebuilds its own), and the rejections with the
reasons ``OrderRules`` gives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from fyerstrade.domain import Fill, Instrument, Order, OrderType, RoundTrip, Side
from fyerstrade.trading.journal import Rejection
from fyerstrade.trading.portfolio import Portfolio

from . import layout as lay
from .inputs import PRODUCTS, KernelInputs

FILL_DTYPE = np.dtype(
    [
        ("order", np.int64),  # the engine's order number (order id "O<n>")
        ("step", np.int64),  # index of the merged timeline's step
        ("symbol", np.int32),  # index into the run's symbols
        ("bar", np.int64),  # index into that symbol's bars
        ("ts", np.int64),
        ("side", np.int8),  # +1 buy, -1 sell
        ("quantity", np.int64),
        ("price", np.float64),
        ("costs", np.float64),
        ("tag", np.int16),  # kernel.TAG_*
        ("product", np.int8),  # kernel.INTRADAY / CNC / MARGIN
        ("cash", np.float64),  # cash after the fill
        ("position", np.int64),  # the symbol's position after the fill
    ]
)

_KINDS = {lay.MARKET: OrderType.MARKET, lay.STOP: OrderType.STOP, lay.LIMIT: OrderType.LIMIT}


def tag_name(code: int, entry_tag: str) -> str:
    if code == lay.TAG_ENTRY_CUSTOM:
        return entry_tag
    if code >= lay.TAG_TARGET:
        return f"target{code - lay.TAG_TARGET + 1}"
    return _TAGS[code]


_TAGS = {
    lay.TAG_SIGNAL: "signal",
    lay.TAG_ENTRY: "entry",
    lay.TAG_STOP: "stop",
    lay.TAG_SQUARE_OFF: "square_off",
    lay.TAG_END_OF_DATA: "end_of_data",
}


def fill_records(table: npt.NDArray[np.float64], inputs: KernelInputs) -> npt.NDArray[np.void]:
    """The kernel's fill table as a structured array (``bar`` relative to its symbol)."""
    out = np.empty(len(table), dtype=FILL_DTYPE)
    cols = {
        "order": lay.F_SEQ,
        "step": lay.F_STEP,
        "symbol": lay.F_SYM,
        "ts": lay.F_TS,
        "side": lay.F_SIDE,
        "quantity": lay.F_QTY,
        "price": lay.F_PRICE,
        "costs": lay.F_COSTS,
        "tag": lay.F_TAG,
        "product": lay.F_PRODUCT,
        "cash": lay.F_CASH,
        "position": lay.F_POSITION,
    }
    for name, col in cols.items():
        out[name] = table[:, col]
    out["bar"] = table[:, lay.F_BAR].astype(np.int64) - inputs.starts[out["symbol"]]
    return out


def fills_of(records: npt.NDArray[np.void], inputs: KernelInputs, entry_tag: str) -> list[Fill]:
    symbols = inputs.symbols
    return [
        Fill(
            f"O{order}",
            symbols[sym],
            Side.BUY if side > 0 else Side.SELL,
            qty,
            price,
            ts,
            costs,
            PRODUCTS[product],
            tag_name(tag, entry_tag),
        )
        for order, sym, side, qty, price, ts, costs, product, tag in zip(
            records["order"].tolist(),
            records["symbol"].tolist(),
            records["side"].tolist(),
            records["quantity"].tolist(),
            records["price"].tolist(),
            records["ts"].tolist(),
            records["costs"].tolist(),
            records["product"].tolist(),
            records["tag"].tolist(),
            strict=True,
        )
    ]


def round_trips(fills: Sequence[Fill], capital: float) -> list[RoundTrip]:
    """The round trips of ``fills``, booked by ``Portfolio.apply`` as the event engine books
    them."""
    portfolio = Portfolio(capital)
    trips: list[RoundTrip] = []
    for fill in fills:
        trips.extend(portfolio.apply(fill))
    return trips


def curves(
    records: npt.NDArray[np.void], inputs: KernelInputs
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Equity, cash and exposure at each step's close, from the fills' cash and positions and
    the closes (the event engine's equity curve, rebuilt the same way)."""
    step_close = inputs.step_close
    capital = inputs.config.capital
    n = len(step_close)
    steps = np.arange(n)
    ev_step = records["step"]
    ev_cash = records["cash"]
    ev_sym = records["symbol"]
    ev_qty = records["position"].astype(np.float64)
    k = np.searchsorted(ev_step, steps, side="right") - 1
    cash = np.where(k >= 0, ev_cash[np.maximum(k, 0)] if len(ev_cash) else capital, capital)
    value = np.zeros(n)
    gross = np.zeros(n)
    for s, (bars, closes) in enumerate(zip(inputs.bars, inputs.close_ts, strict=True)):
        mask = ev_sym == s
        if not mask.any():
            continue
        s_step, s_qty = ev_step[mask], ev_qty[mask]
        j = np.searchsorted(s_step, steps, side="right") - 1
        qty = np.where(j >= 0, s_qty[np.maximum(j, 0)], 0.0)
        bar = np.searchsorted(closes, step_close, side="right") - 1
        price = np.where(bar >= 0, bars.close[np.maximum(bar, 0)], 0.0)
        value += qty * price
        gross += np.abs(qty * price)
    equity = cash + value
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(equity > 0, gross / equity, 0.0)
    return equity, cash.astype(np.float64), exposure


def rejections_of(table: npt.NDArray[np.float64], inputs: KernelInputs) -> list[Rejection]:
    """The kernel's rejection table with the reasons ``OrderRules`` gives for them."""
    out: list[Rejection] = []
    rules = inputs.rules
    for row in table:
        s = int(row[lay.R_SYM])
        symbol = inputs.symbols[s]
        ts = int(row[lay.R_TS])
        side = Side.BUY if row[lay.R_SIDE] > 0 else Side.SELL
        qty = int(row[lay.R_QTY])
        code = int(row[lay.R_CODE])
        product = PRODUCTS[int(row[lay.R_PRODUCT])]
        price = float(row[lay.R_PRICE])
        if code in (lay.REJ_FUNDS, lay.REJ_FUNDS_AT_FILL):
            reason = rules.funds_reason(
                int(row[lay.R_OPENING]), price, product, float(row[lay.R_FREE])
            )
            if code == lay.REJ_FUNDS_AT_FILL and reason is not None:
                reason = f"{reason} at the fill"
        else:
            kind = _KINDS[int(row[lay.R_KIND])]
            order = Order(
                "",
                symbol,
                side,
                qty,
                kind,
                product,
                limit_price=price if kind is OrderType.LIMIT else None,
                stop_price=price if kind is OrderType.STOP else None,
                created_ts=ts,
            )
            instrument: Instrument = dataclasses.replace(
                inputs.instruments[s], lot_size=int(row[lay.R_LOT])
            )
            reason = rules.static_reason(order, instrument, int(row[lay.R_POSITION]), ts)
        if reason is None:  # pragma: no cover - the kernel and OrderRules disagree
            raise AssertionError(f"the kernel refused an order OrderRules accepts: {row}")
        out.append(Rejection(ts, symbol, side, qty, reason))
    return out
