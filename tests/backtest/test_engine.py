"""The backtest runner: loading from the store, bad input, StrategyError, determinism,
multi-symbol merging, higher-resolution bars, and the built-in strategies' rules."""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import ClassVar

import numpy as np
import pytest

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.config import Settings
from fyerstrade.domain import Instrument, InstrumentKind, Resolution, Segment
from fyerstrade.errors import DataError, InputError, StrategyError, UnknownSymbolError
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import open_historical
from fyerstrade.store.symbols import replace_symbol_master
from fyerstrade.strategies import registry
from fyerstrade.strategies.base import Strategy
from fyerstrade.trading.context import Context

SYM = "NSE:SBIN-EQ"
START = date(2024, 1, 1)


def config(**kw: object) -> BacktestConfig:
    base: dict[str, object] = dict(
        strategy="sma_crossover",
        params={},
        symbols=[SYM],
        resolution=Resolution.M5,
        start=START,
        end=date(2024, 3, 1),
        quantity=10,
        costs=False,
    )
    base.update(kw)
    return BacktestConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(settings: Settings) -> Settings:
    conn = open_historical(settings)
    upsert_candles(conn, SYM, Resolution.M5, synthetic_candles(3000, resolution=Resolution.M5))
    replace_symbol_master(conn, [Instrument(SYM, tick_size=0.05)], ["NSE_CM"], START)
    conn.close()
    return settings


def test_runs_from_the_store_and_equity_matches_the_trades(store: Settings) -> None:
    r = run_backtest(config(), store)
    assert r.bars_processed == 3000 and len(r.equity) == 3000
    assert r.equity_ts.dtype == np.int64 and r.equity.dtype == np.float64
    assert len(r.trades) > 10
    assert r.final_equity == pytest.approx(100_000 + sum(t.pnl for t in r.trades))
    assert set(r.indicators[SYM]) >= {"sma_fast", "sma_slow"}
    assert len(r.bars[SYM]) == 3000


def test_bad_input_is_one_clear_error(store: Settings) -> None:
    with pytest.raises(InputError, match=r"--to 2024-01-01 is before --from 2024-02-01"):
        run_backtest(config(start=date(2024, 2, 1), end=START), store)
    with pytest.raises(UnknownSymbolError, match="unknown symbol 'NSE:NOPE-EQ'"):
        run_backtest(config(symbols=["NSE:NOPE-EQ"]), store)
    with pytest.raises(DataError) as err:
        run_backtest(config(start=date(2023, 1, 1), end=date(2023, 1, 31)), store)
    assert str(err.value) == (
        "no 5-minute candles for NSE:SBIN-EQ between 2023-01-01 and 2023-01-31 (stored: "
        "5-minute 2024-01-01 → 2024-02-23); run `fyerstrade data fetch --symbol NSE:SBIN-EQ "
        "--resolution 5 --from 2023-01-02 --to 2023-01-31`"
    )
    with pytest.raises(InputError, match="intraday mode needs intraday bars"):
        run_backtest(config(mode="intraday", resolution=Resolution.D), store)


def test_lot_size_in_force_that_day_comes_from_the_symbol_master(settings: Settings) -> None:
    fut = "NSE:NIFTY24MARFUT"
    conn: sqlite3.Connection = open_historical(settings)
    upsert_candles(conn, fut, Resolution.M5, synthetic_candles(600, resolution=Resolution.M5))
    ins = Instrument(fut, kind=InstrumentKind.FUTURE, segment=Segment.NSE_FO, lot_size=50)
    replace_symbol_master(conn, [ins], ["NSE_FO"], date(2023, 12, 1))
    replace_symbol_master(
        conn,
        [Instrument(fut, kind=InstrumentKind.FUTURE, segment=Segment.NSE_FO, lot_size=25)],
        ["NSE_FO"],
        date(2024, 1, 5),
    )
    conn.close()
    r = run_backtest(config(symbols=[fut], quantity=25, capital=10_000_000), settings)
    days = {f.ts // 86400 for f in r.fills}
    assert r.fills, "expected trades"
    early = [x for x in r.rejections if "lot size 50" in x.reason]
    assert early and all(x.ts < 1_704_393_000 for x in early)  # before 2024-01-05 IST
    assert all(f.quantity == 25 for f in r.fills) and days


class Boom(Strategy):
    name: ClassVar[str] = "boom"

    def on_data(self, ctx: Context) -> None:
        if len(ctx.bars(ctx.symbols[0]).close) == 5:
            raise ZeroDivisionError("division by zero")


class Peek(Strategy):
    name: ClassVar[str] = "peek"

    def on_data(self, ctx: Context) -> None:
        close = ctx.bars(ctx.symbols[0]).close
        close[len(close)]  # the next bar: not closed yet


@pytest.fixture
def extra_strategies() -> object:
    registry.BUILTINS.update({"boom": Boom, "peek": Peek})
    yield None
    del registry.BUILTINS["boom"], registry.BUILTINS["peek"]


def test_strategy_exception_becomes_strategy_error(extra_strategies: object) -> None:
    data = {SYM: synthetic_candles(20, resolution=Resolution.M5)}
    with pytest.raises(StrategyError) as err:
        run_backtest(config(strategy="boom"), data=data)
    assert str(err.value) == (
        "strategy boom failed in on_data on NSE:SBIN-EQ at bar 2024-01-01 09:35 IST: "
        "ZeroDivisionError: division by zero at test_engine.py:105 "
        '(raise ZeroDivisionError("division by zero"))'
    )


def test_reaching_for_a_future_bar_is_an_error(extra_strategies: object) -> None:
    data = {SYM: synthetic_candles(20, resolution=Resolution.M5)}
    with pytest.raises(
        StrategyError,
        match=r"look-ahead: NSE:SBIN-EQ.close\[1\] is in the "
        r"future: only bars 0..0 have closed",
    ):
        run_backtest(config(strategy="peek"), data=data)


def test_same_inputs_give_identical_results() -> None:
    data = {SYM: synthetic_candles(4000, resolution=Resolution.M5, seed=3)}
    cfg = config(strategy="opening_price_crossover", mode="intraday", quantity=None, costs=True)
    a, b = run_backtest(cfg, data=data), run_backtest(cfg, data=data)
    assert a.trades == b.trades and a.fills == b.fills
    assert np.array_equal(a.equity, b.equity)


def test_no_look_ahead_a_shorter_run_makes_the_same_trades() -> None:
    data = {SYM: synthetic_candles(6000, resolution=Resolution.M5, seed=5)}
    for name, mode in (("sma_crossover", "positional"), ("opening_price_crossover", "intraday")):
        full = run_backtest(config(strategy=name, mode=mode, end=date(2024, 6, 1)), data=data)
        cut = date(2024, 2, 15)
        short = run_backtest(config(strategy=name, mode=mode, end=cut), data=data)
        t_cut = int(np.datetime64(cut, "s").astype(np.int64)) - 19_800
        before = [t for t in full.trades if t.exit_ts < t_cut - 86_400]
        assert before and before == [t for t in short.trades if t.exit_ts < t_cut - 86_400]


class DailyWatcher(Strategy):
    name: ClassVar[str] = "daily_watcher"
    seen: ClassVar[list[tuple[int, int, float]]] = []

    def on_data(self, ctx: Context) -> None:
        daily = ctx.bars(ctx.symbols[0], Resolution.D)
        if len(daily):
            type(self).seen.append((ctx.now, int(daily.ts.last), daily.close.last))


def test_higher_resolution_bars_only_once_closed() -> None:
    registry.BUILTINS["daily_watcher"] = DailyWatcher
    try:
        bars = synthetic_candles(200, resolution=Resolution.M5)  # 75 bars a day
        run_backtest(config(strategy="daily_watcher"), data={SYM: bars})
    finally:
        del registry.BUILTINS["daily_watcher"]
    seen = DailyWatcher.seen
    first_now, _day_ts, close = seen[0]
    assert first_now == int(bars.ts[74]) + 300  # 15:30 on day one: the day's bar is complete
    assert close == bars.close[74]
    assert all(now >= d + 6 * 3600 for now, d, _ in seen)  # never before that day's close


def test_symbols_are_merged_by_time_with_one_on_data_per_timestamp() -> None:
    class Counter(Strategy):
        name: ClassVar[str] = "counter"
        calls: ClassVar[list[tuple[str, ...]]] = []

        def on_data(self, ctx: Context) -> None:
            type(self).calls.append(ctx.updated)

    registry.BUILTINS["counter"] = Counter
    try:
        a = synthetic_candles(10, resolution=Resolution.M5, seed=1)
        b = synthetic_candles(12, resolution=Resolution.M5, seed=2)
        keep = np.ones(12, dtype=bool)
        keep[[3, 4]] = False  # B misses two bars
        from fyerstrade.candles import CandleArrays

        b = CandleArrays(
            b.ts[keep], b.open[keep], b.high[keep], b.low[keep], b.close[keep], b.volume[keep]
        )
        r = run_backtest(config(strategy="counter", symbols=["A", "B"]), data={"A": a, "B": b})
    finally:
        del registry.BUILTINS["counter"]
    calls = Counter.calls
    assert len(calls) == 12 == len(r.equity)
    assert calls[3] == ("A",) and calls[0] == ("A", "B") and calls[11] == ("B",)


def test_opening_price_crossover_exits_follow_the_rules() -> None:
    data = {SYM: synthetic_candles(6000, resolution=Resolution.M5, seed=11)}
    r = run_backtest(
        config(strategy="opening_price_crossover", mode="intraday", quantity=100), data=data
    )
    fills = r.fills
    assert r.trades
    entries = [f for f in fills if f.tag == "entry"]
    for e in entries:
        exits = [f for f in fills if f.ts >= e.ts and f.tag != "entry"]
        assert exits
    reasons = {t.exit_reason for t in r.trades}
    assert reasons <= {"stop", "target", "square_off"}
    # a first target sells 70 of 100; no symbol ever holds more than one entry
    t1 = [f for f in fills if f.tag == "target1"]
    assert t1 and all(f.quantity == 70 for f in t1)
    pos = 0
    for f in fills:
        pos += f.quantity * f.side.sign
        assert 0 <= pos <= 100


def test_progress_is_reported_up_to_one() -> None:
    seen: list[float] = []
    data = {SYM: synthetic_candles(500, resolution=Resolution.M5)}
    run_backtest(config(), data=data, progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 10
    seen.clear()
    both = {"A": data[SYM], "B": synthetic_candles(400, resolution=Resolution.M5, seed=9)}
    run_backtest(config(symbols=["A", "B"]), data=both, progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_indicator_of_the_wrong_length_is_a_strategy_error() -> None:
    class Bad(Strategy):
        name: ClassVar[str] = "bad"

        def indicators(self, bars):  # type: ignore[no-untyped-def]
            return {"x": np.zeros(3)}

    registry.BUILTINS["bad"] = Bad
    try:
        with pytest.raises(
            StrategyError,
            match=r"strategy bad failed in indicators on "
            r"NSE:SBIN-EQ: ValueError: indicator 'x' of NSE:SBIN-EQ has shape",
        ):
            run_backtest(
                config(strategy="bad"), data={SYM: synthetic_candles(50, resolution=Resolution.M5)}
            )
    finally:
        del registry.BUILTINS["bad"]


class Logger(Strategy):
    name: ClassVar[str] = "logger"
    quarter: ClassVar[list[tuple[int, int, float]]] = []

    def on_data(self, ctx: Context) -> None:
        sym = ctx.symbols[0]
        q = ctx.bars(sym, Resolution.M15)
        if len(q):
            type(self).quarter.append((ctx.now, int(q.ts.last), q.high.last))
        if len(ctx.bars(sym).close) == 3:
            ctx.log(f"third bar at {ctx.time:%H:%M}", symbol=sym)


def test_log_lines_and_fifteen_minute_bars_from_five_minute_bars() -> None:
    registry.BUILTINS["logger"] = Logger
    try:
        bars = synthetic_candles(9, resolution=Resolution.M5)
        r = run_backtest(config(strategy="logger"), data={SYM: bars})
    finally:
        del registry.BUILTINS["logger"]
    (line,) = r.logs
    assert (line.level, line.symbol, line.message) == ("INFO", SYM, "third bar at 09:30")
    assert line.ts == int(bars.ts[2]) + 300
    # the 09:15 quarter closes at 09:30 with the third 5-minute bar, and not before
    first = Logger.quarter[0]
    assert first == (int(bars.ts[2]) + 300, int(bars.ts[0]), float(bars.high[:3].max()))
    assert len(Logger.quarter) == 7 and Logger.quarter[-1][1] == int(bars.ts[6])


def test_a_run_leaves_a_callers_gc_freeze_alone(store: Settings) -> None:
    # a pool worker freezes what it inherited, the test session what it collected: a run's own
    # gc.unfreeze() must not hand that back to the collector (fyerstrade.gcfreeze)
    import gc  # (here: an import above would move the line numbers other tests quote)

    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    assert run_backtest(config(), store).bars_processed == 3000
    # (objects freed meanwhile leave the frozen set: a count near it, not 0 as after unfreeze)
    assert gc.get_freeze_count() > frozen // 2
