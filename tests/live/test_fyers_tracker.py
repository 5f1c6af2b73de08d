"""The tracker that turns Fyers' reports into order events, each once: tables of reports in,
events out (pure; no I/O)."""

from __future__ import annotations

from datetime import date

import pytest

from fyerstrade.domain import OrderType, ProductType, Side
from fyerstrade.errors import ReconciliationError
from fyerstrade.fyers.order_gateway import PlaceResult
from fyerstrade.fyers.orders import BrokerOrder, BrokerTrade, OrderState, Outcome
from fyerstrade.live.fyers_tracker import FyersTracker, fyers_tag, is_our_tag
from fyerstrade.trading.events import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderUnknown,
)

DAY = date(2026, 12, 3)
T0 = 1_796_272_200
SYM = "NSE:SBIN-EQ"


def _tracker(qty: int = 10, order_id: str = "O1") -> tuple[FyersTracker, str]:
    tr = FyersTracker(DAY, settle_seconds=30)
    tag = fyers_tag("2026-12-03#1", order_id, DAY)
    tr.track(order_id, tag, SYM, Side.BUY, qty, T0)
    return tr, tag


def _order(tag: str, state: OrderState, filled: int = 0, qty: int = 10, bid: str = "B1",
           message: str = "") -> BrokerOrder:  # fmt: skip
    codes = {
        OrderState.TRANSIT: 4, OrderState.OPEN: 6, OrderState.PARTIAL: 6, OrderState.FILLED: 2,
        OrderState.CANCELLED: 1, OrderState.REJECTED: 5, OrderState.EXPIRED: 7,
        OrderState.UNKNOWN: 90,
    }  # fmt: skip
    return BrokerOrder(
        broker_id=bid, tag=tag, symbol=SYM, side=Side.BUY, quantity=qty, filled=filled,
        avg_price=0.0, state=state, code=codes[state], order_type=OrderType.LIMIT,
        product=ProductType.INTRADAY, limit_price=100.0, stop_price=0.0, message=message, ts=T0,
    )  # fmt: skip


def _trade(tag: str, number: str, qty: int, price: float, bid: str = "B1") -> BrokerTrade:
    return BrokerTrade(number, bid, tag, SYM, Side.BUY, qty, price, ProductType.INTRADAY, T0 + 5)


def test_tags_are_deterministic_valid_and_recognisable() -> None:
    a = fyers_tag("2026-12-03#1", "O1", DAY)
    assert a == fyers_tag("2026-12-03#1", "O1", DAY) and len(a) == 30 and a.isalnum()
    assert a != fyers_tag("2026-12-03#2", "O1", DAY) != fyers_tag("2026-12-03#1", "O2", DAY)
    assert is_our_tag(a, DAY) and not is_our_tag(a, date(2026, 12, 4))
    assert not is_our_tag("ftmanual", DAY)


def test_socket_order_of_a_simple_fill() -> None:
    tr, tag = _tracker()
    assert tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0) == []
    assert tr.on_order(_order(tag, OrderState.TRANSIT), T0) == []
    assert tr.on_order(_order(tag, OrderState.OPEN), T0) == [OrderAccepted("O1", T0, "B1")]
    assert tr.on_trade(_trade(tag, "t1", 10, 101.5)) == [
        OrderFilled("O1", T0 + 5, 10, 101.5, "B1", "t1")
    ]
    assert tr.on_order(_order(tag, OrderState.FILLED, 10), T0) == []  # nothing twice
    assert tr.on_trade(_trade(tag, "t1", 10, 101.5)) == []
    assert tr.working() == []


def test_partial_fills_then_cancel_waits_for_its_trades() -> None:
    tr, tag = _tracker()
    tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0)
    assert tr.on_trade(_trade(tag, "t1", 4, 100.0)) == [
        OrderPartiallyFilled("O1", T0 + 5, 4, 100.0, "B1", "t1")
    ]
    # the cancel report says 7 filled: 3 are still to come from the trades
    assert tr.on_order(_order(tag, OrderState.CANCELLED, 7, message="by user"), T0 + 9) == []
    events = tr.on_trade(_trade(tag, "t2", 3, 100.5))
    assert events == [
        OrderPartiallyFilled("O1", T0 + 5, 3, 100.5, "B1", "t2"),
        OrderCancelled("O1", T0 + 5, "B1", "by user"),
    ]
    assert tr.working() == []


def test_late_rejection_and_expiry() -> None:
    tr, tag = _tracker()
    tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0)
    assert tr.on_order(_order(tag, OrderState.REJECTED, message="RED:Margin"), T0 + 1) == [
        OrderRejected("O1", T0 + 1, "RED:Margin", "B1")
    ]
    tr2, tag2 = _tracker(order_id="O2")
    tr2.on_order(_order(tag2, OrderState.OPEN, bid="B2"), T0)
    assert tr2.on_order(_order(tag2, OrderState.EXPIRED, bid="B2"), T0 + 9) == [
        OrderExpired("O2", T0 + 9, "B2", "")
    ]


def test_refused_and_rejected_in_the_reply() -> None:
    tr, _ = _tracker()
    assert tr.on_place("O1", PlaceResult(Outcome.REFUSED, "", "Invalid qty", 1), T0) == [
        OrderRejected("O1", T0, "Invalid qty", "")
    ]
    tr2, _ = _tracker(order_id="O2")
    assert tr2.on_place("O2", PlaceResult(Outcome.REJECTED, "", "RED:Block", 1), T0) == [
        OrderRejected("O2", T0, "RED:Block", "")
    ]


def test_unknown_is_held_until_the_book_settles_it() -> None:
    tr, tag = _tracker()
    assert tr.on_place("O1", PlaceResult(Outcome.UNKNOWN, "", "Bad request", 1), T0) == [
        OrderUnknown("O1", T0, "Bad request", "")
    ]
    assert tr.unknown() == ["O1"]
    # a book without it, too soon: still unknown
    assert tr.reconcile([], [], T0 + 10) == []
    # it shows up (the reply was lost, the order is there): accepted and filled
    events = tr.reconcile(
        [_order(tag, OrderState.FILLED, 10)], [_trade(tag, "t1", 10, 100.0)], T0 + 12
    )
    assert events == [OrderFilled("O1", T0 + 5, 10, 100.0, "B1", "t1")]
    assert tr.unknown() == [] and tr.working() == []


def test_unknown_never_seen_is_rejected_after_the_settle_time() -> None:
    tr, _ = _tracker()
    tr.on_place("O1", PlaceResult(Outcome.UNKNOWN, "", "timeout", 1), T0)
    assert tr.reconcile([], [], T0 + 29) == []
    (event,) = tr.reconcile([], [], T0 + 31)
    assert isinstance(event, OrderRejected) and "did not reach Fyers" in event.reason


def test_reconcile_books_what_the_socket_missed() -> None:
    tr, tag = _tracker(qty=10)
    tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0)
    tr.on_order(_order(tag, OrderState.OPEN), T0)
    tr.on_trade(_trade(tag, "t1", 4, 100.0))
    events = tr.reconcile(
        [_order(tag, OrderState.FILLED, 10)],
        [_trade(tag, "t1", 4, 100.0), _trade(tag, "t2", 6, 100.2)],
        T0 + 60,
    )
    assert events == [OrderFilled("O1", T0 + 5, 6, 100.2, "B1", "t2")]


@pytest.mark.parametrize(
    "case",
    ["foreign tag", "two orders one tag", "booked more", "finished but working", "overfill"],
)
def test_what_cannot_be_true_halts(case: str) -> None:
    tr, tag = _tracker()
    tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0)
    stranger = fyers_tag("2026-12-03#1", "O99", DAY)
    with pytest.raises(ReconciliationError):
        if case == "foreign tag":
            tr.reconcile([_order(stranger, OrderState.OPEN, bid="B9")], [], T0)
        elif case == "two orders one tag":
            tr.reconcile(
                [_order(tag, OrderState.OPEN), _order(tag, OrderState.OPEN, bid="B2")], [], T0
            )
        elif case == "booked more":
            tr.on_trade(_trade(tag, "t1", 5, 100.0))
            tr.on_order(_order(tag, OrderState.PARTIAL, 3), T0)
        elif case == "finished but working":
            tr.on_trade(_trade(tag, "t1", 10, 100.0))
            tr.on_order(_order(tag, OrderState.OPEN, 10), T0)
        else:
            tr.on_trade(_trade(tag, "t1", 8, 100.0))
            tr.on_trade(_trade(tag, "t2", 3, 100.0))


def test_untagged_and_unknown_codes_are_ignored() -> None:
    tr, tag = _tracker()
    tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0)
    assert tr.on_order(_order("", OrderState.OPEN, bid="MANUAL1"), T0) == []
    assert tr.on_trade(_trade("", "m1", 5, 99.0, bid="MANUAL1")) == []
    assert tr.on_order(_order(tag, OrderState.UNKNOWN), T0) == []
    assert tr.working() == ["O1"]


def test_a_restart_rebuilds_from_the_journal() -> None:
    tr = FyersTracker(DAY)
    tag = fyers_tag("2026-12-03#1", "O1", DAY)
    tr.track("O1", tag, SYM, Side.BUY, 10, T0, broker_id="B1", booked=4, accepted=True)
    events = tr.reconcile(
        [_order(tag, OrderState.FILLED, 10)],
        [_trade(tag, "t1", 4, 100.0), _trade(tag, "t2", 6, 101.0)],
        T0 + 100,
    )
    # t1 was booked before the crash (the journal knows 4 filled, not the trade number): the
    # earliest trades up to 4 count as those, only the rest is new
    assert events == [OrderFilled("O1", T0 + 5, 6, 101.0, "B1", "t2")]
    tr2 = FyersTracker(DAY)
    tr2.track("O1", tag, SYM, Side.BUY, 10, T0, broker_id="B1", booked=3, accepted=True)
    with pytest.raises(ReconciliationError, match="line up"):
        tr2.on_trade(_trade(tag, "t1", 4, 100.0))


def test_position_differences() -> None:
    from fyerstrade.fyers.orders import BrokerPosition
    from fyerstrade.live.position_check import position_differences

    def pos(symbol: str, product: ProductType, net: int) -> BrokerPosition:
        return BrokerPosition(f"{symbol}-{product.value}", symbol, product, net, 100.0, 0, 0, 0, 0)

    fyers = [
        pos(SYM, ProductType.INTRADAY, 6),
        pos(SYM, ProductType.CNC, 4),
        pos("NSE:TCS-EQ", ProductType.INTRADAY, 0),
        pos("NSE:INFY-EQ", ProductType.INTRADAY, -5),
    ]
    assert position_differences({SYM: 10}, fyers[:3]) == []
    assert position_differences({SYM: 10, "NSE:TCS-EQ": 3}, fyers, symbols=[SYM, "NSE:TCS-EQ"]) == [
        "NSE:INFY-EQ: ours +0, Fyers -5 (a symbol this setup does not trade)",
        "NSE:TCS-EQ: ours +3, Fyers +0",
    ]
