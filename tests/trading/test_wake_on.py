"""``Strategy.wake_on``: a strategy whose ``on_data`` acts only where one of its indicators is
non-zero is called only there, and trades exactly as if it were called at every bar — in the
one-symbol replay, the merged multi-symbol timeline, intraday with the square-off and costs,
and under a daily-loss limit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import ClassVar

import numpy as np
import pytest

from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Resolution
from fyerstrade.errors import StrategyError
from fyerstrade.strategies import registry
from fyerstrade.strategies.base import Strategy, wake_indicator
from fyerstrade.strategies.opening_price_crossover import OpeningPriceCrossover
from fyerstrade.strategies.sma_crossover import SmaCrossover
from fyerstrade.trading.context import Context
from fyerstrade.trading.spec import RiskLimits

RES = Resolution.M5
INTRADAY: dict[str, object] = {"mode": "intraday", "quantity": None, "costs": True}
WAKE_EVERY = 7  # the test strategy's signal bars: every 7th, and one NaN


class Waker(Strategy):
    """Buys at one signal bar, closes at the next one; records every call."""

    name: ClassVar[str] = "waker"
    wake_on: ClassVar[str | None] = "wake"
    calls: ClassVar[list[tuple[int, int, tuple[str, ...]]]] = []

    def indicators(self, bars: CandleArrays) -> Mapping[str, np.ndarray]:
        wake = np.zeros(len(bars))
        wake[3::WAKE_EVERY] = 1.0
        wake[5] = np.nan  # (NaN is not zero: a due bar)
        return {"wake": wake}

    def on_data(self, ctx: Context) -> None:
        for symbol in ctx.updated:
            wake = ctx.indicator(symbol, "wake").last
            if wake == 0.0:
                continue
            type(self).calls.append((len(ctx.bars(symbol).close) - 1, ctx.now, ctx.updated))
            if ctx.qty(symbol):
                ctx.close(symbol)
            else:
                ctx.buy(symbol, 1)


class EveryBarWaker(Waker):
    name: ClassVar[str] = "every_bar_waker"

    def on_data(self, ctx: Context) -> None:  # the same on_data, without the promise
        super().on_data(ctx)


class EveryBarSma(SmaCrossover):
    def on_data(self, ctx: Context) -> None:
        super().on_data(ctx)


class EveryBarOpc(OpeningPriceCrossover):
    def on_data(self, ctx: Context) -> None:
        super().on_data(ctx)


@pytest.fixture
def strategies() -> object:
    extra = {
        "waker": Waker,
        "every_bar_waker": EveryBarWaker,
        "every_bar_sma": EveryBarSma,
        "every_bar_opc": EveryBarOpc,
    }
    registry.BUILTINS.update(extra)
    Waker.calls.clear()
    yield None
    for name in extra:
        del registry.BUILTINS[name]


def config(strategy: str, **kw: object) -> BacktestConfig:
    base: dict[str, object] = dict(
        strategy=strategy,
        params={},
        symbols=["X"],
        resolution=RES,
        start=date(2024, 1, 1),
        end=date(2024, 12, 31),
        quantity=10,
        costs=False,
    )
    base.update(kw)
    return BacktestConfig(**base)


def same_run(a: BacktestResult, b: BacktestResult) -> None:
    assert a.fills == b.fills
    assert a.trades == b.trades
    assert a.rejections == b.rejections
    assert a.equity.tobytes() == b.equity.tobytes()
    assert a.cash.tobytes() == b.cash.tobytes()
    assert a.exposure.tobytes() == b.exposure.tobytes()


def test_wake_on_is_a_promise_about_the_on_data_that_declares_it() -> None:
    assert wake_indicator(Strategy) is None
    assert wake_indicator(SmaCrossover) == "cross"
    assert wake_indicator(OpeningPriceCrossover) == "signal"

    class Tuned(SmaCrossover):  # same on_data: the promise holds
        pass

    class Restated(EveryBarSma):
        wake_on: ClassVar[str | None] = "cross"

    assert wake_indicator(Tuned) == "cross"
    assert wake_indicator(EveryBarSma) is None  # its own on_data: called at every bar
    assert wake_indicator(Restated) == "cross"


def test_on_data_is_called_only_at_the_due_bars_and_orders_still_fill(strategies: object) -> None:
    bars = synthetic_candles(60, resolution=RES, seed=3)
    woken = run_backtest(config("waker"), data={"X": bars})
    due = sorted({5, *range(3, 60, WAKE_EVERY)})
    close_ts = [c for _, c, _ in Waker.calls]
    assert [i for i, _, _ in Waker.calls] == due
    assert all(u == ("X",) for _, _, u in Waker.calls)
    assert close_ts == sorted(close_ts) and len(set(close_ts)) == len(due)
    # a market order placed at a due bar fills at the next bar's open, which is not due
    first = woken.fills[0]
    assert first.price == pytest.approx(float(bars.open[4])) and first.ts == int(bars.ts[4])
    assert len(woken.trades) >= 4
    Waker.calls.clear()
    same_run(woken, run_backtest(config("every_bar_waker"), data={"X": bars}))


def test_merged_symbols_list_only_the_due_ones(strategies: object) -> None:
    a = synthetic_candles(40, resolution=RES, seed=1)
    b = synthetic_candles(40, resolution=RES, seed=2)
    b = CandleArrays(b.ts[2:], b.open[2:], b.high[2:], b.low[2:], b.close[2:], b.volume[2:])
    woken = run_backtest(config("waker", symbols=["A", "B"]), data={"A": a, "B": b})
    due = {5, *range(3, 40, WAKE_EVERY)}
    # B starts two bars later: A's bar t is B's bar t - 2
    expected = {
        t: tuple(s for s, k in (("A", t), ("B", t - 2)) if k in due)
        for t in range(40)
        if t in due or t - 2 in due
    }
    seen = {now: updated for _, now, updated in Waker.calls}
    assert list(seen.values()) == list(expected.values())
    assert ("A",) in seen.values() and ("B",) in seen.values() and ("A", "B") in seen.values()
    Waker.calls.clear()
    every = run_backtest(config("every_bar_waker", symbols=["A", "B"]), data={"A": a, "B": b})
    same_run(woken, every)


@pytest.mark.parametrize(
    ("woken", "every", "kw"),
    [
        ("sma_crossover", "every_bar_sma", {}),
        ("sma_crossover", "every_bar_sma", {"symbols": ["X", "Y"], "params": {"fast": 3}}),
        ("opening_price_crossover", "every_bar_opc", INTRADAY),
        ("opening_price_crossover", "every_bar_opc", {**INTRADAY, "symbols": ["X", "Y"]}),
        ("sma_crossover", "every_bar_sma", {**INTRADAY, "risk": RiskLimits(max_daily_loss=50)}),
    ],
)
def test_built_in_strategies_trade_as_if_called_at_every_bar(
    strategies: object, woken: str, every: str, kw: dict[str, object]
) -> None:
    data = {
        "X": synthetic_candles(3000, resolution=RES, seed=21),
        "Y": synthetic_candles(2500, resolution=RES, seed=22),
    }
    a = run_backtest(config(woken, **kw), data=data)
    b = run_backtest(config(every, **kw), data=data)
    assert len(a.trades) > 5
    same_run(a, b)


def test_a_wake_indicator_the_strategy_does_not_compute_is_named(strategies: object) -> None:
    class Sleepy(Waker):
        wake_on: ClassVar[str | None] = "signal"

    registry.BUILTINS["sleepy"] = Sleepy
    try:
        with pytest.raises(StrategyError, match="wake_on='signal' but its indicators"):
            run_backtest(config("sleepy"), data={"X": synthetic_candles(20, resolution=RES)})
    finally:
        del registry.BUILTINS["sleepy"]
