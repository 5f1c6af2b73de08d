"""Portfolio arithmetic: long, short, partial closes, reversals, costs, equity."""

from __future__ import annotations

import pytest

from fyerstrade.domain import Fill, ProductType, Side
from fyerstrade.trading.portfolio import Portfolio


def fill(
    side: Side, qty: int, price: float, ts: int = 0, costs: float = 0.0, tag: str = ""
) -> Fill:
    return Fill("O", "X", side, qty, price, ts, costs, ProductType.INTRADAY, tag)


def test_long_round_trip_with_costs() -> None:
    p = Portfolio(10_000)
    assert p.apply(fill(Side.BUY, 10, 100.0, ts=1, costs=2.0)) == []
    assert p.cash == pytest.approx(10_000 - 1000 - 2)
    p.mark("X", 105.0)
    assert p.unrealized_pnl == pytest.approx(50.0)
    assert p.equity == pytest.approx(10_000 - 2 + 50)
    (rt,) = p.apply(fill(Side.SELL, 10, 110.0, ts=2, costs=3.0, tag="target1"))
    assert (rt.side, rt.quantity, rt.entry_price, rt.exit_price) == (Side.BUY, 10, 100.0, 110.0)
    assert rt.costs == pytest.approx(5.0)
    assert rt.pnl == pytest.approx(100 - 5)
    assert rt.exit_reason == "target"
    assert p.equity == pytest.approx(10_095)
    assert p.quantity("X") == 0


def test_short_round_trip() -> None:
    p = Portfolio(10_000)
    p.apply(fill(Side.SELL, 5, 200.0))
    assert p.cash == pytest.approx(11_000)
    p.mark("X", 190.0)
    assert p.unrealized_pnl == pytest.approx(50.0)
    assert p.equity == pytest.approx(10_050)
    (rt,) = p.apply(fill(Side.BUY, 5, 210.0, tag="stop"))
    assert rt.side is Side.SELL and rt.pnl == pytest.approx(-50.0) and rt.exit_reason == "stop"
    assert p.equity == pytest.approx(9_950)


def test_adding_averages_and_partial_close_carries_entry_costs_pro_rata() -> None:
    p = Portfolio(100_000)
    p.apply(fill(Side.BUY, 10, 100.0, ts=1, costs=4.0))
    p.apply(fill(Side.BUY, 30, 104.0, ts=2, costs=4.0))
    pos = p.positions["X"]
    assert pos.quantity == 40 and pos.avg_price == pytest.approx(103.0) and pos.opened_ts == 1
    (rt,) = p.apply(fill(Side.SELL, 10, 110.0, ts=3, costs=1.0))
    assert rt.quantity == 10 and rt.costs == pytest.approx(8.0 / 4 + 1.0)
    assert rt.pnl == pytest.approx(70.0 - 3.0)
    assert pos.quantity == 30 and pos.avg_price == pytest.approx(103.0)
    assert pos.costs == pytest.approx(6.0)
    assert p.realized_pnl == pytest.approx(70.0)


def test_reversal_closes_and_opens_the_other_way() -> None:
    p = Portfolio(100_000)
    p.apply(fill(Side.BUY, 10, 100.0, ts=1))
    (rt,) = p.apply(fill(Side.SELL, 25, 90.0, ts=2, costs=5.0))
    assert rt.quantity == 10 and rt.pnl == pytest.approx(-100.0 - 2.0)
    pos = p.positions["X"]
    assert pos.quantity == -15 and pos.avg_price == 90.0 and pos.opened_ts == 2
    assert pos.costs == pytest.approx(3.0)
    p.mark("X", 90.0)
    assert p.equity == pytest.approx(100_000 - 100 - 5)
    assert p.gross_exposure == pytest.approx(1350.0)


def test_margin_used_by_product_leverage() -> None:
    p = Portfolio(100_000)
    p.apply(fill(Side.BUY, 100, 100.0))
    assert p.margin_used({ProductType.INTRADAY: 5.0}) == pytest.approx(2000.0)
