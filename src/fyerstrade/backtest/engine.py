"""The event-driven backtest runner: store → arrays → merged timeline → TradingEngine.

:func:`run_backtest` loads every symbol's candles straight into numpy arrays (no per-bar pandas),
merges the symbols by bar close time, and replays them through the one
:class:`~fyerstrade.trading.engine.TradingEngine` with a simulated clock, the simulated broker,
the cost model and an in-memory journal. The equity curve is rebuilt after the run from the
fills and the closes (vectorized), so the per-bar loop does no bookkeeping of its own.

Equity points are one per timestamp of the merged timeline: ``equity_ts[k]`` is the open time
(the bar stamp) of the bars of step ``k`` and ``equity[k]`` the equity at their close.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError

from fyerstrade.backtest.columns import column
from fyerstrade.calendar import get_calendar, ist_date, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings, load_settings
from fyerstrade.data.bars import LoadedBars, load_bars
from fyerstrade.domain import (
    Fill,
    Instrument,
    Order,
    ProductType,
    Resolution,
    RoundTrip,
)
from fyerstrade.errors import CalendarCoverageError, DataError, InputError, UnknownSymbolError
from fyerstrade.gcfreeze import RunFreeze
from fyerstrade.strategies.registry import get_strategy
from fyerstrade.trading.assembly import build_engine, session_guard, slippage
from fyerstrade.trading.clock import SimulatedClock
from fyerstrade.trading.costs import CostModel
from fyerstrade.trading.engine import TradingEngine
from fyerstrade.trading.journal import LogLine, MemoryJournal, Rejection
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.spec import TradingSpec, spec_problem
from fyerstrade.trading.symbols import SymbolState
from fyerstrade.trading.venue import SimulatedVenue

__all__ = ["BacktestConfig", "BacktestResult", "LogLine", "Rejection", "run_backtest"]


_POSITIONAL = (
    "strategy", "params", "symbols", "resolution", "start", "end", "mode", "capital", "quantity",
    "costs", "slippage_ticks", "slippage_bps", "entry_start", "entry_end", "square_off",
    "intraday_leverage", "product", "risk",
)  # fmt: skip


class BacktestConfig(TradingSpec):
    """Everything that defines a backtest run (saved with it): the trading spec, the dates and
    the product (None: INTRADAY in intraday mode, CNC for equity and MARGIN for F&O)."""

    start: date
    end: date
    product: ProductType | None = None

    def __init__(self, *args: Any, **data: Any) -> None:
        if len(args) > len(_POSITIONAL):
            raise TypeError(f"BacktestConfig takes at most {len(_POSITIONAL)} positional values")
        data.update(zip(_POSITIONAL, args, strict=False))  # the order it always had
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InputError(f"backtest config: {spec_problem(exc)}") from None

    def validate(self) -> None:  # type: ignore[override]  # (not pydantic's deprecated one)
        """Raise InputError for a config no run can use (beyond what each field checks; a copy
        made with ``model_copy(update=...)`` is checked here only)."""
        for name in ("capital", "slippage_ticks", "slippage_bps", "intraday_leverage"):
            value = getattr(self, name)
            if not math.isfinite(value):  # nan passes every comparison below; inf is no amount
                raise InputError(f"{name.replace('_', ' ')} must be a finite number, got {value}")
        if self.end < self.start:
            raise InputError(f"--to {self.end} is before --from {self.start}")
        if not self.symbols:
            raise InputError("give at least one symbol, e.g. --symbol NSE:SBIN-EQ")
        if self.mode == "intraday" and not Resolution(self.resolution).is_intraday:
            raise InputError("intraday mode needs intraday bars (1 to 240 minutes), not daily")


@dataclass
class BacktestResult:
    """What a run produced: fills, round trips, the equity curve and everything for charts.

    ``fills`` and ``trades`` are read-only sequences: the event engine's lists of objects, or
    the vectorized engine's columns (:mod:`fyerstrade.backtest.columns`), which build objects
    only when asked; read whole fields through ``columns.column`` to build none."""

    config: BacktestConfig
    fills: Sequence[Fill]
    trades: Sequence[RoundTrip]
    equity_ts: np.ndarray  # int64 bar stamps of the merged timeline
    equity: np.ndarray  # float64, at each step's close
    cash: np.ndarray
    exposure: np.ndarray  # gross position value / equity
    rejections: list[Rejection]
    logs: list[LogLine]
    bars_processed: int
    started_at: float
    finished_at: float
    indicators: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    bars: dict[str, CandleArrays] = field(default_factory=dict)
    #: the dates the bars really span (first bar → last bar), which the run reports and stores
    period: tuple[date, date] | None = None
    #: per symbol, the stored resolution its bars came from (built from it when finer)
    sources: dict[str, Resolution] = field(default_factory=dict)
    #: what the user should know about the run: a range reaching outside the stored data, ...
    notes: list[str] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)  # every order, as it ended

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if len(self.equity) else self.config.capital

    @property
    def total_costs(self) -> float:
        return float(sum(column(self.fills, "costs")))


def _range_ts(start: date, end: date) -> tuple[int, int]:
    return ist_epoch(start), ist_epoch(end + timedelta(days=1)) - 1


def _slice(arrays: CandleArrays, lo: int, hi: int) -> CandleArrays:
    i, j = np.searchsorted(arrays.ts, (lo, hi + 1))
    if i == 0 and j == len(arrays.ts):
        return arrays
    return arrays.slice(int(i), int(j))


def _close_times(ts: np.ndarray, resolution: Resolution) -> np.ndarray:
    """When each bar becomes known: the calendar's bar close (a bar never outlives its session),
    or the nominal duration for dates past the calendar's coverage."""
    try:
        return get_calendar().bar_close_times(ts, resolution)
    except CalendarCoverageError:
        nominal: np.ndarray = np.add(ts, resolution.seconds, dtype=np.int64)  # one pass
        return nominal


InstrumentLookup = Callable[[str, date], Instrument]


def _load_from_store(config: BacktestConfig, settings: Settings) -> LoadedBars:
    from fyerstrade.store.db import open_historical

    conn = open_historical(settings)
    try:
        return load_bars(conn, config.symbols, config.resolution, config.start, config.end)
    finally:
        conn.close()


def run_backtest(
    config: BacktestConfig,
    settings: Settings | None = None,
    *,
    data: Mapping[str, CandleArrays] | None = None,
    progress: Callable[[float], None] | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    cost_model: CostModel | None = None,
    lookup: InstrumentLookup | None = None,
    warmup_from: date | None = None,
    loaded: LoadedBars | None = None,
) -> BacktestResult:
    """Run ``config`` and return its result. Bars come from the historical store, or from
    ``data`` (symbol → arrays, sliced to the config's dates). ``instruments`` overrides the
    contract specs (default: the symbol master, or a plain NSE equity with tick 0.05 when
    ``data`` is given); ``lookup`` gives the contract in force on a date (lot sizes that change;
    with ``data`` only); ``cost_model`` overrides the model ``config.costs`` selects.

    ``warmup_from`` (with ``data`` only): the bars from that date up to ``config.start`` are
    warm-up. The strategy's indicators are computed over them and its bar views include them,
    but the run starts at the first bar of ``config.start``: no order, fill or equity point
    before it (walk-forward gives each out-of-sample window the in-sample tail this way).

    ``loaded`` (without ``data``) hands in bars the caller already loaded with
    :func:`fyerstrade.data.bars.load_bars` (the CLI does, to warn about the period first)."""
    config.validate()
    started = _time.time()
    strategy_cls = get_strategy(config.strategy, settings)
    strategy = strategy_cls(**config.params)
    res = Resolution(config.resolution)
    lo, hi = _range_ts(config.start, config.end)
    sources: dict[str, Resolution] = {}
    notes: list[str] = []
    if data is None:
        if warmup_from is not None or lookup is not None:
            raise InputError("warmup_from and lookup apply to given data only")
        if loaded is None:
            loaded = _load_from_store(config, settings or load_settings())
        bars_in, specs, lookup = loaded.bars, loaded.instruments, loaded.lookup
        sources = dict(loaded.sources)
        notes.extend(loaded.notes)
        if loaded.outside:
            notes.append(loaded.outside_message())
    else:
        first = lo if warmup_from is None else min(lo, ist_epoch(warmup_from))
        bars_in = {}
        specs = {}
        for sym in config.symbols:
            if sym not in data:
                raise UnknownSymbolError(f"no candles given for symbol {sym!r}")
            sliced = _slice(data[sym], first, hi)
            if len(sliced) == 0 or int(sliced.ts[-1]) < lo:
                raise DataError(f"no candles for {sym} between {config.start} and {config.end}")
            bars_in[sym] = sliced
            specs[sym] = (instruments or {}).get(sym) or Instrument(sym)
            sources[sym] = res
    guard = session_guard(config)
    states: list[SymbolState] = []
    starts: list[int] = []  # per symbol: the first bar that trades (after the warm-up)
    for k, sym in enumerate(config.symbols):
        arrays = bars_in[sym]
        starts.append(int(np.searchsorted(arrays.ts, lo)))
        st = SymbolState(k, sym, arrays, res, specs[sym], _close_times(arrays.ts, res), lookup)
        at_open, at_close = guard.square_off_bars(arrays.ts)
        st.sq_open = frozenset(at_open.tolist())
        st.sq_close = frozenset(at_close.tolist())
        states.append(st)

    journal = MemoryJournal()
    clock = SimulatedClock()
    engine = build_engine(
        config,
        strategy,
        states,
        clock=clock,
        broker=SimulatedVenue(slippage(config)),
        portfolio=Portfolio(config.capital),
        journal=journal,
        cost_model=cost_model,
        guard=guard,
        product=config.product,
    )
    engine.start()
    # the bars, lists and views built above live for the whole run: move them out of the
    # collector's sight so its passes over the young objects of the loop stay cheap (unfreeze
    # hands them back afterwards; under a caller's freeze, nothing: fyerstrade.gcfreeze)
    with RunFreeze() as frozen:
        step_ts, step_close = _replay(engine, states, clock, progress, starts, frozen)
    engine.finish(close_positions=True)
    # a one-symbol replay numbers its steps by bar index: the first traded bar is step 0
    offset = starts[0] if len(states) == 1 else 0
    equity, cash, exposure = _equity_curve(engine, states, step_close, config.capital, offset)
    if progress is not None:
        progress(1.0)
    return BacktestResult(
        config=config,
        fills=journal.fills,
        trades=journal.trades,
        orders=journal.orders,
        equity_ts=step_ts,
        equity=equity,
        cash=cash,
        exposure=exposure,
        rejections=journal.rejections,
        logs=journal.logs,
        bars_processed=sum(len(st.arrays) - k for st, k in zip(states, starts, strict=True)),
        started_at=started,
        finished_at=_time.time(),
        indicators={st.symbol: dict(st.indicator_arrays) for st in states},
        bars={st.symbol: st.arrays for st in states},
        period=_period(states, starts),
        sources=sources,
        notes=notes,
    )


def _period(states: list[SymbolState], starts: Sequence[int]) -> tuple[date, date]:
    """First and last IST date of any traded bar of the run (warm-up bars left out)."""
    first = min(int(st.arrays.ts[k]) for st, k in zip(states, starts, strict=True))
    last = max(int(st.arrays.ts[-1]) for st in states)
    return ist_date(first), ist_date(last)


def _replay(
    engine: TradingEngine,
    states: list[SymbolState],
    clock: SimulatedClock,
    progress: Callable[[float], None] | None,
    first_bars: Sequence[int],
    frozen: RunFreeze,
) -> tuple[np.ndarray, np.ndarray]:
    """Drive the engine over the merged timeline from each symbol's ``first_bars`` bar (the ones
    before are warm-up); return each step's bar stamp and close. ``frozen``: the run's freeze,
    renewed after each stretch of a one-symbol run (what it left lives to the end)."""
    if len(states) == 1:
        st = states[0]
        n = len(st.arrays)
        first = first_bars[0]
        todo = max(1, n - first)
        chunk = min(65_536, todo) if progress is None else max(1, todo // 100)
        for lo in range(first, n, chunk):
            engine.replay(st, clock, lo, min(n, lo + chunk))
            frozen.freeze()  # the orders, fills and trades so far live to the end of the run too
            if progress is not None:
                progress((min(n, lo + chunk) - first) / todo)
        # views of the run's own arrays (already int64): no million-point copies
        return (
            np.asarray(st.arrays.ts[first:], dtype=np.int64),
            np.asarray(st.close_ts[first:], dtype=np.int64),
        )
    # several symbols: order every bar by close time (then symbol), group equal close times
    close_all = np.concatenate(
        [
            np.asarray(st.close_ts[k:], dtype=np.int64)
            for st, k in zip(states, first_bars, strict=True)
        ]
    )
    ts_all = np.concatenate(
        [st.arrays.ts[k:].astype(np.int64) for st, k in zip(states, first_bars, strict=True)]
    )
    sym_all = np.concatenate(
        [
            np.full(len(st.arrays) - k, j)
            for j, (st, k) in enumerate(zip(states, first_bars, strict=True))
        ]
    )
    idx_all = np.concatenate(
        [np.arange(k, len(st.arrays)) for st, k in zip(states, first_bars, strict=True)]
    )
    order = np.lexsort((sym_all, close_all))
    close_sorted = close_all[order]
    starts = np.flatnonzero(np.concatenate(([True], close_sorted[1:] != close_sorted[:-1])))
    ends = np.concatenate((starts[1:], [len(order)]))
    sym_list = sym_all[order].tolist()
    idx_list = idx_all[order].tolist()
    total = len(starts)
    chunk = max(1, total // 100)
    step = engine.step
    for g, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        updated = []
        for k in range(a, b):
            st = states[sym_list[k]]
            st.cursor.i = idx_list[k]
            updated.append(st)
        clock.ts = int(close_sorted[a])
        step(updated, tuple(s.symbol for s in updated))
        if progress is not None and g % chunk == 0:
            progress(g / total)
    step_ts = ts_all[order][starts]
    return step_ts, close_sorted[starts]


def _equity_curve(
    engine: TradingEngine,
    states: list[SymbolState],
    step_close: np.ndarray,
    capital: float,
    step_offset: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cash, equity and exposure at each step's close, from the fill events and the closes.

    Built with one step-sized array at a time (the step functions by ``np.repeat``, products and
    sums in place): a million-step run needs a few of them, not a dozen temporaries."""
    n = len(step_close)
    events = engine.fill_events
    count = len(events)
    ev_step = np.fromiter((e[0] for e in events), dtype=np.int64, count=count) - step_offset
    ev_cash = np.fromiter((e[1] for e in events), dtype=np.float64, count=count)
    ev_sym = np.fromiter((e[2] for e in events), dtype=np.int64, count=count)
    ev_qty = np.fromiter((e[3] for e in events), dtype=np.float64, count=count)
    cash = _latest_per_step(ev_step, ev_cash, n, float(capital))
    value = np.zeros(n)
    gross = np.zeros(n)
    for st in states:
        mask = ev_sym == st.index
        if not mask.any():
            continue
        held = _latest_per_step(ev_step[mask], ev_qty[mask], n, 0.0)
        price = _closes_at(st, step_close, step_offset if len(states) == 1 else None)
        held *= price  # the position's value at each step
        del price
        value += held
        gross += np.abs(held, out=held)
        del held
    equity = cash + value
    del value
    positive = equity > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(gross, equity, out=gross, where=positive)
    gross[~positive] = 0.0
    return equity, cash, gross


def _closes_at(st: SymbolState, step_close: np.ndarray, own_from: int | None) -> np.ndarray:
    """The symbol's close at each step's close time (0 before its first bar). ``own_from``: the
    steps are this symbol's own bars from that one on (a one-symbol run), so step k is bar
    ``own_from + k`` whenever the close times strictly increase: no search needed."""
    close_ts = np.asarray(st.close_ts, dtype=np.int64)
    if (
        own_from is not None
        and len(step_close) == len(close_ts) - own_from
        and bool((close_ts[1:] > close_ts[:-1]).all())
        and np.array_equal(step_close, close_ts[own_from:])
    ):
        return np.asarray(st.arrays.close[own_from:], dtype=np.float64)
    bar = np.searchsorted(close_ts, step_close, side="right")
    bar -= 1
    seen = bar >= 0
    np.maximum(bar, 0, out=bar)
    return np.where(seen, st.arrays.close[bar], 0.0)


def _latest_per_step(ev_step: np.ndarray, values: np.ndarray, n: int, before: float) -> np.ndarray:
    """At each of ``n`` steps, the value of the latest event at or before it (``before`` until
    the first): events are in time order; a step's last event wins; an event before step 0
    holds from step 0, one after the last step never shows."""
    keep = ev_step < n
    steps, vals = np.maximum(ev_step[keep], 0), values[keep]
    if steps.size == 0:
        return np.full(n, before, dtype=np.float64)
    last = np.concatenate((steps[1:] != steps[:-1], [True]))
    steps, vals = steps[last], vals[last]
    lengths = np.diff(np.concatenate(([0], steps, [n])))
    return np.repeat(np.concatenate(([before], vals)), lengths).astype(np.float64, copy=False)
