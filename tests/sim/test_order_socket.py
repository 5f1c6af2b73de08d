"""The simulator's order WebSocket against the unmodified SDK's ``FyersOrderSocket``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import websocket

from plugins.datasocket import wait_for
from plugins.orders import Inbox, OrderSim, order_payload, sdk_order_socket


def _subscribed(sim: OrderSim, inbox: Inbox, sock: object, what: str) -> None:
    sock.connect()  # type: ignore[attr-defined]
    sock.subscribe(data_type=what)  # type: ignore[attr-defined]
    wait_for(lambda: bool(inbox.of("general")), what="subscription ack")


def test_orders_trades_and_positions_arrive_in_the_sdk_format(
    order_sim: OrderSim, tmp_path: Path
) -> None:
    sim, inbox = order_sim, Inbox()
    with sdk_order_socket(sim.token, sim.socket_url, inbox, tmp_path) as sock:
        _subscribed(sim, inbox, sock, "OnOrders,OnTrades,OnPositions,OnGeneral")
        ack = {"code": 1605, "message": "Successfully subscribed", "s": "ok"}
        assert inbox.of("general")[0] == ack
        assert inbox.of("connect") == [None]
        ltp = sim.ltp()
        order_id = sim.client.place_order(order_payload(qty=7, orderTag="sock1"))["id"]
        wait_for(lambda: len(inbox.of("positions")) == 1, what="position update")
        statuses = [m["orders"]["status"] for m in inbox.of("orders")]
        assert statuses == [4, 6, 2]
        last = inbox.of("orders")[-1]
        assert last["s"] == "ok"
        assert {k: last["orders"][k] for k in ("id", "filledQty", "tradedPrice", "orderTag")} == {
            "id": order_id,
            "filledQty": 7,
            "tradedPrice": ltp,
            "orderTag": "1:sock1",
        }
        (trade,) = inbox.of("trades")
        assert trade["trades"]["orderNumber"] == order_id
        assert (trade["trades"]["tradedQty"], trade["trades"]["tradePrice"]) == (7, ltp)
        (position,) = inbox.of("positions")
        assert position["positions"]["netQty"] == 7 and position["positions"]["id"].endswith(
            "-INTRADAY"
        )
    assert not inbox.of("error")


def test_only_subscribed_lists_are_sent(order_sim: OrderSim, tmp_path: Path) -> None:
    sim, inbox = order_sim, Inbox()
    with sdk_order_socket(sim.token, sim.socket_url, inbox, tmp_path) as sock:
        _subscribed(sim, inbox, sock, "OnTrades")
        sim.client.place_order(order_payload())
        wait_for(lambda: len(inbox.of("trades")) == 1, what="the trade")
        sim.client.place_order(order_payload(side=-1))
        wait_for(lambda: len(inbox.of("trades")) == 2, what="the second trade")
        assert inbox.of("orders") == [] and inbox.of("positions") == []


def test_bad_token_is_refused_at_the_handshake(order_sim: OrderSim) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        websocket.create_connection(
            order_sim.socket_url, header={"authorization": "SIM-100:not-a-token"}, timeout=5
        )
    assert err.value.status_code == 403


def test_raw_messages_ping_and_bad_requests(order_sim: OrderSim) -> None:
    sim = order_sim
    ws = websocket.create_connection(
        sim.socket_url, header={"authorization": f"SIM-100:{sim.token}"}, timeout=5
    )
    try:
        ws.send("ping")
        assert ws.recv() == "pong"
        ws.send(json.dumps({"T": "SUB_ORD", "action_data": ["orders"], "SUB_T": 1}))
        assert json.loads(ws.recv())["s"] == "error"
        ws.send(json.dumps({"T": "SUB_ORD", "SLIST": ["orders"], "SUB_T": 1}))
        assert json.loads(ws.recv())["code"] == 1605
        sim.client.place_order(order_payload(orderTag="raw1"))
        first = json.loads(ws.recv())
        assert set(first) == {"orders", "s"}
        raw = first["orders"]
        assert raw["org_ord_status"] == 4 and raw["ordertag"] == "1:raw1"
        assert raw["time_epoch_oms"] == int(sim.clock.now()) and raw["status_msg"] == "New Ack"
        ws.send(json.dumps({"T": "SUB_ORD", "SLIST": ["orders"], "SUB_T": -1}))
        while (msg := json.loads(ws.recv())).get("code") != 1605:
            assert "orders" in msg  # the rest of the first order's updates
        assert sim.server.state.faults.order_socket_silent is False
    finally:
        ws.close()


def test_drop_and_silence(order_sim: OrderSim, tmp_path: Path) -> None:
    from fyerstrade.sim.ordersocket import order_hub_for

    sim, inbox = order_sim, Inbox()
    hub = order_hub_for(sim.server.state)
    with sdk_order_socket(sim.token, sim.socket_url, inbox, tmp_path) as sock:
        _subscribed(sim, inbox, sock, "OnOrders")
        sim.server.faults.set(order_socket_silent=True)
        sim.client.place_order(order_payload())
        wait_for(lambda: hub.dropped_events >= 3, what="events lost to silence")
        assert inbox.of("orders") == [] and hub.connections == 1
        sim.server.faults.set(order_socket_silent=False)
        sim.client.place_order(order_payload(side=-1))
        wait_for(lambda: len(inbox.of("orders")) == 3, what="events after the silence")
        sim.server.faults.set(order_socket_drop=1)
        wait_for(lambda: hub.connections == 0, what="the drop")
        wait_for(lambda: bool(inbox.of("close")), what="the SDK's on_close")
        sim.client.place_order(order_payload())
        assert len(inbox.of("orders")) == 3  # nothing is replayed to a dropped client
