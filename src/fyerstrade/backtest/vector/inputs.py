"""Everything about a run that does not depend on the strategy's parameters, as kernel arrays.

:func:`prepare` turns a :class:`~fyerstrade.backtest.engine.BacktestConfig` and its bars into the
arrays the kernel reads: the bars of every symbol concatenated, the merged timeline (bars grouped
by close time, symbols in run order, exactly as the event engine replays them), per bar the entry
window, the square-off marks, the lot size in force and the index of its cost-rate day, and the
cost table itself (every rate of the cost model in force on every day of the data). Built once per
run; the evaluator reuses it for every parameter combination.

A run the kernel cannot reproduce exactly raises :class:`UnsupportedRunError` with the reason,
and the caller uses the event engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from fyerstrade.backtest.engine import BacktestConfig, _close_times
from fyerstrade.backtest.evaluate import distinct_runs
from fyerstrade.calendar import ist_date, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import (
    DAY_SECONDS,
    IST_OFFSET,
    Instrument,
    InstrumentKind,
    ProductType,
    Resolution,
    Side,
)
from fyerstrade.errors import FyersTradeError, InputError
from fyerstrade.trading.cost_rates import Component, CostSegment
from fyerstrade.trading.costs import (
    CostModel,
    FyersCostModel,
    GstBase,
    ZeroCostModel,
    cost_segment,
)
from fyerstrade.trading.engine import SIZING_HEADROOM
from fyerstrade.trading.guard import SessionGuard
from fyerstrade.trading.orders import OrderRules
from fyerstrade.trading.session import SessionRules

from . import bar_pass
from . import layout as lay
from .accounts import close_blocks, empty_blocks
from .limits import risk_reason

InstrumentLookup = Callable[[str, date], Instrument]

PRODUCT_CODE = {
    ProductType.INTRADAY: lay.INTRADAY,
    ProductType.CNC: lay.CNC,
    ProductType.MARGIN: lay.MARGIN,
}
PRODUCTS = {v: k for k, v in PRODUCT_CODE.items()}
# the rate table's component axis, in the kernel's order
COMPONENTS = (
    Component.BROKERAGE,
    Component.STT,
    Component.EXCHANGE,
    Component.IPFT,
    Component.SEBI,
    Component.STAMP,
    Component.DP,
)
# the order in which FyersCostModel.charges looks the rows up (the first missing one is the error)
_LOOKUP_ORDER = (
    Component.BROKERAGE,
    Component.EXCHANGE,
    Component.IPFT,
    Component.SEBI,
    Component.DP,
    Component.STT,
    Component.STAMP,
)
_EPOCH = date(1970, 1, 1)


Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class UnsupportedRunError(FyersTradeError):
    """The run uses something the vectorized engine does not reproduce; the message says what."""


@dataclass
class KernelInputs:
    """A run's arrays for :func:`kernel.simulate` (see the module docstring)."""

    config: BacktestConfig
    symbols: tuple[str, ...]
    bars: tuple[CandleArrays, ...]
    close_ts: tuple[npt.NDArray[np.int64], ...]
    instruments: tuple[Instrument, ...]
    products: tuple[ProductType, ...]
    starts: npt.NDArray[np.int64]  # first global bar index of each symbol (plus the total)
    # open, high, low, close and open time, close time per bar (read-only): one symbol's own
    # arrays (no copy), or the rows of tables holding every symbol's bars end to end
    px: tuple[Floats, Floats, Floats, Floats]
    tm: tuple[Ints, Ints]
    # (4, N) int32, bar-major (layout.BI): flags, lot size, rate day of the open, of the close
    # (indices of rate_days; with no cost rates, IST day numbers)
    bar_i: npt.NDArray[np.int32]
    blocks: npt.NDArray[np.float64]  # one symbol: accounts.close_blocks (else none)
    sym: npt.NDArray[np.int64]  # (S, N_SY)
    tick: npt.NDArray[np.float64]
    # several symbols: per step its first entry of step_bar/step_sym (plus the total), the bars
    # and symbols of its entries; one symbol: empty (step t is bar first_bars[0] + t)
    step_first: npt.NDArray[np.int64]
    step_bar: npt.NDArray[np.int64]
    step_sym: npt.NDArray[np.int64]
    step_ts: npt.NDArray[np.int64]
    step_close: npt.NDArray[np.int64]
    day_end: npt.NDArray[np.uint8]  # 1 at the last step of each IST day
    day_ends: npt.NDArray[np.int64]  # the steps where day_end is 1
    square_offs: npt.NDArray[np.bool_]  # per bar: a square-off at its open or close (or empty)
    first_bars: tuple[int, ...]  # per symbol, its first bar after the warm-up
    cf: npt.NDArray[np.float64]
    ci: npt.NDArray[np.int64]
    rates: npt.NDArray[np.float64]  # (S, D, C, 2, 3): rate, flat, cap
    has_rate: npt.NDArray[np.bool_]  # (S, C, 2)
    rate_err: npt.NDArray[np.int64]  # (S, D, 2): 0, or 1 + index into errors
    errors: tuple[str, ...]
    rate_days: npt.NDArray[np.int64]  # IST day numbers of the D axis
    n_dp_keys: int
    rules: OrderRules
    guard: SessionGuard  # the entry window's wording

    @property
    def n_bars(self) -> int:
        return int(self.starts[-1])

    @property
    def period(self) -> tuple[date, date]:
        """First and last IST date of any traded bar (``BacktestResult.period``)."""
        first = min(int(a.ts[k]) for a, k in zip(self.bars, self.first_bars, strict=True))
        last = max(int(a.ts[-1]) for a in self.bars)
        return ist_date(first), ist_date(last)

    @property
    def days(self) -> npt.NDArray[np.int64]:
        """IST day numbers that have a step, ascending (the days of ``day_end``)."""
        return np.unique(distinct_runs((self.step_ts + IST_OFFSET) // DAY_SECONDS))


def default_product(config: BacktestConfig, instrument: Instrument) -> ProductType:
    """The engine's product for a run's orders (``--product``, else by mode and instrument)."""
    if config.product is not None:
        return config.product
    if config.mode == "intraday":
        return ProductType.INTRADAY
    return ProductType.MARGIN if instrument.is_derivative else ProductType.CNC


def cost_model_reason(cost_model: CostModel | None) -> str | None:
    """Why the kernel cannot price fills with ``cost_model`` (None: it can)."""
    if cost_model is None or type(cost_model) is ZeroCostModel:
        return None
    if type(cost_model) is not FyersCostModel:
        return f"the cost model {type(cost_model).__name__} is not the rate-table model"
    if cost_model._cnc_days:
        return "the cost model carries same-day CNC orders from an earlier run"
    return None


def prepare(
    config: BacktestConfig,
    bars: Mapping[str, CandleArrays],
    instruments: Mapping[str, Instrument],
    lookup: InstrumentLookup | None = None,
    cost_model: CostModel | None = None,
) -> KernelInputs:
    """The kernel's view of a run; ``bars`` are already cut to the run's dates, and bars before
    ``config.start`` are warm-up (signals see them, the timeline starts after them)."""
    reason = risk_reason(config) or cost_model_reason(cost_model)
    if reason is not None:
        raise UnsupportedRunError(reason)
    model: CostModel
    if cost_model is not None:
        model = cost_model
    else:
        model = FyersCostModel() if config.costs else ZeroCostModel()
    res = Resolution(config.resolution)
    session = SessionRules(config.mode, config.entry_start, config.entry_end, config.square_off)
    rules = OrderRules(config.intraday_leverage)
    symbols = tuple(config.symbols)
    arrays = tuple(bars[s] for s in symbols)
    specs = tuple(instruments.get(s) or Instrument(s) for s in symbols)
    closes = tuple(_close_times(a.ts, res) for a in arrays)
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    n = int(starts[-1])

    one = len(symbols) == 1
    # one symbol: the kernel reads its own price and time arrays (zero-width tables: no copy)
    ohlc = np.empty((4, 0 if one else n), dtype=np.float64)
    times = np.empty((2, 0 if one else n), dtype=np.int64)
    bar_i = np.empty((n, lay.N_B), dtype=np.int32).T  # layout.BI: bar-major
    day_range = np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min], dtype=np.int64)
    window = session.entry_bounds()
    ticks = np.empty(len(symbols), dtype=np.float64)
    start = ist_epoch(config.start)
    first_bars = [int(np.searchsorted(a.ts, start)) for a in arrays]
    # one symbol: its steps are its bars from the first after the warm-up, marked in lay_bars
    day_end = np.empty(n - first_bars[0] if one else 0, dtype=np.uint8)
    for s, (a, c, symbol, spec) in enumerate(zip(arrays, closes, symbols, specs, strict=True)):
        lo, hi = int(starts[s]), int(starts[s + 1])
        bar_pass.lay_bars(
            a.open, a.high, a.low, a.close, a.ts, c, lo, spec.lot_size, int(session.intraday),
            *window, ohlc, times, bar_i, day_range, first_bars[0] if one else -1, day_end,
        )  # fmt: skip
        at_open, at_close = session.square_off_bars(a.ts)
        bar_i[lay.B_FLAGS, lo + at_open] |= lay.FLAG_SQ_OPEN
        bar_i[lay.B_FLAGS, lo + at_close] |= lay.FLAG_SQ_CLOSE
        ticks[s] = spec.tick_size
        if lookup is not None:  # the lot size in force on each bar's day (by its close)
            days = bar_i[lay.B_RDAY_CLOSE, lo:hi]
            bar_i[lay.B_LOT, lo:hi], ticks[s] = _lots_and_tick(symbol, spec, days, lookup)
    if isinstance(model, FyersCostModel):
        rate_days = _rank_days(bar_i, int(day_range[0]), int(day_range[1]))
    else:  # no rate table: the rows keep their day numbers (compared only for equality)
        rate_days = np.zeros(0, dtype=np.int64)
    if one:
        a = arrays[0]
        px = tuple(_readonly(x, np.float64) for x in (a.open, a.high, a.low, a.close))
        tm = (_readonly(a.ts, np.int64), _readonly(closes[0], np.int64))
    else:
        px = tuple(_readonly(row, np.float64) for row in ohlc)
        tm = (_readonly(times[0], np.int64), _readonly(times[1], np.int64))

    products = tuple(default_product(config, spec) for spec in specs)
    dp_keys = {key: k for k, key in enumerate(dict.fromkeys(sp.isin or sp.symbol for sp in specs))}
    sym = np.zeros((len(symbols), lay.N_SY), dtype=np.int64)
    sym[:, lay.SY_START] = starts[:-1]
    sym[:, lay.SY_LEN] = lengths
    sym[:, lay.SY_PRODUCT] = [PRODUCT_CODE[p] for p in products]
    sym[:, lay.SY_DERIVATIVE] = [int(sp.is_derivative) for sp in specs]
    sym[:, lay.SY_DP_KEY] = [dp_keys[sp.isin or sp.symbol] for sp in specs]
    sym[:, lay.SY_INDEX] = [
        int(sp.kind is InstrumentKind.INDEX or sp.symbol.endswith("-INDEX")) for sp in specs
    ]

    step_first, step_bar, step_sym, step_ts, step_close = _timeline(
        arrays, closes, starts, first_bars, tm
    )
    rates, has_rate, rate_err, errors, cnc = _rate_table(model, specs, products, rate_days)
    sym[:, lay.SY_CNC] = cnc
    if session.intraday:
        square_offs = (bar_i[lay.B_FLAGS] & (lay.FLAG_SQ_OPEN | lay.FLAG_SQ_CLOSE)) != 0
    else:  # no square-off: none marked
        square_offs = np.zeros(0, dtype=np.bool_)
    if one:  # (its 0/1 bytes seen as bools: numpy's fast path)
        day_ends = np.flatnonzero(day_end.view(np.bool_))
    else:
        day_end = np.empty(len(step_ts), dtype=np.uint8)
        day_ends = bar_pass.day_marks(step_first, step_bar, bar_i, day_end)
    blocks = close_blocks(px[3], first_bars[0], day_ends) if one else empty_blocks()

    cf = np.zeros(lay.N_CF, dtype=np.float64)
    cf[lay.CF_CAPITAL] = config.capital
    cf[lay.CF_SLIP_TICKS] = config.slippage_ticks
    cf[lay.CF_SLIP_BPS] = config.slippage_bps
    cf[lay.CF_HEADROOM] = 1 + SIZING_HEADROOM
    for product, code in PRODUCT_CODE.items():
        cf[lay.CF_LEV + code] = rules.leverage(product)
    ci = np.zeros(lay.N_CI, dtype=np.int64)
    ci[lay.CI_FIXED_QTY] = -1 if config.quantity is None else config.quantity
    ci[lay.CI_COSTS] = 0 if isinstance(model, ZeroCostModel) else 1
    ci[lay.CI_FIRST_BAR] = first_bars[0] if one else 0
    if isinstance(model, FyersCostModel):
        cf[lay.CF_GST] = model.gst_rate
        ci[lay.CI_GST_ALL_FEES] = int(model.gst_base is GstBase.ALL_FEES)
    return KernelInputs(
        config=config,
        symbols=symbols,
        bars=arrays,
        close_ts=closes,
        instruments=specs,
        products=products,
        starts=starts,
        px=(px[0], px[1], px[2], px[3]),
        tm=tm,
        bar_i=bar_i,
        blocks=blocks,
        sym=sym,
        tick=ticks,
        step_first=step_first,
        step_bar=step_bar,
        step_sym=step_sym,
        step_ts=step_ts,
        step_close=step_close,
        day_end=day_end,
        day_ends=day_ends,
        square_offs=square_offs,
        first_bars=tuple(first_bars),
        cf=cf,
        ci=ci,
        rates=rates,
        has_rate=has_rate,
        rate_err=rate_err,
        errors=errors,
        rate_days=rate_days,
        n_dp_keys=len(dp_keys),
        rules=rules,
        guard=SessionGuard(session),
    )


def _readonly(values: npt.NDArray[Any], dtype: type[np.generic]) -> npt.NDArray[Any]:
    """``values`` as a contiguous read-only array of ``dtype`` (a view: copied only when the
    type or the layout differ), as the kernel's signatures take them."""
    out = np.ascontiguousarray(values, dtype=dtype).view()
    out.flags.writeable = False
    return out


def _lots_and_tick(
    symbol: str,
    spec: Instrument,
    days: npt.NDArray[np.integer[Any]],
    lookup: InstrumentLookup | None,
) -> tuple[npt.NDArray[np.int64], float]:
    """The lot size in force on each bar's day (the symbol master's history through
    ``lookup``) and the one tick size of the run."""
    if lookup is None:
        return np.full(len(days), spec.lot_size, dtype=np.int64), spec.tick_size
    unique, inverse = np.unique(days, return_inverse=True)
    found = [lookup(symbol, _EPOCH + timedelta(days=int(d))) for d in unique.tolist()]
    tick_sizes = {ins.tick_size for ins in found}
    if len(tick_sizes) > 1:
        raise UnsupportedRunError(f"the tick size of {symbol} changes during the run")
    lots = np.array([ins.lot_size for ins in found], dtype=np.int64)
    tick = tick_sizes.pop() if tick_sizes else spec.tick_size
    return lots[inverse], tick


def _rank_days(bar_i: npt.NDArray[np.int32], lo: int, hi: int) -> npt.NDArray[np.int64]:
    """The run's distinct IST days (the cost table's day axis), ascending, with ``bar_i``'s
    ``B_RDAY_*`` rows turned from day numbers into indices of them (``np.unique`` with
    ``return_inverse`` over both rows; marking the span the days cover instead of sorting
    millions of values, unless the span is wider than the bars: days span years, not millions)."""
    rows = bar_i[lay.B_RDAY_OPEN : lay.B_RDAY_CLOSE + 1]
    if not rows.size:
        return np.zeros(0, dtype=np.int64)
    if hi - lo + 1 > 4 * rows.size + 100_000:
        days, inverse = np.unique(rows, return_inverse=True)
        rows[...] = inverse.reshape(rows.shape)
        return days.astype(np.int64)
    return bar_pass.rank_days(bar_i, lo, hi - lo + 1)


def _timeline(
    arrays: Sequence[CandleArrays],
    closes: Sequence[npt.NDArray[np.int64]],
    starts: npt.NDArray[np.int64],
    first_bars: Sequence[int],
    tm: tuple[Ints, Ints],
) -> tuple[npt.NDArray[np.int64], ...]:
    """The event engine's replay order from each symbol's first bar after the warm-up: one
    symbol bar by bar; several symbols by close time (then symbol), equal close times forming
    one step. Returns (step_first, step_bar, step_sym, step_ts, step_close); for one symbol the
    first three are empty (step t is bar ``first_bars[0] + t``) and the last two are views of
    ``tm`` (the run's open and close times)."""
    if len(arrays) == 1:
        first, n = first_bars[0], len(arrays[0])
        none = np.zeros(0, dtype=np.int64)
        return none, none, none, tm[0][first:n], tm[1][first:n]
    close_all = np.concatenate(
        [np.asarray(c[k:], dtype=np.int64) for c, k in zip(closes, first_bars, strict=True)]
    )
    ts_all = np.concatenate(
        [a.ts[k:].astype(np.int64) for a, k in zip(arrays, first_bars, strict=True)]
    )
    sym_all = np.concatenate(
        [np.full(len(a) - first_bars[j], j, dtype=np.int64) for j, a in enumerate(arrays)]
    )
    bar_all = np.concatenate(
        [np.arange(starts[j] + k, starts[j + 1], dtype=np.int64) for j, k in enumerate(first_bars)]
    )
    order = np.lexsort((sym_all, close_all))
    close_sorted = close_all[order]
    heads = np.flatnonzero(np.concatenate(([True], close_sorted[1:] != close_sorted[:-1])))
    step_first = np.concatenate((heads, [len(order)])).astype(np.int64)
    return (
        step_first,
        bar_all[order],
        sym_all[order],
        ts_all[order][heads],
        close_sorted[heads],
    )


RateTable = tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.int64],
    tuple[str, ...],
    list[int],
]


def _rate_table(
    model: CostModel,
    specs: Sequence[Instrument],
    products: Sequence[ProductType],
    rate_days: npt.NDArray[np.int64],
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.int64],
    tuple[str, ...],
    list[int],
]:
    """Every rate the cost model would use, per symbol row, day, component and side (rows
    ``S + s``: symbol ``s``'s intraday equity rates, for same-day CNC matching); a lookup the
    model would refuse becomes an error index (raised when a fill needs it). Also, per symbol,
    whether its CNC orders are matched within the day (``FyersCostModel._cnc``)."""
    n_sym, n_days, n_c = len(specs), len(rate_days), len(COMPONENTS)
    rates = np.zeros((2 * n_sym, n_days, n_c, 2, 3), dtype=np.float64)
    rates[..., 2] = np.inf
    has_rate = np.zeros((2 * n_sym, n_c, 2), dtype=np.bool_)
    rate_err = np.zeros((2 * n_sym, n_days, 2), dtype=np.int64)
    cnc = [0] * n_sym
    errors: list[str] = []
    if not isinstance(model, FyersCostModel):
        return rates, has_rate, rate_err, (), cnc

    def error(message: str) -> int:
        if message not in errors:
            errors.append(message)
        return errors.index(message) + 1

    def fill(row: int, segment: CostSegment) -> None:
        for c, component in enumerate(COMPONENTS):
            for si, side in enumerate(sides):
                has_rate[row, c, si] = (segment, component, side) in model._timelines
        for d, day in enumerate(rate_days.tolist()):
            for si, side in enumerate(sides):
                for component in _LOOKUP_ORDER:
                    try:
                        found = model._row(segment, component, side, day)
                    except InputError as exc:
                        rate_err[row, d, si] = error(str(exc))
                        break
                    if found is not None:
                        c = COMPONENTS.index(component)
                        cap = np.inf if found.cap is None else found.cap
                        rates[row, d, c, si] = (found.rate, found.flat, cap)

    sides = (Side.BUY, Side.SELL)
    for s, (spec, product) in enumerate(zip(specs, products, strict=True)):
        try:
            segment = cost_segment(spec, product)
            if segment not in model._segments:
                raise InputError(
                    f"{spec.symbol}: the cost rate table has no rates for {segment.value}; "
                    "add its rows to the table"
                )
        except InputError as exc:
            rate_err[s] = error(str(exc))
            continue
        fill(s, segment)
        intraday = CostSegment.EQUITY_INTRADAY
        if (
            product is ProductType.CNC
            and segment is CostSegment.EQUITY_DELIVERY
            and intraday in model._segments
        ):
            cnc[s] = 1
            fill(n_sym + s, intraday)
    return rates, has_rate, rate_err, tuple(errors), cnc
