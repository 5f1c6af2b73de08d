"""The order faults, seen the way a client sees them through the unmodified SDK, and the control
plane tests use (``/_sim/stats``, ``/_sim/orders``, ``/_sim/faults``)."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from fyerstrade.sim.matching import mpp_band
from plugins.datasocket import wait_for
from plugins.orders import OrderSim, order_payload


def test_reply_lost_after_placement(order_sim: OrderSim) -> None:
    sim = order_sim
    sim.server.faults.set(order_reply_lost=1)
    reply = sim.client.place_order(order_payload(orderTag="lost1"))
    # the SDK turns the dropped connection into its generic failure ...
    assert reply == {"s": "error", "code": -99, "message": "Bad request"}
    # ... but the order was placed, and the tag finds it
    (found,) = sim.client.orderbook({"order_tag": "1:lost1"})["orderBook"]
    wait_for(lambda: sim.order(found["id"])["status"] == 2, what="the lost order's fill")
    assert len(sim.exchange.orders) == 1 and sim.server.faults.order_reply_lost == 0
    assert sim.client.place_order(order_payload())["code"] == 1101  # the next one answers


def test_acknowledgement_delayed(order_sim: OrderSim) -> None:
    sim = order_sim
    sim.server.faults.set(order_ack_delay=1.0)
    replies: list[dict[str, Any]] = []
    started = time.monotonic()
    worker = threading.Thread(
        target=lambda: replies.append(sim.client.place_order(order_payload(orderTag="slow1")))
    )
    worker.start()
    # the order is live (and filled) before its acknowledgement arrives
    wait_for(lambda: any(o.status == 2 for o in sim.exchange.orders.values()), what="the fill")
    worker.join(timeout=30)
    assert time.monotonic() - started >= 1.0
    (reply,) = replies
    assert reply["code"] == 1101 and sim.order(reply["id"])["status"] == 2


def test_late_rejection_after_a_delay(order_sim: OrderSim) -> None:
    sim = order_sim
    sim.server.faults.set(order_late_reject=1, order_reject_delay=0.5)
    started = time.monotonic()
    reply = sim.client.place_order(order_payload())
    assert reply["code"] == 1101
    assert sim.order(reply["id"])["status"] in (4, 5)
    wait_for(lambda: sim.order(reply["id"])["status"] == 5, what="the late rejection")
    assert time.monotonic() - started >= 0.5
    assert sim.order(reply["id"])["message"].startswith("RED:Block Type")
    sim.server.faults.set(order_reject_delay=0)
    second = sim.client.place_order(order_payload())
    wait_for(lambda: sim.order(second["id"])["status"] == 2, what="the next order's fill")


def test_rejected_in_the_reply(order_sim: OrderSim) -> None:
    sim = order_sim
    sim.server.faults.set(order_reject_now=1)
    reply = sim.client.place_order(order_payload(orderTag="now1"))
    assert reply["s"] == "error" and reply["code"] == -99
    assert reply["message"].startswith("RED:")  # a reason, unlike the SDK's "Bad request"
    (row,) = sim.client.orderbook({"order_tag": "1:now1"})["orderBook"]
    assert row["status"] == 5 and row["message"] == reply["message"]


def test_market_order_rests_in_a_locked_market(order_sim: OrderSim) -> None:
    sim = order_sim
    sim.server.faults.set(frozen_symbols=["NSE:SBIN-EQ"])
    ltp = sim.ltp()
    order_id = sim.client.place_order(order_payload(qty=10))["id"]
    wait_for(lambda: sim.order(order_id)["status"] == 6, what="confirmed")
    sim.clock.advance(600)
    sim.exchange.process()
    order = sim.order(order_id)
    assert order["status"] == 6 and order["filledQty"] == 0 and order["type"] == 2
    band = mpp_band(sim.inst().kind, ltp)
    assert ltp < order["limitPrice"] <= ltp + band  # resting at its protection price
    # another symbol still trades
    other = sim.client.place_order(order_payload(symbol="NSE:TCS-EQ"))["id"]
    wait_for(lambda: sim.order(other)["status"] == 2, what="TCS fill")
    sim.server.faults.set(frozen_symbols=[])
    sim.clock.advance(60)
    wait_for(lambda: sim.order(order_id)["status"] == 2, what="fill once unlocked")
    assert sim.order(order_id)["tradedPrice"] == order["limitPrice"]


def test_a_lagging_orderbook_shows_finished_orders_open_for_n_reads(order_sim: OrderSim) -> None:
    sim = order_sim
    order_id = sim.client.place_order(order_payload(qty=10, orderTag="lag1"))["id"]
    wait_for(lambda: sim.order(order_id)["status"] == 2, what="the fill")
    sim.server.faults.set(orderbook_stale=2)
    # two reads (the whole book, then by id) still show it open with nothing filled ...
    (row,) = sim.client.orderbook()["orderBook"]
    assert (row["status"], row["filledQty"], row["remainingQuantity"]) == (6, 0, 10)
    (by_id,) = sim.client.orderbook({"id": order_id})["orderBook"]
    assert by_id["status"] == 6 and by_id["tradedPrice"] == 0
    # ... while the tradebook and positions are current
    (trade,) = sim.client.tradebook()["tradeBook"]
    assert trade["orderNumber"] == order_id and trade["tradedQty"] == 10
    assert sum(p["netQty"] for p in sim.client.positions()["netPositions"]) == 10
    # the third read has caught up
    (caught_up,) = sim.client.orderbook({"order_tag": "1:lag1"})["orderBook"]
    assert caught_up["status"] == 2 and caught_up["filledQty"] == 10
    assert sim.server.faults.orderbook_stale == 0


def test_control_plane(order_sim: OrderSim) -> None:
    sim = order_sim
    base = sim.server.url
    bad = requests.post(f"{base}/_sim/faults", json={"order_reply_lots": 1}, timeout=10)
    assert bad.status_code == 400 and "order_reply_lost" in bad.json()["message"]
    ok = requests.post(f"{base}/_sim/faults", json={"frozen_symbols": ["NSE:TCS-EQ"]}, timeout=10)
    assert ok.json()["frozen_symbols"] == ["NSE:TCS-EQ"]
    sim.client.place_order(order_payload())
    sim.client.orderbook()
    stats = requests.get(f"{base}/_sim/stats", timeout=10).json()["orders"]
    assert stats["calls"] == {"POST /api/v3/orders/sync": 1, "GET /api/v3/orders": 1}
    assert stats["order_requests"] == 1 and stats["kinds"] == {"place": 1}
    snapshot = requests.get(f"{base}/_sim/orders", timeout=10).json()
    assert len(snapshot["orders"]) == 1 and len(snapshot["positions"]) == 1
    after = requests.post(f"{base}/_sim/orders/reset", timeout=10).json()
    assert after["orders"] == [] and after["counters"]["order_requests"] == 0
    assert sim.exchange.net_positions() == {}
