"""Fyers' orderbook lagging what its trades and order socket already said (issue 12): the live
engine with REAL orders, the official SDK against the simulator over 127.0.0.1, the simulator's
``orderbook_stale`` fault serving filled orders as still open, the monotonic clock moved by hand.

A lag within ``real.lag_grace_seconds`` is settling — re-read, no kill switch, the books right
once it catches up; beyond it, a contradiction that pulls the kill switch naming the order. And
a read asked before an order reached Fyers never settles that order (the 22:30 load failure)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time as dtime

from fyerstrade.calendar import ist_epoch
from fyerstrade.domain import Order, OrderStatus, Side
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import PAPER_SYMBOLS
from plugins.orders import OPEN_AT, OrderSim
from plugins.real_engine import RealRig

A = PAPER_SYMBOLS[0]
UNTIL = ist_epoch(MARKET_DAY, dtime(10, 40))
T0 = OPEN_AT + 30


def _filled(real_rig: Callable[..., RealRig]) -> tuple[RealRig, Order]:
    """A real-order engine with one market order of A filled (told by the order socket)."""
    rig = real_rig(UNTIL)
    rig.open_market(T0, A)
    order = rig.send(A, Side.BUY, 10)
    rig.settle()
    rig.read()  # a current book: nothing settling
    assert order.status is OrderStatus.FILLED and rig.broker.settling == []
    return rig, order


def test_an_orderbook_lagging_within_the_grace_settles_without_a_kill_switch(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig, order = _filled(real_rig)
    order_sim.server.faults.set(orderbook_stale=3)
    for _ in range(3):  # 2, 4 and 6 s after the fill the book still shows it open
        rig.mono.t += 2.0
        rig.read()
        (line,) = rig.broker.settling
        assert order.id in line and "working at Fyers (OPEN)" in line
        assert not rig.engine.kill_switch.state().active
    rig.mono.t += 2.0
    rig.read()  # caught up
    assert order_sim.server.faults.orderbook_stale == 0  # the three stale reads were served
    assert rig.broker.settling == []
    assert not rig.engine.kill_switch.state().active and rig.session.trader.risk.halted == ""
    assert order.status is OrderStatus.FILLED
    assert rig.core.portfolio.quantity(A) == rig.sim_net(A) == 10
    assert [r[4:] for r in rig.recorded()] == [("FILLED", 10)]
    follow = rig.send(A, Side.SELL, 10)  # and it trades on
    rig.settle()
    assert follow.status is OrderStatus.FILLED and rig.sim_net(A) == 0


def test_an_orderbook_lagging_beyond_the_grace_pulls_the_kill_switch_naming_the_order(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = real_rig(UNTIL, real={"lag_grace_seconds": 4})  # default 10
    assert rig.broker.lag_grace == rig.broker.tracker.lag_grace == 4
    rig.open_market(T0, A)
    order = rig.send(A, Side.BUY, 10)
    rig.settle()
    order_sim.server.faults.set(orderbook_stale=1000)
    rig.mono.t += 3.9
    rig.read()
    assert len(rig.broker.settling) == 1 and not rig.engine.kill_switch.state().active
    rig.mono.t += 0.1  # 4 s after the fill: the grace is over
    rig.read(until=lambda: rig.engine.kill_switch.state().active)
    state = rig.engine.kill_switch.state()
    assert state.source == "engine" and "reconciliation" in state.reason
    assert f"order {order.id} (BUY 10 {A}) is finished in our books but working" in state.reason
    assert "4.0 s after our books moved" in state.reason
    refused = rig.core.place(A, Side.BUY, 10)
    assert refused.status is OrderStatus.REJECTED
    # the account is flattened by Fyers' own view
    order_sim.server.faults.set(orderbook_stale=0)
    rig.wait_for(lambda: not order_sim.exchange.open_orders() and rig.sim_net(A) == 0)


def test_a_read_asked_before_the_order_reached_fyers_never_settles_it(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = real_rig(UNTIL)
    rig.open_market(T0, A)
    rig.settle()
    rig.broker.request_read()  # the sender runs it before the place below: it cannot show it
    order = rig.send(A, Side.BUY, 10)
    rig.at(T0 + 120)  # market time runs on before that read is applied (a 480x clock, a load)
    rig.settle()
    rig.read()
    assert order.status is OrderStatus.FILLED, order.reject_reason
    assert not rig.engine.kill_switch.state().active and rig.session.trader.risk.halted == ""
    assert rig.core.portfolio.quantity(A) == rig.sim_net(A) == 10
