"""Pure order mapping (``fyerstrade.fyers.orders``) on recorded payloads: Fyers' documented
samples (``docs_samples.json``) and what the unmodified SDK returned from the simulator
(``sim_*.json``, re-recorded by ``record.py`` in the same folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fyerstrade.domain import Order, OrderType, ProductType, Side
from fyerstrade.errors import DataError, InputError
from fyerstrade.fyers.orders import (
    OrderState,
    Outcome,
    book_tag,
    classify_reply,
    fyers_time,
    is_valid_tag,
    make_tag,
    modify_payload,
    order_state,
    parse_funds,
    parse_order,
    parse_orderbook,
    parse_positions,
    parse_trade,
    parse_tradebook,
    place_payload,
    protected_limit,
    strip_tag,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fyers_orders"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


DOCS = _load("docs_samples.json")


# ---------------------------------------------------------------------------------- tags


def test_tags_fit_fyers_rules_and_round_trip() -> None:
    tag = make_tag("ft", "20261203a7", 123_456)
    assert tag == "ft20261203a72n9c" and is_valid_tag(tag) and len(tag) <= 30
    assert strip_tag(book_tag(tag)) == tag
    assert strip_tag("2:Untagged") == "" and strip_tag("2:fyersown") == "" and strip_tag(None) == ""
    assert not is_valid_tag("has space") and not is_valid_tag("x" * 31)
    assert not is_valid_tag("Untagged") and not is_valid_tag("")
    with pytest.raises(ValueError, match="letters and digits"):
        make_tag("ft-", "x", 1)
    with pytest.raises(ValueError):
        make_tag("ft", "s" * 29, 40)


# ---------------------------------------------------------------------------------- out


def _order(**kw: Any) -> Order:
    base: dict[str, Any] = {"id": "O1", "symbol": "NSE:SBIN-EQ", "side": Side.BUY, "quantity": 10}
    base.update(kw)
    return Order(**base)


def test_market_orders_go_as_protected_limits() -> None:
    body = place_payload(_order(), tag="ft1", tick=0.1, reference=1071.33, band_pct=0.5)
    assert body["type"] == 1 and body["limitPrice"] == 1076.7  # 1076.69 rounded up to the tick
    assert body["side"] == 1 and body["orderTag"] == "ft1" and body["productType"] == "INTRADAY"
    sell = place_payload(_order(side=Side.SELL), tag="ft2", tick=0.05, reference=100.0, band_pct=1)
    assert sell["side"] == -1 and sell["limitPrice"] == 99.0
    assert protected_limit(Side.SELL, 0.07, 50, 0.05) == 0.05  # never below one tick
    with pytest.raises(InputError, match="reference price"):
        place_payload(_order(), tag="ft1", tick=0.1)


def test_limit_stop_and_stop_limit_payloads() -> None:
    limit = place_payload(
        _order(order_type=OrderType.LIMIT, limit_price=950.04, product=ProductType.CNC),
        tag="a1",
        tick=0.1,
    )
    assert (limit["type"], limit["limitPrice"], limit["stopPrice"]) == (1, 950.0, 0.0)
    assert limit["productType"] == "CNC" and limit["validity"] == "DAY"
    stop = place_payload(
        _order(order_type=OrderType.STOP, stop_price=940.0, side=Side.SELL), tag="a2", tick=0.1
    )
    assert (stop["type"], stop["limitPrice"], stop["stopPrice"]) == (3, 0.0, 940.0)
    sl = place_payload(
        _order(order_type=OrderType.STOP_LIMIT, stop_price=960.0, limit_price=961.0),
        tag="a3",
        tick=0.1,
        validity="IOC",
    )
    assert (sl["type"], sl["limitPrice"], sl["stopPrice"], sl["validity"]) == (
        4,
        961.0,
        960.0,
        "IOC",
    )
    assert set(limit) >= {"symbol", "qty", "disclosedQty", "offlineOrder", "stopLoss", "takeProfit"}
    assert limit["offlineOrder"] is False  # a JSON boolean, not the string some samples send


@pytest.mark.parametrize(
    ("order", "kwargs", "words"),
    [
        (_order(quantity=10, symbol="NSE:NIFTY26DECFUT"), {"lot": 65}, "lots of 65"),
        (_order(quantity=0), {}, "lots"),
        (_order(order_type=OrderType.LIMIT), {}, "limit price"),
        (_order(order_type=OrderType.STOP), {}, "stop price"),
        (_order(order_type=OrderType.LIMIT, limit_price=1.0), {"validity": "GTC"}, "validity"),
        (_order(order_type=OrderType.LIMIT, limit_price=1.0), {"tag": "bad tag"}, "tag"),
    ],
)
def test_payload_refusals(order: Order, kwargs: dict[str, Any], words: str) -> None:
    args: dict[str, Any] = {"tag": "ok1", "tick": 0.05, "reference": 100.0}
    args.update(kwargs)
    with pytest.raises(InputError, match=words):
        place_payload(order, **args)


def test_modify_payload_always_has_id_and_type() -> None:
    assert modify_payload("26120300000001", OrderType.LIMIT, tick=0.1, limit_price=950.04) == {
        "id": "26120300000001",
        "type": 1,
        "limitPrice": 950.0,
    }
    assert modify_payload("x", OrderType.STOP, tick=0.05, quantity=5, stop_price=10.02) == {
        "id": "x",
        "type": 3,
        "qty": 5,
        "stopPrice": 10.0,
    }


# ---------------------------------------------------------------------------------- replies


@pytest.mark.parametrize(
    ("sample", "http_status", "outcome"),
    [
        ("place_ok", 200, Outcome.ACCEPTED),
        ("cancel_ok", 200, Outcome.ACCEPTED),
        ("modify_ok", 200, Outcome.ACCEPTED),
        ("no_ack", 200, Outcome.UNKNOWN),
        ("sdk_failure", None, Outcome.UNKNOWN),
        ("sdk_non_json_502", 502, Outcome.UNKNOWN),
        ("rms_block", 400, Outcome.REJECTED),
        ("tick_error", 400, Outcome.REFUSED),
        ("rate_limited", 429, Outcome.REFUSED),
        ("token_error", 401, Outcome.REFUSED),
    ],
)
def test_what_a_reply_proves(sample: str, http_status: int | None, outcome: Outcome) -> None:
    reply = classify_reply(DOCS[sample], http_status=http_status)
    assert reply.outcome is outcome
    if outcome is Outcome.ACCEPTED:
        assert reply.broker_id == "808058117761"


def test_a_transport_error_is_never_a_verdict() -> None:
    reply = classify_reply(DOCS["place_ok"], transport_error="no answer within 20 s")
    assert reply.outcome is Outcome.UNKNOWN and "20 s" in reply.message
    assert classify_reply("<html>", http_status=200).outcome is Outcome.UNKNOWN
    assert classify_reply({"s": "error"}).outcome is Outcome.UNKNOWN  # no code: no proof


# ---------------------------------------------------------------------------------- in


def test_status_codes() -> None:
    assert [order_state(c, 0) for c in (1, 2, 4, 5, 6, 7)] == [
        OrderState.CANCELLED,
        OrderState.FILLED,
        OrderState.TRANSIT,
        OrderState.REJECTED,
        OrderState.OPEN,
        OrderState.EXPIRED,
    ]
    assert order_state(6, 3) is OrderState.PARTIAL
    assert order_state(90, 1) is OrderState.UNKNOWN and order_state(3, 0) is OrderState.UNKNOWN
    assert order_state(None, 0) is OrderState.UNKNOWN and order_state("x", 0) is OrderState.UNKNOWN
    assert not OrderState.UNKNOWN.is_terminal and not OrderState.UNKNOWN.is_working
    assert OrderState.TRANSIT.is_working and OrderState.PARTIAL.is_working
    assert OrderState.EXPIRED.is_terminal


def test_fyers_times_are_ist() -> None:
    assert fyers_time("18-Dec-2023 13:51:30") == 1702887690  # the docs' epoch for that text
    assert fyers_time(1702887690) == 1702887690
    assert fyers_time("01-Jan-1970 05:30:00") == 0 and fyers_time("") == 0
    assert fyers_time("yesterday") == 0


def test_documented_orders() -> None:
    transit = parse_order(DOCS["socket_order_transit"]["orders"])
    assert transit.broker_id == "23121800388066" and transit.state is OrderState.TRANSIT
    assert transit.order_type is OrderType.MARKET and transit.product is ProductType.CNC
    assert (
        transit.tag == ""
        and transit.remaining == 1
        and transit.ts == fyers_time("18-Dec-2023 16:33:24")
    )
    odd = parse_order(DOCS["socket_order_status_90"]["orders"])
    assert odd.state is OrderState.UNKNOWN and odd.code == 90 and odd.filled == 1
    (rejected,) = parse_orderbook(DOCS["orderbook_rejected_untagged"])
    assert rejected.state is OrderState.REJECTED and rejected.tag == ""
    assert rejected.message.startswith("RED:Margin Shortfall") and rejected.remaining == 0


def test_documented_trades_and_positions() -> None:
    (trade,) = parse_tradebook(DOCS["tradebook"])
    assert (trade.trade_id, trade.broker_id, trade.tag) == (
        "52605023",
        "120080777519",
        "swingentry7",
    )
    assert (trade.side, trade.quantity, trade.price) == (Side.BUY, 1, 294.75)
    (pos,) = parse_positions(DOCS["positions"])
    assert pos.position_id == "MCX:SILVERMIC20NOVFUT-MARGIN" and pos.net_qty == 1
    assert pos.product is ProductType.MARGIN and pos.realized == 400.0


def test_simulator_orderbook_through_the_sdk() -> None:
    orders = {o.tag or o.broker_id: o for o in parse_orderbook(_load("sim_orderbook.json"))}
    assert orders["ftrec1"].state is OrderState.FILLED and orders["ftrec1"].filled == 10
    assert orders["ftrec2"].state is OrderState.OPEN and orders["ftrec2"].remaining == 5
    partial = orders["ftrec3"]
    assert partial.state is OrderState.PARTIAL and 0 < partial.filled < partial.quantity
    assert orders["ftrec4"].state is OrderState.REJECTED and "Margin" in orders["ftrec4"].message
    assert orders["ftrec5"].state is OrderState.CANCELLED
    assert orders["ftrec6"].order_type is OrderType.STOP and orders["ftrec6"].side is Side.SELL
    assert sum(1 for o in orders.values() if o.tag == "") == 1  # the untagged one
    assert {o.symbol for o in orders.values()} == {"NSE:SBIN-EQ"}


def test_simulator_socket_messages_through_the_sdk() -> None:
    messages = _load("sim_socket.json")
    kinds = {m["callback"] for m in messages}
    assert kinds == {"on_orders", "on_trades", "on_positions", "on_general"}
    orders = [parse_order(m["message"]["orders"]) for m in messages if m["callback"] == "on_orders"]
    first = [o for o in orders if o.tag == "ftrec1"]
    assert [o.state for o in first] == [OrderState.TRANSIT, OrderState.OPEN, OrderState.FILLED]
    trades = [parse_trade(m["message"]["trades"]) for m in messages if m["callback"] == "on_trades"]
    book = parse_tradebook(_load("sim_tradebook.json"))
    assert sorted(t.trade_id for t in trades) == sorted(t.trade_id for t in book)
    partial = [t for t in trades if t.tag == "ftrec3"]
    assert (
        partial
        and sum(t.quantity for t in partial) == [o for o in orders if o.tag == "ftrec3"][-1].filled
    )


def test_simulator_positions_and_funds() -> None:
    positions = parse_positions(_load("sim_positions.json"))
    assert [p.position_id for p in positions] == ["NSE:SBIN-EQ-INTRADAY"]
    funds = parse_funds(_load("sim_funds.json"))
    assert funds.total == 1_000_000.0 and 0 < funds.utilized < funds.total
    assert funds.available == pytest.approx(funds.total - funds.utilized, abs=1e3)


def test_malformed_payloads_are_data_errors() -> None:
    with pytest.raises(DataError, match="without an id"):
        parse_order({"status": 2, "side": 1})
    with pytest.raises(DataError, match="side"):
        parse_order({"id": "1", "side": 0})
    with pytest.raises(DataError):
        parse_trade({"tradeNumber": "1"})
    with pytest.raises(DataError, match="not a list"):
        parse_orderbook({"orderBook": "x"})
    with pytest.raises(DataError, match="Available"):
        parse_funds({"fund_limit": [{"id": 1, "equityAmount": 5}]})
    assert parse_orderbook({"s": "ok"}) == [] and parse_tradebook({}) == []
