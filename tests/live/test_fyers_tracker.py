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


# ---------------------------------------------------------------- Fyers' books lagging ours
# Stamps (``at``) are the broker's monotonic times: a read's is when it was asked for.


def _filled_by_the_socket(grace: float = 10.0) -> tuple[FyersTracker, str]:
    """O1 accepted at 100, filled by a socket trade at 101 (our books: FILLED)."""
    tr = FyersTracker(DAY, settle_seconds=30, lag_grace=grace)
    tag = fyers_tag("2026-12-03#1", "O1", DAY)
    tr.track("O1", tag, SYM, Side.BUY, 10, T0, answered=False)
    assert tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0, at=100) == []
    assert tr.on_trade(_trade(tag, "t1", 10, 100.0), at=101) == [
        OrderFilled("O1", T0 + 5, 10, 100.0, "B1", "t1")
    ]
    return tr, tag


def test_an_orderbook_behind_a_fill_settles_within_the_grace() -> None:
    tr, tag = _filled_by_the_socket()
    trades = [_trade(tag, "t1", 10, 100.0)]
    # a read asked before the fill, and reads up to 10 s after it, may still show it open
    for at in (100.5, 103.0, 110.9):
        assert tr.reconcile([_order(tag, OrderState.OPEN)], trades, T0 + 9, at=at) == []
        assert list(tr.settling) == ["O1"] and "working at Fyers (OPEN)" in tr.settling["O1"]
    assert tr.reconcile([_order(tag, OrderState.FILLED, 10)], trades, T0 + 9, at=111.5) == []
    assert tr.settling == {} and tr.working() == []


def test_an_orderbook_behind_beyond_the_grace_is_a_contradiction_naming_the_order() -> None:
    tr, tag = _filled_by_the_socket()
    tr.reconcile([_order(tag, OrderState.OPEN)], [], T0 + 9, at=105.0)
    with pytest.raises(ReconciliationError) as err:
        tr.reconcile([_order(tag, OrderState.OPEN)], [], T0 + 9, at=111.0)
    assert "order O1 (BUY 10 NSE:SBIN-EQ)" in str(err.value)
    assert "10.0 s after our books moved" in str(err.value)


@pytest.mark.parametrize("kind", ["cancelled", "partly filled", "acknowledged"])
def test_each_kind_of_lag_settles_within_the_grace_and_halts_beyond_it(kind: str) -> None:
    tr, tag = _tracker()
    tr.lag_grace = 10
    tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0, at=100)
    if kind == "cancelled":  # our books: cancelled by Fyers' own report; the book: still open
        assert tr.on_order(_order(tag, OrderState.CANCELLED), T0, at=100) == [
            OrderCancelled("O1", T0, "B1", "")
        ]
        book, what = [_order(tag, OrderState.OPEN)], "finished in our books"
    elif kind == "partly filled":  # our books: 4 from a trade; the book: nothing filled yet
        tr.on_trade(_trade(tag, "t1", 4, 100.0), at=100)
        book, what = [_order(tag, OrderState.OPEN)], "shows 0 filled at Fyers, 4 booked"
    else:  # acknowledged with an id; the book does not list it yet
        book, what = [], "acknowledged as B1 but missing from Fyers' orderbook"
    assert tr.reconcile(book, [], T0, at=109.9) == []
    assert what in tr.settling["O1"]
    with pytest.raises(ReconciliationError, match=what):
        tr.reconcile(book, [], T0, at=110.0)


def test_an_order_socket_message_behind_our_books_is_never_a_contradiction() -> None:
    tr, tag = _filled_by_the_socket()
    # a late "confirmed" event, long after the fill: an old event, not the order's state now
    assert tr.on_order(_order(tag, OrderState.OPEN), T0, at=500, current=False) == []
    assert "O1" in tr.settling
    assert tr.reconcile([_order(tag, OrderState.FILLED, 10)], [], T0, at=501) == []
    assert tr.settling == {}


def test_the_place_reply_applied_after_the_socket_filled_it_changes_nothing() -> None:
    for outcome in (Outcome.ACCEPTED, Outcome.UNKNOWN):
        tr, tag = _tracker()
        tr.lag_grace = 10
        tr.on_trade(_trade(tag, "t1", 10, 100.0), at=101)  # matched by its tag
        # the reply (its snapshot read before the fill, or no proof at all) comes after
        reply = PlaceResult(outcome, "B1", "", 1, order=_order(tag, OrderState.OPEN))
        assert tr.on_place("O1", reply, T0, at=100) == []
        assert tr.working() == [] and tr.unknown() == []


def test_a_read_never_settles_an_order_whose_place_is_unanswered() -> None:
    # the read was asked before the order reached Fyers (the load failure of 22:30): market
    # time runs on (a 480x clock), the monotonic grace does not start before the reply
    tr = FyersTracker(DAY, settle_seconds=30)
    tag = fyers_tag("2026-12-03#1", "O1", DAY)
    tr.track("O1", tag, SYM, Side.BUY, 10, T0, answered=False)
    assert tr.reconcile([], [], T0 + 3600, at=100) == []
    assert tr.working() == ["O1"]
    reply = PlaceResult(Outcome.ACCEPTED, "B1", "", 1, order=_order(tag, OrderState.OPEN))
    assert tr.on_place("O1", reply, T0 + 3600, at=100.2) == [OrderAccepted("O1", T0 + 3600, "B1")]
    # an unknown outcome settles as never sent only by reads asked settle_seconds after it
    tr2 = FyersTracker(DAY, settle_seconds=30)
    tr2.track("O2", fyers_tag("2026-12-03#1", "O2", DAY), SYM, Side.BUY, 10, T0, answered=False)
    tr2.on_place("O2", PlaceResult(Outcome.UNKNOWN, "", "timeout", 1), T0, at=100)
    assert tr2.reconcile([], [], T0 + 3600, at=129.9) == []
    (event,) = tr2.reconcile([], [], T0 + 3600, at=130)
    assert isinstance(event, OrderRejected) and "did not reach Fyers" in event.reason


def test_a_fill_fyers_reports_and_we_did_not_know_is_booked_at_once() -> None:
    tr, tag = _tracker()
    tr.lag_grace = 10
    tr.on_place("O1", PlaceResult(Outcome.ACCEPTED, "B1", "", 1), T0, at=100)
    # the book is behind on the status, the tradebook has a fill: the fill is booked now
    events = tr.reconcile([_order(tag, OrderState.OPEN)], [_trade(tag, "t1", 10, 99.5)], T0, at=100)
    assert events == [OrderFilled("O1", T0 + 5, 10, 99.5, "B1", "t1")]


def test_positions_behind_our_fills_are_lagging_a_net_we_never_held_is_not() -> None:
    from fyerstrade.fyers.orders import BrokerPosition
    from fyerstrade.live.position_check import lagging_symbols

    def pos(symbol: str, net: int) -> BrokerPosition:
        return BrokerPosition(
            f"{symbol}-INTRADAY", symbol, ProductType.INTRADAY, net, 100.0, 0, 0, 0, 0
        )

    left = {SYM: [(0, 100.0), (10, 104.0)], "NSE:TCS-EQ": [(0, 100.0)]}
    fyers = [pos(SYM, 10), pos("NSE:TCS-EQ", 7)]
    # SBIN: Fyers shows +10, a net our fill left at 104 — behind until 114
    assert lagging_symbols(fyers, left, 113.9, 10) == {SYM}
    assert lagging_symbols(fyers, left, 114.0, 10) == set()
    # TCS: +7 is no net we held: a difference at once
    assert "NSE:TCS-EQ" not in lagging_symbols(fyers, left, 100.5, 10)
