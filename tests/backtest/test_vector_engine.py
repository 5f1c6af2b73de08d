"""The vectorized engine's edges: what it refuses (and why), errors it shares with the event
engine, the compiled kernel cached on disk for the next process, and the signals contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.backtest.vector import cache, layout
from fyerstrade.backtest.vector.inputs import UnsupportedRunError
from fyerstrade.backtest.vector.run import run_records, run_vector, simulate, unsupported_reason
from fyerstrade.domain import Instrument, InstrumentKind, ProductType, Resolution, Segment, Side
from fyerstrade.errors import InputError, StrategyError
from fyerstrade.strategies import registry
from fyerstrade.strategies.base import Strategy, has_signals
from fyerstrade.strategies.opening_price_crossover import OpeningPriceCrossover
from fyerstrade.strategies.signals import IndicatorCache
from fyerstrade.strategies.sma_crossover import SmaCrossover
from fyerstrade.trading.cost_rates import FYERS_NSE_RATES, TRUE_TO_LABEL, Component
from fyerstrade.trading.costs import FyersCostModel, ZeroCostModel
from fyerstrade.trading.spec import RiskLimits

SYM = "NSE:SBIN-EQ"


def config(**kw: Any) -> BacktestConfig:
    base: dict[str, Any] = dict(
        strategy="sma_crossover",
        params={"fast": 5, "slow": 20},
        symbols=[SYM],
        resolution=Resolution.M5,
        start=date(2024, 1, 1),
        end=date(2024, 12, 31),
        quantity=10,
    )
    return BacktestConfig(**(base | kw))


def data(n: int = 1500) -> dict[str, Any]:
    return {SYM: synthetic_candles(n, resolution=Resolution.M5, seed=11)}


def test_the_built_ins_declare_signals_and_a_plain_strategy_does_not() -> None:
    assert has_signals(SmaCrossover) and has_signals(OpeningPriceCrossover)
    assert not has_signals(Strategy)
    # a subclass that changes a bar-by-bar callback but not the signals: the signals are stale
    tweaked = type("Tweaked", (SmaCrossover,), {"name": "tweaked", "on_data": lambda s, c: None})
    assert not has_signals(tweaked)
    restated = type("Restated", (tweaked,), {"signals": SmaCrossover.signals})
    assert has_signals(restated)
    assert has_signals(type("Renamed", (SmaCrossover,), {"name": "renamed"}))
    reason = unsupported_reason(config(), type("Plain", (Strategy,), {"name": "plain"}))
    assert reason == "strategy plain does not declare signals"
    assert unsupported_reason(config(), SmaCrossover) is None
    assert unsupported_reason(config(), SmaCrossover, ZeroCostModel()) is None
    assert unsupported_reason(config(), SmaCrossover, FyersCostModel()) is None


def test_a_cost_model_it_cannot_reproduce_is_a_stated_reason() -> None:
    class Flat:
        def fill_costs(self, *args: object) -> float:
            return 20.0

    assert unsupported_reason(config(), SmaCrossover, Flat()) == (  # type: ignore[arg-type]
        "the cost model Flat is not the rate-table model"
    )
    used = FyersCostModel()
    used.charges(Instrument(SYM), ProductType.CNC, Side.SELL, 1, 100.0, 1_717_000_000)
    with pytest.raises(UnsupportedRunError, match="same-day CNC orders from an earlier run"):
        run_vector(config(), data=data(), cost_model=used)


def test_risk_limits_are_a_stated_reason_and_the_event_engine_runs_them() -> None:
    from fyerstrade.backtest import vector

    limited = config(risk=RiskLimits(max_daily_loss=500))
    reason = "the run has risk limits (max daily loss, max open positions)"
    assert unsupported_reason(limited, SmaCrossover) == reason
    assert vector.unsupported(config(risk=RiskLimits(max_open_positions=1))) == reason
    assert vector.unsupported(config()) is None
    with pytest.raises(UnsupportedRunError, match="risk limits"):
        run_vector(limited, data=data())


def test_a_tick_size_that_changes_during_the_run_is_refused(settings: Any) -> None:
    from fyerstrade.backtest.vector.inputs import prepare

    fut = Instrument("NSE:X24FUT", kind=InstrumentKind.FUTURE, segment=Segment.NSE_FO, lot_size=25)
    bars = synthetic_candles(800, resolution=Resolution.M5, seed=2)

    def lookup(symbol: str, day: date) -> Instrument:
        tick = 0.05 if day < date(2024, 1, 5) else 0.1
        return Instrument(symbol, kind=fut.kind, segment=fut.segment, lot_size=25, tick_size=tick)

    with pytest.raises(UnsupportedRunError, match="the tick size of NSE:X24FUT changes"):
        prepare(config(symbols=[fut.symbol]), {fut.symbol: bars}, {fut.symbol: fut}, lookup)


def test_a_missing_cost_rate_is_the_cost_models_error_in_both_engines() -> None:
    # a table whose delivery brokerage starts only in October 2024: trades before it cannot be
    # priced, and both engines say so with the model's own words
    rates = [
        r
        for r in FYERS_NSE_RATES
        if not (r.component is Component.BROKERAGE and r.effective_from < TRUE_TO_LABEL)
    ]
    cfg = config(costs=True)
    with pytest.raises(InputError) as event:
        run_backtest(cfg, data=data(), cost_model=FyersCostModel(rates))
    with pytest.raises(InputError) as vector:
        run_vector(cfg, data=data(), cost_model=FyersCostModel(rates))
    assert str(vector.value) == str(event.value)
    assert str(event.value).startswith("no brokerage rate for EQUITY_DELIVERY buys before")


def test_an_index_is_read_but_never_traded_in_either_engine() -> None:
    nifty = Instrument("NSE:NIFTY50-INDEX", kind=InstrumentKind.INDEX)
    kw: dict[str, Any] = {
        "data": {nifty.symbol: data()[SYM]},
        "instruments": {nifty.symbol: nifty},
    }
    cfg = config(symbols=[nifty.symbol], costs=True)
    event, vector = run_backtest(cfg, **kw), run_vector(cfg, **kw)
    assert event.fills == [] and event.rejections
    assert vector.rejections == event.rejections
    assert "is an index and cannot be traded" in event.rejections[0].reason


def test_malformed_signals_are_a_strategy_error() -> None:
    class Short(SmaCrossover):
        name: ClassVar[str] = "short_signals"

        @classmethod
        def signals(cls, bars: Any, params: Any) -> Any:
            sig = super().signals(bars, params)
            return type(sig)(entries=sig.entries[:-1])

    registry.BUILTINS["short_signals"] = Short
    try:
        with pytest.raises(StrategyError, match=r"signals.entries has shape \(1499,\), expected"):
            run_vector(config(strategy="short_signals"), data=data())
    finally:
        del registry.BUILTINS["short_signals"]


def test_indicators_are_computed_once_per_distinct_parameter_value() -> None:
    bars = data()[SYM]
    cache_ = IndicatorCache(SmaCrossover, bars)
    combos = [{"fast": f, "slow": s, "allow_short": False} for f in (5, 10, 20) for s in (20, 40)]
    outs = [SmaCrossover.signals(cache_.bind(p), p).entries for p in combos]
    # SMA(5), SMA(10), SMA(20) (shared by fast=20 and slow=20), SMA(40): four, not twelve
    assert cache_.computed == 4
    assert sum(int(o.sum()) for o in outs) > 0
    again = SmaCrossover.signals(cache_.bind(combos[0]), combos[0]).entries
    assert np.array_equal(again, outs[0]) and cache_.computed == 4


def test_the_signals_match_the_strategys_own_indicators() -> None:
    bars = data()[SYM]
    params = {"ema_fast": 9, "ema_slow": 21, "exit_pct1": 0.7, "rr1": 1.0, "rr2": 3.0}
    sig = OpeningPriceCrossover.signals(
        IndicatorCache(OpeningPriceCrossover, bars).bind(params), params
    )
    own = OpeningPriceCrossover(**params).indicators(bars)
    assert np.array_equal(sig.entries, own["signal"] > 0)
    assert sig.entries.sum() > 5


# ---- the kernel's on-disk cache -----------------------------------------------------------------

_CHILD = """
import json
from datetime import date
from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.backtest.vector import kernel
from fyerstrade.backtest.vector.run import run_vector
from fyerstrade.domain import Resolution
cfg = BacktestConfig("sma_crossover", {"fast": 5, "slow": 20}, ["X"], Resolution.M5,
                     date(2024, 1, 1), date(2024, 12, 31), quantity=10)
r = run_vector(cfg, data={"X": synthetic_candles(500, resolution=Resolution.M5)})
stats = kernel.run.stats
hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
print(json.dumps({"hits": hits, "misses": misses, "path": stats.cache_path, "fills": len(r.fills)}))
"""


def _child(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_second_process_loads_the_compiled_kernel_from_disk() -> None:
    from fyerstrade.backtest.vector import kernel

    # this process compiled the kernel (and wrote it to disk) or loaded it from there
    assert sum(kernel.run.stats.cache_misses.values()) + sum(kernel.run.stats.cache_hits.values())
    child = _child(dict(os.environ))
    assert child["hits"] == 1 and child["misses"] == 0  # loaded, not compiled again
    assert child["path"] == kernel.run.stats.cache_path
    assert child["fills"] > 0


def test_the_cache_goes_to_fyerstrades_cache_dir_when_the_package_dir_is_read_only(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    read_only_package = blocker / "pkg"  # cannot be created: a file is in the way
    root = tmp_path / "cache" / "fyerstrade"
    leaf = f"numba-{cache.source_stamp(read_only_package)}"
    assert cache.cache_dir_for(read_only_package, {}, root) == root / "numba" / leaf
    writable = tmp_path / "pkg"
    assert cache.cache_dir_for(writable, {}, root).parent == writable / "__pycache__"
    assert cache.cache_dir_for(read_only_package, {"NUMBA_CACHE_DIR": "/x"}, root) == (
        Path("/x") / leaf
    )
    fallback = cache.cache_dir_for(read_only_package, {}, blocker)  # root not writable either
    assert cache.writable_dir(fallback)


def test_the_cache_directory_follows_every_kernel_source(tmp_path: Path) -> None:
    # numba checks only a function's own file; the kernel's functions span several files
    for name in cache.SOURCES:
        (tmp_path / name).write_text("x = 1\n")
    before = cache.source_stamp(tmp_path)
    for name in cache.SOURCES:
        (tmp_path / name).write_text("x = 2\n")
        assert cache.source_stamp(tmp_path) != before
        (tmp_path / name).write_text("x = 1\n")
    assert cache.source_stamp(tmp_path) == before


def test_an_old_stamps_directory_is_pruned_once_nobody_uses_it(tmp_path: Path) -> None:
    keep = tmp_path / "__pycache__" / "numba-new"
    old = tmp_path / "__pycache__" / "numba-old"
    recent = tmp_path / "__pycache__" / "numba-recent"
    other = tmp_path / "__pycache__" / "kernel.cpython-311.pyc"
    for d in (keep, old, recent):
        d.mkdir(parents=True)
        (d / "f.nbi").write_text("")
    other.write_text("")
    now = 1_000_000.0
    os.utime(old, (now - cache.STALE_AFTER_S - 1, now - cache.STALE_AFTER_S - 1))
    os.utime(recent, (now - 60, now - 60))
    os.utime(keep, (now - 10 * cache.STALE_AFTER_S, now - 10 * cache.STALE_AFTER_S))
    assert cache.prune(keep, now) == [old]
    assert keep.exists() and recent.exists() and other.exists() and not old.exists()


def test_the_dp_charge_is_once_per_isin_and_day_even_at_the_end_of_data() -> None:
    # two symbols of one ISIN; A's data end a day before B's, so A's end-of-data sell (day 2)
    # is booked after B's day-3 sells, on a day B already paid the DP charge for
    a, b = "NSE:A-EQ", "NSE:B-EQ"
    data = {
        a: synthetic_candles(75 * 2, resolution=Resolution.M5, seed=2),
        b: synthetic_candles(75 * 3, resolution=Resolution.M5, seed=102),
    }
    instruments = {a: Instrument(a, isin="INE1"), b: Instrument(b, isin="INE1")}
    cfg = config(symbols=[a, b], params={"fast": 2, "slow": 5}, costs=True)
    event = run_backtest(cfg, data=data, instruments=instruments)
    vector = run_vector(cfg, data=data, instruments=instruments)
    (last,) = [f for f in event.fills if f.tag == "end_of_data" and f.symbol == a]
    day = (last.ts + 19_800) // 86_400
    assert any(f.symbol == b and f.side is Side.SELL and (f.ts + 19_800) // 86_400 == day
               for f in event.fills)  # fmt: skip
    assert any(f.ts > last.ts for f in event.fills)  # B traded on after A's data ended
    assert vector.fills == event.fills


def test_record_tables_too_small_at_first_give_the_same_run() -> None:
    """The kernel sizes its tables from the signals; a table that fills up is counted, not
    written past, and the run is repeated with room: the same records either way (same-day CNC
    lots, rejections, fills and round trips)."""
    cfg = config(params={"fast": 2, "slow": 5}, capital=3_050.0, quantity=3)
    out = run_records(cfg, data=data(3000))
    assert out.run.counters[layout.K_LOTS] > 1 and len(out.run.rejections) > 1
    again = simulate(out.inputs, out.signals, records=True, first_rows=1)
    for name in ("fills", "rejections", "trades", "accounts", "day_equity", "counters"):
        assert np.array_equal(getattr(again, name), getattr(out.run, name), equal_nan=True), name
    # a sweep's run (no fill or rejection records): only the round trips need room
    sweep = simulate(out.inputs, out.signals, records=False, first_rows=1)
    for name in ("trades", "accounts", "day_equity", "counters"):
        assert np.array_equal(getattr(sweep, name), getattr(out.run, name), equal_nan=True), name
    assert len(sweep.fills) == len(sweep.rejections) == 0


def test_prefetch_is_a_hint_that_changes_nothing() -> None:
    """``prefetch`` compiles for the kernel's 1-d and 2-d arrays and any index (one past the end
    too: a prefetch never faults) and leaves every value as it was."""
    import numba

    from fyerstrade.backtest.vector.prefetch import prefetch

    @numba.njit  # type: ignore[misc]
    def total(flat: Any, flags: Any, grid: Any) -> float:
        out = 0.0
        for i in range(flat.shape[0] + 1):
            prefetch(flat, 0, i)
            prefetch(flags, 0, i)
            for r in range(grid.shape[0]):
                prefetch(grid, r, i)
        for i in range(flat.shape[0]):
            out += flat[i] + flags[i] + grid[1, i]
        return out

    flat = np.arange(1000, dtype=np.int64)
    flags = np.zeros(1000, dtype=np.bool_)
    flags[::3] = True
    grid = np.arange(4000, dtype=np.float64).reshape(4, 1000)
    before = flat.copy(), flags.copy(), grid.copy()
    assert total(flat, flags, grid) == float(flat.sum() + flags.sum() + grid[1].sum())
    for now, then in zip((flat, flags, grid), before, strict=True):
        assert np.array_equal(now, then)


_TINY_KERNEL = """
import numba as nb

from fyerstrade.backtest.vector import cache

cache.configure()


@nb.njit("f8(f8)", cache=True)
def twice(x):
    return 2.0 * x
"""

_COMPILE = """
import json, sys
from fyerstrade.backtest.vector.cache import compile_kernels
directory, compiled = compile_kernels(("tiny_kernel",))
print(json.dumps({"dir": str(directory), "compiled": compiled,
                  "imported": "tiny_kernel" in sys.modules, "numba": "numba" in sys.modules}))
"""


def test_the_kernel_is_compiled_once_per_cache_directory_at_install(tmp_path: Path) -> None:
    # make deps runs compile_kernels: the first time it imports (compiles) every kernel module
    # into the cache and marks the directory; later it checks the mark without importing numba
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "tiny_kernel.py").write_text(_TINY_KERNEL)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "nb"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "mods"), *sys.path])}  # fmt: skip

    def compile_() -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-c", _COMPILE], env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    first = compile_()
    directory = Path(first["dir"])
    assert first["compiled"] and first["imported"]
    assert directory.parent == tmp_path / "nb"
    assert [p.name for p in directory.rglob("tiny_kernel.twice-*.nbi")]  # numba's own index
    mark = directory / cache.COMPILED_MARK
    assert mark.read_text().startswith("numba ")
    again = compile_()
    assert again == {**first, "compiled": False, "imported": False, "numba": False}
    mark.write_text("numba 0.1 python 3.11\n")  # another numba compiled it: compile again
    assert compile_()["compiled"]
    mark.unlink()  # an interrupted compile wrote no mark: taken up again
    assert compile_()["compiled"] and mark.exists()


def test_the_install_time_compile_imports_every_module_with_kernel_functions() -> None:
    listed = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom fyerstrade.backtest.vector import cache\n"
         "for m in cache.KERNEL_MODULES: __import__(m)\nprint(' '.join(sys.modules))"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    imported = set(listed.stdout.split())
    with_kernels = {
        f"fyerstrade.backtest.vector.{p.stem}"
        for p in cache.PACKAGE_DIR.glob("*.py")
        if "@jit(" in p.read_text() or "nb.njit(" in p.read_text()
    }
    assert len(with_kernels) >= 7
    assert with_kernels <= imported, with_kernels - imported
