"""The simulator's order endpoints driven by the official SDK over HTTP, on a stepped market
clock: placing, matching (market, limit, stops, partial fills), modify, cancel, multi-order,
orderbook filters, tradebook, positions, funds."""

from __future__ import annotations

from typing import Any

from fyerstrade.calendar import ist_date
from fyerstrade.sim.matching import minute_cap, mpp_band
from plugins.datasocket import wait_for
from plugins.orders import OPEN_AT, OrderSim, order_payload


def _settled(sim: OrderSim, order_id: str, statuses: set[int]) -> dict[str, Any]:
    wait_for(lambda: sim.order(order_id)["status"] in statuses, what=f"order in {statuses}")
    return sim.order(order_id)


def test_market_order_fills_at_the_ltp_and_books_everywhere(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    ltp = sim.ltp()
    reply = fyers.place_order(order_payload(qty=10, orderTag="mkt1"))
    assert reply["s"] == "ok" and reply["code"] == 1101
    assert isinstance(reply["id"], str) and reply["id"] in reply["message"]
    order = _settled(sim, reply["id"], {2})
    assert order["filledQty"] == 10 and order["remainingQuantity"] == 0
    assert order["tradedPrice"] == ltp
    assert order["orderTag"] == "1:mkt1" and order["type"] == 2 and order["side"] == 1
    # a market order is a protected limit: the LTP plus the band, on the tick
    band = mpp_band(sim.inst().kind, ltp)
    assert ltp < order["limitPrice"] <= ltp + band
    trades = fyers.tradebook()["tradeBook"]
    assert [(t["orderNumber"], t["tradedQty"], t["tradePrice"]) for t in trades] == [
        (reply["id"], 10, ltp)
    ]
    positions = fyers.positions()
    (row,) = positions["netPositions"]
    assert row["id"] == "NSE:SBIN-EQ-INTRADAY" and row["netQty"] == 10 and row["buyAvg"] == ltp
    assert positions["overall"]["count_open"] == 1
    funds = {f["title"]: f["equityAmount"] for f in fyers.funds()["fund_limit"]}
    assert funds["Utilized Amount"] == round(10 * ltp * 0.2, 2)  # intraday at 5x


def test_untagged_orders_and_the_orderbook_filters(order_sim: OrderSim) -> None:
    fyers = order_sim.client
    a = fyers.place_order(order_payload(orderTag="keep1"))["id"]
    b = fyers.place_order(order_payload())["id"]
    book = fyers.orderbook()["orderBook"]
    assert {o["id"]: o["orderTag"] for o in book} == {a: "1:keep1", b: "2:Untagged"}
    assert [o["id"] for o in fyers.orderbook({"id": b})["orderBook"]] == [b]
    assert [o["id"] for o in fyers.orderbook({"order_tag": "1:keep1"})["orderBook"]] == [a]
    # the tag is matched as the book stores it: a bare tag finds nothing
    assert fyers.orderbook({"order_tag": "keep1"})["orderBook"] == []
    assert fyers.get_orders({"id": a})["orderBook"][0]["id"] == a


def test_limit_order_rests_then_fills_at_its_price(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    inst = sim.inst()
    ahead = sim.exchange.market.ticks(inst, OPEN_AT, OPEN_AT + 900)
    low = min(t.price for t in ahead)
    assert low < sim.ltp()
    reply = fyers.place_order(order_payload(type=1, limitPrice=low, qty=5))
    order = _settled(sim, reply["id"], {6})
    assert order["filledQty"] == 0 and order["limitPrice"] == low
    first = next(t for t in ahead if t.price <= low)
    sim.clock.to(first.ts - 1)
    sim.exchange.process()
    assert sim.order(reply["id"])["status"] == 6
    sim.clock.to(first.ts)
    order = _settled(sim, reply["id"], {2})
    assert order["tradedPrice"] == low  # the resting order trades at its own price
    (trade,) = fyers.tradebook()["tradeBook"]
    assert trade["tradePrice"] == low


def test_large_order_fills_in_parts_by_the_minute(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    inst = sim.inst()
    market = sim.exchange.market
    cap = minute_cap(market.minute_volume(inst, OPEN_AT), 0.1, 1)
    next_cap = minute_cap(market.minute_volume(inst, OPEN_AT + 60), 0.1, 1)
    qty = cap + next_cap + 7  # needs a third minute
    limit = round(sim.ltp() * 1.01 // 0.1 * 0.1, 1)
    reply = fyers.place_order(order_payload(qty=qty, type=1, limitPrice=limit))
    order = _settled(sim, reply["id"], {6})
    assert order["filledQty"] == cap and order["remainingQuantity"] == qty - cap
    for _ in range(4):
        sim.clock.advance(60)
        sim.exchange.process()
    order = _settled(sim, reply["id"], {2})
    trades = fyers.tradebook()["tradeBook"]
    assert sum(t["tradedQty"] for t in trades) == qty and len(trades) >= 3
    by_minute: dict[int, int] = {}
    for t in sim.exchange.trades:
        minute = t.ts - t.ts % 60
        by_minute[minute] = by_minute.get(minute, 0) + t.qty
    for minute, minute_qty in by_minute.items():
        assert minute_qty <= minute_cap(market.minute_volume(inst, minute), 0.1, 1)
    avg = sum(t["tradedQty"] * t["tradePrice"] for t in trades) / qty
    assert abs(order["tradedPrice"] - avg) < 0.01


def test_stop_market_triggers_and_fills_at_the_triggering_print(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    fyers.place_order(order_payload(qty=4))
    ahead = sim.exchange.market.ticks(sim.inst(), OPEN_AT, OPEN_AT + 1800)
    trigger = min(t.price for t in ahead)
    assert trigger < sim.ltp()
    reply = fyers.place_order(order_payload(qty=4, type=3, side=-1, stopPrice=trigger))
    assert _settled(sim, reply["id"], {6})["filledQty"] == 0
    hit = next(t for t in ahead if t.price <= trigger)
    sim.clock.to(hit.ts)
    order = _settled(sim, reply["id"], {2})
    assert order["tradedPrice"] == hit.price
    assert fyers.positions()["netPositions"][0]["netQty"] == 0


def test_modify_and_cancel(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    far = round(sim.ltp() * 0.9, 1)
    order_id = fyers.place_order(order_payload(type=1, limitPrice=far))["id"]
    _settled(sim, order_id, {6})
    changed = fyers.modify_order({"id": order_id, "type": 1, "limitPrice": far - 1, "qty": 20})
    assert changed["s"] == "ok" and changed["code"] == 1102
    order = sim.order(order_id)
    assert (order["qty"], order["limitPrice"], order["status"]) == (20, far - 1, 6)
    # made marketable, it trades at once at the LTP
    up = fyers.modify_order({"id": order_id, "type": 2})
    assert up["code"] == 1102
    order = _settled(sim, order_id, {2})
    assert order["tradedPrice"] == sim.ltp() and order["filledQty"] == 20
    assert fyers.cancel_order({"id": order_id})["code"] == -162
    assert fyers.modify_order({"id": order_id, "type": 1, "limitPrice": far})["code"] == -162

    resting = fyers.place_order(order_payload(type=1, limitPrice=far))["id"]
    _settled(sim, resting, {6})
    cancelled = fyers.cancel_order({"id": resting})
    assert cancelled == {"s": "ok", "code": 1103, "message": cancelled["message"], "id": resting}
    assert sim.order(resting)["status"] == 1
    assert fyers.cancel_order({"id": resting})["code"] == -161
    assert fyers.cancel_order({"id": "99999"})["code"] == -51


def test_cancel_by_path_and_multi_orders(order_sim: OrderSim) -> None:
    import requests

    sim, fyers = order_sim, order_sim.client
    far = round(sim.ltp() * 0.9, 1)
    basket = [
        order_payload(type=1, limitPrice=far, orderTag="b1"),
        order_payload(type=1, limitPrice=far, orderTag="b2"),
        order_payload(symbol="NSE:NOPE-EQ"),
    ]
    answer = fyers.place_basket_orders(basket)
    assert answer["s"] == "ok"
    codes = [(d["statusCode"], d["body"]["code"]) for d in answer["data"]]
    assert codes == [(200, 1101), (200, 1101), (400, -300)]
    ids = [d["body"]["id"] for d in answer["data"][:2]]
    wait_for(lambda: all(sim.order(i)["status"] == 6 for i in ids), what="basket confirmed")
    lower = [{"id": i, "type": 1, "limitPrice": far - 2} for i in ids]
    modified = fyers.modify_basket_orders(lower)
    assert [d["body"]["code"] for d in modified["data"]] == [1102, 1102]
    url = f"{sim.server.url}/api/v3/orders/{ids[0]}/sync"
    auth = {"Authorization": f"SIM-100:{sim.token}"}
    assert requests.delete(url, headers=auth, timeout=10).json()["code"] == 1103
    gone = fyers.cancel_basket_orders([{"id": ids[1]}, {"id": ids[0]}])
    assert [d["body"]["code"] for d in gone["data"]] == [1103, -161]
    too_many = fyers.place_basket_orders([order_payload()] * 11)
    assert too_many["s"] == "error" and too_many["code"] == -50
    assert sim.exchange.counters.kinds["place"] == 3


def test_exit_and_convert_positions(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    assert fyers.exit_positions()["code"] == -352  # nothing to exit
    fyers.place_order(order_payload(qty=10, orderTag="in1"))
    fyers.place_order(order_payload(symbol="NSE:TCS-EQ", qty=3, side=-1, orderTag="in2"))
    wait_for(lambda: len(sim.exchange.net_positions()) == 2, what="two positions")
    converted = fyers.convert_position(
        {
            "symbol": "NSE:SBIN-EQ-INTRADAY",
            "positionSide": 1,
            "convertQty": 4,
            "convertFrom": "INTRADAY",
            "convertTo": "CNC",
            "overnight": 1,
        }
    )
    assert converted["s"] == "ok" and converted["message"] == "Position Converted Successfully!!"
    assert sim.exchange.net_positions() == {
        "NSE:SBIN-EQ-INTRADAY": 6,
        "NSE:SBIN-EQ-CNC": 4,
        "NSE:TCS-EQ-INTRADAY": -3,
    }
    bad = fyers.convert_position(
        {
            "symbol": "NSE:TCS-EQ-INTRADAY",
            "positionSide": 1,
            "convertQty": 1,
            "convertFrom": "INTRADAY",
            "convertTo": "CNC",
            "overnight": 1,
        }
    )
    assert bad["s"] == "error"
    one = fyers.exit_positions({"id": "NSE:TCS-EQ-INTRADAY"})
    assert one["code"] == 200 and "NSE:TCS-EQ-INTRADAY" not in sim.exchange.net_positions()
    everything = fyers.exit_positions()
    assert everything == {"s": "ok", "code": 200, "message": "The position is closed."}
    assert sim.exchange.net_positions() == {}
    exits = [o for o in fyers.orderbook()["orderBook"] if o["orderTag"] == "2:Untagged"]
    assert sorted((o["side"], o["qty"]) for o in exits) == [(-1, 4), (-1, 6), (1, 3)]


def test_pending_orders_cancel_then_exit(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    fyers.place_order(order_payload(qty=5))
    stop = fyers.place_order(
        order_payload(qty=5, type=3, side=-1, stopPrice=round(sim.ltp() * 0.95, 1))
    )["id"]
    wait_for(lambda: sim.order(stop)["status"] == 6, what="stop resting")
    answer = fyers.exit_positions({"pending_orders_cancel": 1, "exit_all": 1})
    assert answer["code"] == 200
    assert sim.order(stop)["status"] == 1
    assert sim.exchange.open_orders() == [] and sim.exchange.net_positions() == {}


def test_resting_order_expires_at_the_close(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    far = round(sim.ltp() * 0.85, 1)
    order_id = fyers.place_order(order_payload(type=1, limitPrice=far))["id"]
    _settled(sim, order_id, {6})
    session = sim.server.state.cal.session(ist_date(OPEN_AT))
    assert session is not None
    sim.clock.to(session.close_ts)
    order = _settled(sim, order_id, {7})
    assert order["filledQty"] == 0


def test_ioc_remainder_is_cancelled(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    cap = minute_cap(sim.exchange.market.minute_volume(sim.inst(), OPEN_AT), 0.1, 1)
    order_id = fyers.place_order(order_payload(qty=cap + 50, validity="IOC"))["id"]
    order = _settled(sim, order_id, {1})
    assert order["filledQty"] == cap and order["remainingQuantity"] == 0
    assert sim.exchange.net_positions() == {"NSE:SBIN-EQ-INTRADAY": cap}


def test_after_market_order_trades_at_the_next_open(order_sim: OrderSim) -> None:
    from datetime import time

    from fyerstrade.calendar import ist_date, ist_epoch

    sim, fyers = order_sim, order_sim.client
    day = ist_date(OPEN_AT)
    sim.clock.to(ist_epoch(day, time(8, 0)))
    order_id = fyers.place_order(order_payload(offlineOrder=True))["id"]
    order = _settled(sim, order_id, {6})
    assert order["offlineOrder"] is True and order["filledQty"] == 0
    open_ts = ist_epoch(day, time(9, 15))
    first = sim.exchange.market.ticks(sim.inst(), open_ts - 1, open_ts + 60)[0]
    sim.clock.to(open_ts + 30)
    order = _settled(sim, order_id, {2})
    assert order["tradedPrice"] == first.price


def test_funds_follow_realized_profit(order_sim: OrderSim) -> None:
    sim, fyers = order_sim, order_sim.client
    buy = sim.ltp()
    fyers.place_order(order_payload(qty=100))
    wait_for(lambda: bool(sim.exchange.net_positions()), what="bought")
    sim.clock.advance(1800)
    sell = sim.ltp()
    fyers.place_order(order_payload(qty=100, side=-1))
    wait_for(lambda: not sim.exchange.net_positions(), what="sold")
    (row,) = fyers.positions()["netPositions"]
    assert row["realized_profit"] == round(100 * (sell - buy), 2)
    funds = {f["title"]: f["equityAmount"] for f in fyers.funds()["fund_limit"]}
    assert funds["Realized Profit and Loss"] == row["realized_profit"]
    assert funds["Total Balance"] == round(1_000_000 + row["realized_profit"], 2)
    assert funds["Utilized Amount"] == 0
    assert fyers.holdings()["holdings"] == []
