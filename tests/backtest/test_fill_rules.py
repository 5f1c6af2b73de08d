"""Every fill rule of the README's "Backtest assumptions", as a candle table, in both engines.

The tables live in ``tests/plugins/trading_fill_rules.py``; each runs through the event engine (its
signals turned into orders bar by bar) and the vectorized engine, and both must make exactly the
stated fills and rejections — and the same result to the last field.
"""

from __future__ import annotations

import numpy as np
import pytest

from fyerstrade.domain import Instrument, ProductType, Side
from fyerstrade.trading.costs import FyersCostModel
from plugins.trading_fill_rules import CASES, ENGINES, ROWS, FillCase, fills_of, run_case


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_fill_rule(case: FillCase, engine: str) -> None:
    r = run_case(case, engine)  # type: ignore[arg-type]
    assert fills_of(r) == list(case.fills)
    assert [x.reason for x in r.rejections] == list(case.rejections)
    if case.exit_reasons is not None:
        assert [t.exit_reason for t in r.trades] == list(case.exit_reasons)


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_both_engines_give_the_same_result(case: FillCase) -> None:
    event, vector = run_case(case, "event"), run_case(case, "vector")
    assert vector.fills == event.fills  # order ids, costs and products included
    assert vector.trades == event.trades
    assert vector.rejections == event.rejections
    assert np.array_equal(vector.equity_ts, event.equity_ts)
    assert np.array_equal(vector.equity, event.equity)
    assert np.array_equal(vector.cash, event.cash)
    assert np.array_equal(vector.exposure, event.exposure)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", ["positional", "intraday"])
def test_charges_are_the_cost_models_at_the_trade_date(engine: str, mode: str) -> None:
    case = FillCase(
        "charges", ROWS, entries=["10:00"], exits=["10:10"], fills=[],
        config={"costs": True, "mode": mode},
    )  # fmt: skip
    r = run_case(case, engine)  # type: ignore[arg-type]
    model = FyersCostModel()  # one model for the run: a same-day CNC sell matches the buy
    product = ProductType.INTRADAY if mode == "intraday" else ProductType.CNC
    assert len(r.fills) == 2 and r.fills[0].side is Side.BUY
    for f in r.fills:
        assert f.product is product
        expected = model.fill_costs(
            Instrument(f.symbol), product, f.side, f.quantity, f.price, f.ts
        )
        assert f.costs == expected
    trade = r.trades[0]
    # bought and sold the same day: intraday charges either way (CNC's credit on the sell
    # reverses the buy's delivery charges)
    intraday = FyersCostModel()
    both = sum(
        intraday.fill_costs(Instrument(f.symbol), ProductType.INTRADAY, f.side, f.quantity,
                            f.price, f.ts)
        for f in r.fills
    )  # fmt: skip
    assert trade.costs == pytest.approx(both, abs=1e-9) and trade.costs > 0
    assert trade.pnl == pytest.approx((102.4 - 100.6) * 10 - trade.costs, abs=1e-9)
