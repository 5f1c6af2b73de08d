"""The order stream against the simulator's order socket, through the unmodified SDK: parsed
updates, a Connected marker on every (re)connection, its own reconnects, a refused token."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from fyerstrade.config import Settings, load_settings
from fyerstrade.errors import AuthError
from fyerstrade.fyers.order_stream import Connected, OrderStream, Update
from fyerstrade.fyers.orders import BrokerOrder, BrokerPosition, BrokerTrade, OrderState
from fyerstrade.sim import DEFAULT_APP_ID
from plugins.datasocket import wait_for
from plugins.orders import OrderSim, order_payload


@pytest.fixture
def stream_settings(order_sim: OrderSim, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("FYERSTRADE_FYERS_URL", order_sim.server.url)
    return load_settings(env_file=None)


@pytest.fixture
def stream(order_sim: OrderSim, stream_settings: Settings) -> Iterator[OrderStream]:
    s = OrderStream(stream_settings, f"{DEFAULT_APP_ID}:{order_sim.token}", reconnect_delays=(0.1,))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _drain(s: OrderStream, got: list[Update]) -> list[Update]:
    while True:
        try:
            got.append(s.updates.get_nowait())
        except queue.Empty:
            return got


def test_updates_arrive_parsed(order_sim: OrderSim, stream: OrderStream) -> None:
    assert stream.wait_live(30)
    got: list[Update] = []
    order_id = order_sim.client.place_order(order_payload(qty=3, orderTag="st1"))["id"]
    wait_for(
        lambda: any(isinstance(u, BrokerPosition) for u in _drain(stream, got)), what="updates"
    )
    assert got[0] == Connected(1)
    orders = [u for u in got if isinstance(u, BrokerOrder)]
    assert [o.state for o in orders] == [OrderState.TRANSIT, OrderState.OPEN, OrderState.FILLED]
    assert {o.broker_id for o in orders} == {order_id} and orders[0].tag == "st1"
    (trade,) = [u for u in got if isinstance(u, BrokerTrade)]
    assert trade.broker_id == order_id and trade.quantity == 3


def test_a_dropped_socket_reconnects_and_says_so(order_sim: OrderSim, stream: OrderStream) -> None:
    assert stream.wait_live(30)
    got: list[Update] = []
    order_sim.server.faults.set(order_socket_drop=1)
    wait_for(lambda: Connected(2) in _drain(stream, got), timeout=30, what="the reconnection")
    order_sim.client.place_order(order_payload(orderTag="st2"))
    wait_for(
        lambda: any(isinstance(u, BrokerTrade) for u in _drain(stream, got)),
        what="updates after the reconnection",
    )
    assert stream.connects == 2 and stream.error is None


def test_a_refused_token_stops_the_stream(order_sim: OrderSim, stream_settings: Settings) -> None:
    s = OrderStream(stream_settings, f"{DEFAULT_APP_ID}:not-a-token", reconnect_delays=(0.1,))
    s.start()
    try:
        wait_for(lambda: not s.running, timeout=30, what="the stream to stop")
    finally:
        s.stop()
    assert isinstance(s.error, AuthError) and "403" in str(s.error)
    assert s.connects == 1
