"""sma_crossover: the cross rule with its tie cases, long-only and allow_short behaviour."""

from __future__ import annotations

from datetime import date

import numpy as np

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.domain import ProductType, Resolution, Side
from fyerstrade.strategies.sma_crossover import crossover_signal


def test_cross_rule_and_ties() -> None:
    nan = np.nan
    fast = np.array([nan, 1.0, 2.0, 2.0, 3.0, 3.0, 2.0, 2.0, 1.0])
    slow = np.array([nan, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 2.0, 2.0])
    # t=2: 1<2 then 2==2 -> a tie now is not a cross; t=4: prev tie (2==2), now 3>2 -> cross up
    # t=6: prev tie (3==3), now 2<3 -> cross down; t=7 tie; t=8: prev tie, now 1<2 -> down
    assert crossover_signal(fast, slow).tolist() == [0, 0, 0, 0, 1, 0, -1, 0, -1]


def test_long_only_goes_flat_and_allow_short_reverses() -> None:
    bars = synthetic_candles(3000, resolution=Resolution.M5, seed=8)

    def positions(allow_short: bool) -> list[int]:
        cfg = BacktestConfig(
            "sma_crossover",
            {"allow_short": allow_short},
            ["X"],
            Resolution.M5,
            date(2024, 1, 1),
            date(2024, 12, 31),
            quantity=10,
            costs=False,
            product=ProductType.MARGIN if allow_short else None,  # CNC cannot sell short
        )
        r = run_backtest(cfg, data={"X": bars})
        assert r.rejections == []
        pos, seen = 0, []
        for f in r.fills:
            pos += f.quantity * (1 if f.side is Side.BUY else -1)
            seen.append(pos)
        return seen

    long_only = positions(False)
    assert set(long_only) == {0, 10}
    both = positions(True)
    assert set(both) == {-10, 10, 0} and both.count(0) == 1  # flat only at the end of data
