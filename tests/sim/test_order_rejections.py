"""What the simulator refuses, and when: request errors in the reply (no order exists), risk and
exchange rejections *after* an ``s: ok`` acknowledgement (the order exists, then shows status 5),
and the order rate."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
import requests

from fyerstrade.calendar import ist_date, ist_epoch
from fyerstrade.sim.limits import SlidingWindowLimiter
from plugins.datasocket import wait_for
from plugins.orders import OPEN_AT, OrderSim, order_payload


def _rejected_after_ack(sim: OrderSim, body: dict[str, Any]) -> str:
    reply = sim.client.place_order(body)
    assert reply["s"] == "ok" and reply["code"] == 1101, reply
    wait_for(lambda: sim.order(reply["id"])["status"] == 5, what="the late rejection")
    order = sim.order(reply["id"])
    assert order["filledQty"] == 0 and order["exchOrdId"] is None
    return str(order["message"])


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (order_payload(symbol="NSE:NOPE-EQ"), -300, "valid symbol"),
        (order_payload(qty=0), -50, "qty"),
        (order_payload(qty="ten"), -50, "qty"),
        (order_payload(type=5), -50, "type"),
        (order_payload(side=0), -50, "side"),
        (order_payload(productType="BO"), -50, "productType"),
        (order_payload(productType="DELIVERY"), -50, "productType"),
        (order_payload(validity="GTC"), -50, "validity"),
        (order_payload(type=1, limitPrice=0), -50, "limitPrice"),
        (order_payload(type=3, stopPrice=0), -50, "stopPrice"),
        (order_payload(type=4, limitPrice=900, stopPrice=901), -50, "trigger"),
        (order_payload(orderTag="has space"), -50, "orderTag"),
        (order_payload(orderTag="x" * 31), -50, "orderTag"),
        (order_payload(orderTag="Untagged"), -50, "orderTag"),
    ],
)
def test_request_errors_create_no_order(
    order_sim: OrderSim, body: dict[str, Any], code: int, words: str
) -> None:
    reply = order_sim.client.place_order(body)
    assert reply["s"] == "error" and reply["code"] == code and words in reply["message"]
    assert order_sim.exchange.orders == {}


def test_margin_shortfall_is_a_late_rejection(order_sim: OrderSim) -> None:
    message = _rejected_after_ack(order_sim, order_payload(qty=10_000, productType="CNC"))
    assert message.startswith("RED:Margin Shortfall:INR ")
    assert "Available:INR 10,00,000.00" in message


def test_lot_tick_band_and_stop_rules_are_late_rejections(order_sim: OrderSim) -> None:
    sim = order_sim
    fut = next(s for s in sim.server.state.universe().instruments if s.endswith("FUT"))
    one_unit = order_payload(symbol=fut, qty=1, productType="MARGIN")
    assert "lot size" in _rejected_after_ack(sim, one_unit)
    assert "tick size" in _rejected_after_ack(sim, order_payload(type=1, limitPrice=950.03))
    _, high = sim.exchange.market.band(sim.inst(), OPEN_AT)
    beyond = round(high + 10, 1)
    assert "price band" in _rejected_after_ack(sim, order_payload(type=1, limitPrice=beyond))
    above = round(sim.ltp() + 5, 1)
    message = _rejected_after_ack(sim, order_payload(type=3, side=-1, stopPrice=above))
    assert "Trigger price" in message and "below the last traded price" in message
    assert "not allowed" in _rejected_after_ack(sim, order_payload(productType="MARGIN"))
    index = "NSE:NIFTY50-INDEX"
    assert "Index" in _rejected_after_ack(sim, order_payload(symbol=index))


def test_after_hours_is_a_late_rejection_and_amo_is_not(order_sim: OrderSim) -> None:
    sim = order_sim
    sim.clock.to(ist_epoch(ist_date(OPEN_AT), time(16, 0)))
    assert "Market is closed" in _rejected_after_ack(sim, order_payload())
    reply = sim.client.place_order(order_payload(offlineOrder=True))
    wait_for(lambda: sim.order(reply["id"])["status"] == 6, what="AMO accepted")
    sim.clock.to(OPEN_AT)
    message = _rejected_after_ack(sim, order_payload(offlineOrder=True))
    assert "outside market hours" in message


def test_more_than_ten_order_requests_a_second(order_sim: OrderSim) -> None:
    sim = order_sim
    sim.exchange.use_monotonic(lambda: 1000.0)  # every request in the same second
    far = round(sim.ltp() * 0.9, 1)
    replies = [sim.client.place_order(order_payload(type=1, limitPrice=far)) for _ in range(12)]
    # every place is acknowledged; those past the exchange's threshold are rejected afterwards
    assert [r["code"] for r in replies] == [1101] * 12
    wait_for(lambda: not any(o.status == 4 for o in sim.exchange.orders.values()), what="verdicts")
    status = {r["id"]: sim.order(r["id"]) for r in replies}
    assert [status[r["id"]]["status"] for r in replies] == [6] * 10 + [5] * 2
    assert all("more than 10 order requests" in status[r["id"]]["message"] for r in replies[10:])
    counters = sim.exchange.counters
    assert counters.rate_refusals == 2 and counters.max_per_second() == 12
    # a cancel past the threshold is answered 429 and cancels nothing
    answer = sim.client.cancel_order({"id": replies[0]["id"]})
    assert answer["code"] == -429 and sim.order(replies[0]["id"])["status"] == 6
    sim.exchange.use_monotonic(lambda: 1002.0)  # two seconds later
    assert sim.client.cancel_order({"id": replies[0]["id"]})["code"] == 1103
    # order requests are not counted in the general REST window: reads still work
    assert sim.client.orderbook()["s"] == "ok"


def test_general_limit_still_applies_to_reads(
    order_sim: OrderSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = order_sim.server.state
    monkeypatch.setattr(state, "limiter", SlidingWindowLimiter(10, 200, lambda: 5.0))
    url = f"{order_sim.server.url}/api/v3/orders"
    auth = {"Authorization": f"SIM-100:{order_sim.token}"}
    statuses = [requests.get(url, headers=auth, timeout=10).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429] * 2


def test_unauthenticated_order_calls_are_counted_and_refused(order_sim: OrderSim) -> None:
    url = f"{order_sim.server.url}/api/v3/orders/sync"
    answer = requests.post(url, json=order_payload(), headers={"Authorization": "x:y"}, timeout=10)
    assert answer.status_code == 401 and answer.json()["code"] == -16
    assert order_sim.exchange.counters.total_calls == 1
    assert order_sim.exchange.orders == {}
