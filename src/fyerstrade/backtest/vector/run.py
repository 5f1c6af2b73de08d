"""A vectorized backtest: the same inputs and the same ``BacktestResult`` as ``run_backtest``.

:func:`run_vector` is to the kernel what ``backtest.engine.run_backtest`` is to the event engine:
it loads the bars (from the store, or given), computes the strategy's signals per symbol, runs
the kernel once and turns its fill records into fills, round trips, rejections and the equity
curve. :func:`unsupported_reason` says, before anything runs, why a run must use the event engine.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from fyerstrade.backtest.engine import (
    BacktestConfig,
    BacktestResult,
    InstrumentLookup,
    _load_from_store,
    _range_ts,
    _slice,
)
from fyerstrade.calendar import ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings, load_settings
from fyerstrade.data.bars import LoadedBars
from fyerstrade.domain import Instrument, Resolution
from fyerstrade.errors import DataError, InputError, StrategyError, UnknownSymbolError
from fyerstrade.strategies.base import Strategy, has_signals
from fyerstrade.strategies.registry import get_strategy
from fyerstrade.strategies.signals import IndicatorCache, Signals
from fyerstrade.trading.costs import CostModel

from . import kernel as kn
from . import layout as lay
from .indicators import BATCHED, COMPILED
from .inputs import KernelInputs, UnsupportedRunError, cost_model_reason, prepare
from .limits import risk_reason
from .records import curves, fill_records, rejections_of
from .result_columns import fill_columns, trade_columns

__all__ = [
    "KernelRun",
    "PackedSignals",
    "VectorRecords",
    "run_records",
    "run_vector",
    "signals_of",
    "simulate",
    "unsupported_reason",
]

_ENTRY_TAGS = {"signal": lay.TAG_SIGNAL, "entry": lay.TAG_ENTRY}
_NO_FLAGS = np.zeros(0, dtype=np.bool_)
_NO_LEVELS = np.zeros(0, dtype=np.float64)
_NO_EVENTS = np.zeros(0, dtype=np.int64)


def unsupported_reason(
    config: BacktestConfig,
    strategy: type[Strategy],
    cost_model: CostModel | None = None,
) -> str | None:
    """Why the vectorized engine cannot run ``config`` with ``strategy`` (None: it can). The
    data-dependent reason (a tick size that changes during the run) shows up as
    :class:`~fyerstrade.backtest.vector.inputs.UnsupportedRunError` from :func:`prepare`."""
    if not has_signals(strategy):
        return f"strategy {strategy.name} does not declare signals"
    return risk_reason(config) or cost_model_reason(cost_model)


@dataclass(frozen=True)
class PackedSignals:
    """One combination's signals for every symbol, concatenated along the run's bars."""

    entries: npt.NDArray[np.bool_]
    exits: npt.NDArray[np.bool_]
    short_entries: npt.NDArray[np.bool_]
    short_exits: npt.NDArray[np.bool_]
    stop: npt.NDArray[np.float64]
    targets: npt.NDArray[np.float64]  # (K, 2): r-multiple, fraction
    entry_tag: str
    events: npt.NDArray[np.int64]  # one symbol: the bars with a signal or a square-off


def signals_of(
    strategy: type[Strategy],
    caches: Sequence[IndicatorCache],
    params: Mapping[str, Any],
    symbols: Sequence[str],
) -> list[Signals]:
    """The strategy's signals for every symbol; an exception of the strategy's code becomes a
    ``StrategyError`` naming the strategy and the symbol (as the event engine reports it)."""
    out = []
    for cache, symbol in zip(caches, symbols, strict=True):
        try:
            out.append(strategy.signals(cache.bind(params), params))
        except StrategyError:
            raise
        except Exception as exc:
            raise StrategyError(
                f"strategy {strategy.name} failed in signals on {symbol}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return out


def pack(inputs: KernelInputs, per_symbol: Sequence[Signals], where: str) -> PackedSignals:
    """Check each symbol's signals and lay them end to end (absent arrays stay empty)."""
    checked = [
        sig.checked(len(bars), f"{where} on {sym}")
        for sig, bars, sym in zip(per_symbol, inputs.bars, inputs.symbols, strict=True)
    ]
    first = checked[0]
    for sig in checked[1:]:
        if sig.targets != first.targets or sig.entry_tag != first.entry_tag:
            raise UnsupportedRunError(f"{where}: targets and entry tags differ between symbols")

    def joined(name: str, empty: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
        parts = [getattr(sig, name) for sig in checked]
        if all(p is None for p in parts):
            return empty
        if len(parts) == 1:
            only: npt.NDArray[Any] = parts[0]
            # the kernel writes nothing, but numba wants writeable arrays (a cached indicator
            # returned as is is read-only)
            return only if only.flags.writeable else only.copy()
        return np.concatenate(
            [
                np.full(len(b), fill, dtype=empty.dtype) if p is None else p
                for p, b in zip(parts, inputs.bars, strict=True)
            ]
        )

    targets = np.array([(t.r_multiple, t.fraction) for t in first.targets], dtype=np.float64)
    entries = joined("entries", _NO_FLAGS, False)
    exits = joined("exits", _NO_FLAGS, False)
    short_entries = joined("short_entries", _NO_FLAGS, False)
    short_exits = joined("short_exits", _NO_FLAGS, False)
    events = _NO_EVENTS
    if len(checked) == 1:  # the kernel runs from one of these bars to the next
        marked = [f for f in (inputs.square_offs, exits, short_entries, short_exits) if len(f)]
        mask = (entries | marked[0]) if marked else entries  # a new array before any |=
        for flags in marked[1:]:
            mask |= flags
        events = np.flatnonzero(mask).astype(np.int64, copy=False)
    return PackedSignals(
        entries=entries,
        exits=exits,
        short_entries=short_entries,
        short_exits=short_exits,
        stop=joined("stop", _NO_LEVELS, np.nan),
        targets=targets.reshape(len(first.targets), 2),
        entry_tag=first.entry_tag,
        events=events,
    )


@dataclass(frozen=True)
class KernelRun:
    """What one kernel call returned (tables as the kernel lays them out)."""

    fills: npt.NDArray[np.float64]
    rejections: npt.NDArray[np.float64]
    trades: npt.NDArray[np.float64]
    accounts: npt.NDArray[np.float64]  # accounts.A_*
    day_equity: npt.NDArray[np.float64]  # at the last step of each IST day
    counters: npt.NDArray[np.int64]


def simulate(
    inputs: KernelInputs, signals: PackedSignals, *, records: bool, first_rows: int | None = None
) -> KernelRun:
    """Run the kernel for one combination; a missing cost rate raises the cost model's error
    (``first_rows``: see ``kernel.simulate``)."""
    ci = inputs.ci.copy()
    ci[lay.CI_RECORDS] = int(records)
    ci[lay.CI_ENTRY_TAG] = _ENTRY_TAGS.get(signals.entry_tag, lay.TAG_ENTRY_CUSTOM)
    out = kn.simulate(
        inputs.px,
        inputs.tm,
        inputs.bar_i,
        inputs.blocks,
        inputs.sym,
        inputs.tick,
        inputs.step_first,
        inputs.step_bar,
        inputs.step_sym,
        inputs.step_ts,
        inputs.day_end,
        inputs.day_ends,
        signals.entries,
        signals.exits,
        signals.short_entries,
        signals.short_exits,
        signals.stop,
        signals.targets,
        signals.events,
        inputs.cf,
        ci,
        inputs.rates,
        inputs.has_rate,
        inputs.rate_err,
        inputs.n_dp_keys,
        first_rows,
    )
    run = KernelRun(*out)
    error = int(run.counters[lay.K_ERROR])
    if error:
        raise InputError(inputs.errors[error - 1])
    return run


@dataclass
class RunBars:
    """A run's bars as ``run_backtest`` takes them: per symbol (warm-up included), the
    instruments, the contract lookup, where each symbol's bars came from and notes to report."""

    bars: dict[str, CandleArrays]
    instruments: dict[str, Instrument]
    lookup: InstrumentLookup | None
    sources: dict[str, Resolution]
    notes: list[str]


def load_bars(
    config: BacktestConfig,
    settings: Settings | None,
    data: Mapping[str, CandleArrays] | None,
    instruments: Mapping[str, Instrument] | None,
    lookup: InstrumentLookup | None = None,
    warmup_from: date | None = None,
    loaded: LoadedBars | None = None,
) -> RunBars:
    """The run's bars (with the warm-up from ``warmup_from``), instruments and lookup, loaded
    as ``run_backtest`` loads them (from the store, ``loaded``, or ``data``)."""
    res = Resolution(config.resolution)
    if data is None:
        if warmup_from is not None or lookup is not None:
            raise InputError("warmup_from and lookup apply to given data only")
        if loaded is None:
            loaded = _load_from_store(config, settings or load_settings())
        notes = list(loaded.notes)
        if loaded.outside:
            notes.append(loaded.outside_message())
        return RunBars(
            dict(loaded.bars), dict(loaded.instruments), loaded.lookup, dict(loaded.sources), notes
        )
    lo, hi = _range_ts(config.start, config.end)
    first = lo if warmup_from is None else min(lo, ist_epoch(warmup_from))
    bars: dict[str, CandleArrays] = {}
    specs: dict[str, Instrument] = {}
    for sym in config.symbols:
        if sym not in data:
            raise UnknownSymbolError(f"no candles given for symbol {sym!r}")
        sliced = _slice(data[sym], first, hi)
        if len(sliced) == 0 or int(sliced.ts[-1]) < lo:
            raise DataError(f"no candles for {sym} between {config.start} and {config.end}")
        bars[sym] = sliced
        specs[sym] = (instruments or {}).get(sym) or Instrument(sym)
    return RunBars(bars, specs, lookup, {sym: res for sym in config.symbols}, [])


@dataclass(frozen=True)
class VectorRecords:
    """One vectorized backtest as arrays, before any Python object is made: the fill records
    (``records.FILL_DTYPE``), the round-trip table (``layout.T_*`` columns), the equity, cash and
    exposure at each step of ``inputs.step_ts``, and the kernel's rejection table."""

    strategy: Strategy
    bars: RunBars
    inputs: KernelInputs
    signals: PackedSignals
    run: KernelRun
    fills: npt.NDArray[np.void]
    equity: npt.NDArray[np.float64]
    cash: npt.NDArray[np.float64]
    exposure: npt.NDArray[np.float64]


def run_records(
    config: BacktestConfig,
    settings: Settings | None = None,
    *,
    data: Mapping[str, CandleArrays] | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    cost_model: CostModel | None = None,
    lookup: InstrumentLookup | None = None,
    warmup_from: date | None = None,
    loaded: LoadedBars | None = None,
) -> VectorRecords:
    """The arrays of :func:`run_vector` (same arguments): for analysis over millions of bars
    without a Python object per fill."""
    config.validate()
    strategy_cls = get_strategy(config.strategy, settings)
    reason = unsupported_reason(config, strategy_cls, cost_model)
    if reason is not None:
        raise UnsupportedRunError(reason)
    strategy = strategy_cls(**config.params)
    run_bars = load_bars(config, settings, data, instruments, lookup, warmup_from, loaded)
    inputs = prepare(config, run_bars.bars, run_bars.instruments, run_bars.lookup, cost_model)
    caches = [IndicatorCache(strategy_cls, b, compiled=COMPILED) for b in inputs.bars]
    for cache in caches:  # e.g. both averages of sma_crossover in one pass over the closes
        cache.precompute([strategy.param_values], BATCHED)
    per_symbol = signals_of(strategy_cls, caches, strategy.param_values, inputs.symbols)
    packed = pack(inputs, per_symbol, f"strategy {strategy_cls.name} signals")
    run = simulate(inputs, packed, records=True)
    records = fill_records(run.fills, inputs)
    equity, cash, exposure = curves(records, inputs)
    return VectorRecords(strategy, run_bars, inputs, packed, run, records, equity, cash, exposure)


def run_vector(
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
    """``run_backtest`` through the vectorized engine (same arguments, same result); a run it
    cannot reproduce raises :class:`~fyerstrade.backtest.vector.inputs.UnsupportedRunError`."""
    started = _time.time()
    out = run_records(
        config, settings, data=data, instruments=instruments, cost_model=cost_model,
        lookup=lookup, warmup_from=warmup_from, loaded=loaded,
    )  # fmt: skip
    inputs, strategy, run_bars = out.inputs, out.strategy, out.bars
    fills = fill_columns(out.fills, inputs, out.signals.entry_tag)  # no object per fill
    if progress is not None:
        progress(1.0)
    return BacktestResult(
        config=config,
        fills=fills,
        trades=trade_columns(out.run.trades, inputs, out.signals.entry_tag),
        equity_ts=inputs.step_ts,
        equity=out.equity,
        cash=out.cash,
        exposure=out.exposure,
        rejections=rejections_of(out.run.rejections, inputs),
        logs=[],
        bars_processed=len(inputs.step_bar) or len(inputs.step_ts),
        started_at=started,
        finished_at=_time.time(),
        indicators={
            s: dict(strategy.indicators(b))
            for s, b in zip(inputs.symbols, inputs.bars, strict=True)
        },
        bars=dict(zip(inputs.symbols, inputs.bars, strict=True)),
        period=inputs.period,
        sources=run_bars.sources,
        notes=run_bars.notes,
    )
