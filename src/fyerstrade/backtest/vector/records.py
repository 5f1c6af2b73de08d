"""The kernel's output as records: fills (a numpy structured array, the one canonical output of a
simulation, as vectorbt's order records are), and the views the rest of the platform reads.

From the fill records come the ``Fill`` objects and the equity, cash and exposure curves
(rebuilt from each fill's cash and position, as the event engine rebuilds its own); the round
trips come from the kernel's own table (booked there with ``Portfolio.apply``'s arithmetic); the
rejections get the reasons ``OrderRules`` gives.
"""

from __future__ import annotations

import dataclasses

import numba as nb
import numpy as np
import numpy.typing as npt
from numba import types as nt

from fyerstrade.domain import Fill, Instrument, Order, OrderType, RoundTrip, Side
from fyerstrade.trading.enum_members import BUY, SELL
from fyerstrade.trading.journal import Rejection
from fyerstrade.trading.portfolio import exit_reason

from . import layout as lay
from .inputs import PRODUCTS, KernelInputs
from .layout import B1, F0, F1, F2, I0, I1, RF1, inline, jit

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


@jit(nt.void(F2, I1, nt.Array(nb.from_dtype(FILL_DTYPE), 1, "C")), nrt=False)
def _fill_rows(
    table: npt.NDArray[np.float64], starts: npt.NDArray[np.int64], out: npt.NDArray[np.void]
) -> None:
    """Each row of the kernel's fill table into ``out``'s record, field by field (the
    float-to-int conversions numpy's column assignments make: truncation of whole numbers)."""
    for n in range(table.shape[0]):
        row = table[n]
        rec = out[n]
        s = np.int32(row[lay.F_SYM])
        rec.order = np.int64(row[lay.F_SEQ])
        rec.step = np.int64(row[lay.F_STEP])
        rec.symbol = s
        rec.bar = np.int64(row[lay.F_BAR]) - starts[s]
        rec.ts = np.int64(row[lay.F_TS])
        rec.side = np.int8(row[lay.F_SIDE])
        rec.quantity = np.int64(row[lay.F_QTY])
        rec.price = row[lay.F_PRICE]
        rec.costs = row[lay.F_COSTS]
        rec.tag = np.int16(row[lay.F_TAG])
        rec.product = np.int8(row[lay.F_PRODUCT])
        rec.cash = row[lay.F_CASH]
        rec.position = np.int64(row[lay.F_POSITION])


def fill_records(table: npt.NDArray[np.float64], inputs: KernelInputs) -> npt.NDArray[np.void]:
    """The kernel's fill table as a structured array (``bar`` relative to its symbol), in one
    compiled pass over its rows (thirteen numpy column casts into the packed records took ten
    times as long)."""
    out = np.empty(len(table), dtype=FILL_DTYPE)
    _fill_rows(np.ascontiguousarray(table, dtype=np.float64), inputs.starts, out)
    return out


def fills_of(records: npt.NDArray[np.void], inputs: KernelInputs, entry_tag: str) -> list[Fill]:
    symbols = inputs.symbols
    tags = {code: tag_name(code, entry_tag) for code in np.unique(records["tag"]).tolist()}
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
            tags[tag],
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


def round_trips(
    table: npt.NDArray[np.float64], inputs: KernelInputs, entry_tag: str
) -> list[RoundTrip]:
    """The kernel's round-trip table as ``RoundTrip`` objects: booked in the kernel by
    ``Portfolio.apply``'s arithmetic, line by line (the parity tests hold them equal)."""
    symbols = inputs.symbols
    reasons = {
        code: exit_reason(tag_name(code, entry_tag))
        for code in np.unique(table[:, lay.T_TAG]).astype(np.int64).tolist()
    }
    return [
        RoundTrip(
            symbols[sym],
            BUY if direction > 0 else SELL,
            qty,
            entry_ts,
            entry_price,
            exit_ts,
            exit_price,
            pnl,
            costs,
            reasons[tag],
            PRODUCTS[product],
        )
        for sym, direction, qty, entry_ts, entry_price, exit_ts, exit_price, pnl, costs, tag,
        product in zip(
            *(table[:, c].astype(np.int64).tolist() for c in (lay.T_SYM, lay.T_SIDE, lay.T_QTY,
                                                              lay.T_ENTRY_TS)),
            table[:, lay.T_ENTRY_PRICE].tolist(),
            table[:, lay.T_EXIT_TS].astype(np.int64).tolist(),
            *(table[:, c].tolist() for c in (lay.T_EXIT_PRICE, lay.T_PNL, lay.T_COSTS)),
            *(table[:, c].astype(np.int64).tolist() for c in (lay.T_TAG, lay.T_PRODUCT)),
            strict=True,
        )
    ]  # fmt: skip


@inline
def _point(
    t: int, c: float, value: float, gross: float, equity: npt.NDArray[np.float64],
    cash: npt.NDArray[np.float64], exposure: npt.NDArray[np.float64],
) -> None:  # fmt: skip
    """Step ``t``'s equity (the cash plus the positions' ``value``), cash and exposure."""
    eq = c + value
    equity[t] = eq
    cash[t] = c
    # nothing held: 0.0, as 0.0 / eq is (no division, the slowest step of the loop)
    exposure[t] = gross / eq if eq > 0 and gross != 0.0 else 0.0


@jit(nt.void(I1, I1, I1, I0, RF1, I1, I1, F1, F1, B1, F0, F1, F1, F1))
def _curve_steps(
    step_first: npt.NDArray[np.int64],
    step_sym: npt.NDArray[np.int64],
    step_bar: npt.NDArray[np.int64],
    first: int,
    close: npt.NDArray[np.float64],
    ev_step: npt.NDArray[np.int64],
    ev_sym: npt.NDArray[np.int64],
    ev_cash: npt.NDArray[np.float64],
    ev_qty: npt.NDArray[np.float64],
    traded: npt.NDArray[np.bool_],
    capital: float,
    equity: npt.NDArray[np.float64],
    cash: npt.NDArray[np.float64],
    exposure: npt.NDArray[np.float64],
) -> None:
    """One pass over the steps: the cash and each symbol's position after the last fill at or
    before the step, each traded symbol's last close, summed in symbol order. One symbol's
    timeline (``first`` >= 0, the step tables empty: step ``t`` is its bar ``first + t``) goes
    through a loop of its own, with the same arithmetic."""
    n_sym = len(traded)
    n_steps = len(equity)
    r, c = 0, capital
    if first >= 0:
        q = 0.0
        for t in range(n_steps):
            while r < len(ev_step) and ev_step[r] <= t:
                c = ev_cash[r]
                q = ev_qty[r]
                r += 1
            value, gross = 0.0, 0.0
            if traded[0]:
                x = q * close[first + t]
                value += x
                gross += abs(x)
            _point(t, c, value, gross, equity, cash, exposure)
        return
    qty = np.zeros(n_sym)
    price = np.zeros(n_sym)
    for t in range(n_steps):
        for e in range(step_first[t], step_first[t + 1]):
            price[step_sym[e]] = close[step_bar[e]]
        while r < len(ev_step) and ev_step[r] <= t:
            c = ev_cash[r]
            qty[ev_sym[r]] = ev_qty[r]
            r += 1
        value, gross = 0.0, 0.0
        for s in range(n_sym):
            if traded[s]:
                x = qty[s] * price[s]
                value += x
                gross += abs(x)
        _point(t, c, value, gross, equity, cash, exposure)


def curves(
    records: npt.NDArray[np.void], inputs: KernelInputs
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Equity, cash and exposure at each step's close, from the fills' cash and positions and
    the symbols' last closes (the event engine's equity curve, rebuilt the same way)."""
    n = len(inputs.step_close)
    ev_sym = records["symbol"].astype(np.int64)
    traded = np.zeros(len(inputs.bars), dtype=np.bool_)
    traded[ev_sym] = True
    equity, cash, exposure = np.empty(n), np.empty(n), np.empty(n)
    _curve_steps(
        inputs.step_first, inputs.step_sym, inputs.step_bar,
        inputs.first_bars[0] if len(inputs.bars) == 1 else -1, inputs.px[3],
        records["step"].astype(np.int64), ev_sym, records["cash"].astype(np.float64),
        records["position"].astype(np.float64), traded, float(inputs.config.capital), equity,
        cash, exposure,
    )  # fmt: skip
    return equity, cash, exposure


def rejections_of(table: npt.NDArray[np.float64], inputs: KernelInputs) -> list[Rejection]:
    """The kernel's rejection table with the reasons ``OrderRules`` (and the session guard,
    for the entry window) give for them."""
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
            if reason is None and code == lay.REJ_WINDOW:
                reason = inputs.guard.window_reason(ts)
        if reason is None:  # pragma: no cover - the kernel and OrderRules disagree
            raise AssertionError(f"the kernel refused an order OrderRules accepts: {row}")
        out.append(Rejection(ts, symbol, side, qty, reason))
    return out
