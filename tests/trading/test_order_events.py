"""The broker port as candle tables: the broker reports events and the engine books exactly
what it is told — partial fills, exits as orders with their fills, rejections before and at the
broker, and the order state machine that refuses what cannot happen."""

from __future__ import annotations

import pytest

from fyerstrade.domain import Order, OrderStatus, OrderType, ProductType, Side
from fyerstrade.errors import OrderStateError
from fyerstrade.trading.broker import Account, EventSink
from fyerstrade.trading.costs import FyersCostModel
from fyerstrade.trading.events import (
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderUnknown,
    from_fields,
)
from fyerstrade.trading.symbols import SymbolState
from fyerstrade.trading.venue import SimulatedVenue
from plugins.trading import engine_on_table, ist_ts, run_table

ROWS = [
    # time, open, high, low, close
    ("10:00", 100.0, 101.0, 99.0, 100.5),
    ("10:05", 100.6, 102.0, 100.2, 101.8),
    ("10:10", 101.9, 103.0, 101.0, 102.5),
    ("10:15", 102.4, 102.6, 98.0, 98.5),
]
DAY_ROWS = [
    ("09:15", 100.0, 100.5, 99.5, 100.2),
    ("14:25", 101.0, 101.5, 100.8, 101.2),
    ("15:15", 101.05, 101.2, 100.7, 100.8),
    ("15:20", 100.8, 100.9, 100.5, 100.6),
]


class TwoPartBroker:
    """A broker whose market orders execute in two parts at the next bar: 40 % at its open,
    the rest 0.20 worse a second later — the shape of a real exchange's fills. A market
    order after a quote executes there, the same way."""

    def __init__(self) -> None:
        self.sink: EventSink | None = None
        self.account: Account | None = None
        self.book: list[Order] = []
        self.price: tuple[float, int] | None = None

    def bind(self, sink: EventSink, account: Account) -> None:
        self.sink, self.account = sink, account

    def submit(self, order: Order) -> None:
        assert self.sink is not None
        order.broker_id = f"X{order.id}"
        self.sink.apply(OrderAccepted(order.id, order.created_ts, order.broker_id))
        quote, self.price = self.price, None
        if quote is not None and order.order_type is OrderType.MARKET:
            self._two_parts(order, *quote)
        else:
            self.book.append(order)

    def cancel(self, order_id: str) -> None:
        assert self.sink is not None
        for o in list(self.book):
            if o.id == order_id:
                self.book.remove(o)
                self.sink.apply(OrderCancelled(o.id, o.created_ts, o.broker_id, "asked"))

    def quote(self, state: SymbolState, price: float, ts: int, *, slippage: bool = True) -> None:
        self.price = (price, ts)

    def on_bar(self, state: SymbolState, i: int) -> None:
        assert self.sink is not None
        ts, open_ = int(state.arrays.ts[i]), float(state.arrays.open[i])
        for o in list(self.book):
            if o.created_ts >= state.close_ts_at(i):
                continue  # placed at this bar's close: the next bar
            if o.order_type is OrderType.MARKET:
                self.book.remove(o)
                self._two_parts(o, open_, ts)

    def _two_parts(self, o: Order, price: float, ts: int) -> None:
        assert self.sink is not None
        first = o.quantity * 4 // 10
        step = 0.2 if o.side is Side.BUY else -0.2
        self.sink.apply(OrderPartiallyFilled(o.id, ts, first, price, o.broker_id, "T1"))
        rest = o.quantity - first
        self.sink.apply(OrderFilled(o.id, ts + 1, rest, price + step, o.broker_id, "T2"))


def test_a_partial_fill_is_two_events_booked_into_portfolio_and_journal() -> None:
    broker = TwoPartBroker()
    engine, journal, events = engine_on_table(
        ROWS,
        {"10:00": [lambda c: c.buy(c.symbols[0], 1000, product=ProductType.INTRADAY)]},
        broker,
        costs=FyersCostModel(),
    )
    order, exit_order = journal.orders
    assert exit_order.tag == "end_of_data" and exit_order.filled_quantity == 1000
    assert [type(e) for e in events if e.order_id == order.id] == [
        OrderAccepted,
        OrderPartiallyFilled,
        OrderFilled,
    ]
    buys = [f for f in journal.fills if f.order_id == order.id]
    assert [(f.quantity, f.price, f.ts) for f in buys] == [
        (400, 100.6, ist_ts("10:05")),
        (600, 100.8, ist_ts("10:05") + 1),
    ]
    assert order.status is OrderStatus.FILLED and order.filled_quantity == 1000
    assert order.avg_fill_price == pytest.approx((400 * 100.6 + 600 * 100.8) / 1000)
    assert order.broker_id == "XO1"
    # each part pays the charges of an executed order of its own (trading/costs.py)
    model = FyersCostModel()
    ins = engine.states[0].instrument
    assert [f.costs for f in buys] == [
        pytest.approx(model.fill_costs(ins, ProductType.INTRADAY, Side.BUY, q, p, ts))
        for q, p, ts in ((400, 100.6, ist_ts("10:05")), (600, 100.8, ist_ts("10:05") + 1))
    ]
    # the position held both parts until the end of the data closed it (in two parts too:
    # each reducing fill is its own round trip)
    assert [t.quantity for t in journal.trades] == [400, 600]
    assert [t.entry_price for t in journal.trades] == [pytest.approx(order.avg_fill_price)] * 2
    assert {t.exit_reason for t in journal.trades} == {"end_of_data"}
    assert engine.portfolio.quantity(order.symbol) == 0


def test_a_partial_fill_is_held_in_the_portfolio_while_the_rest_works() -> None:
    seen: list[tuple[int, str]] = []

    def on_fill(ctx, fill):  # type: ignore[no-untyped-def]
        order = ctx.open_orders(fill.symbol)
        seen.append((ctx.qty(fill.symbol), order[0].status if order else "none"))

    engine_on_table(
        ROWS, {"10:00": [lambda c: c.buy(c.symbols[0], 10)]}, TwoPartBroker(), on_fill=on_fill
    )
    assert seen[:2] == [(4, OrderStatus.PARTIALLY_FILLED), (10, "none")]


def test_a_target_counts_the_market_orders_on_their_way() -> None:
    # a real broker fills a market order a moment after it is sent: asked again before the
    # fill is read (the same bar, the fill's first part), order_target must not buy twice
    seen: list[tuple[str, int, int, object]] = []

    def target(c, when: str) -> None:  # type: ignore[no-untyped-def]
        sym = c.symbols[0]
        order = c.order_target(sym, 10)
        seen.append((when, c.qty(sym), c.expected_qty(sym), order and order.quantity))

    def at_open(c) -> None:  # type: ignore[no-untyped-def]
        target(c, "first")
        c.buy(c.symbols[0], 5, limit=50.0)  # a limit may never fill: not counted
        target(c, "again")

    def on_fill(ctx, fill):  # type: ignore[no-untyped-def]
        if fill.side is Side.BUY:  # (not the end of the data's exit)
            target(ctx, f"fill {fill.quantity}")

    _, journal, _ = engine_on_table(ROWS, {"10:00": [at_open]}, TwoPartBroker(), on_fill=on_fill)
    assert seen == [
        ("first", 0, 10, 10),
        ("again", 0, 10, None),
        ("fill 4", 4, 10, None),
        ("fill 6", 10, 10, None),
    ]
    buys = [o for o in journal.orders if o.side is Side.BUY]
    assert [(o.quantity, o.order_type) for o in buys] == [
        (10, OrderType.MARKET),
        (5, OrderType.LIMIT),
    ]


def test_square_off_is_an_order_with_its_fill() -> None:
    r = run_table(DAY_ROWS, {"09:15": [lambda c: c.buy(c.symbols[0], 10)]}, mode="intraday")
    (exit_order,) = [o for o in r.orders if o.tag == "square_off"]
    (fill,) = [f for f in r.fills if f.order_id == exit_order.id]
    assert (fill.side, fill.quantity, fill.price, fill.ts) == (
        Side.SELL,
        10,
        101.05,
        ist_ts("15:15"),
    )
    assert exit_order.order_type is OrderType.MARKET and exit_order.reduce_only
    assert exit_order.status is OrderStatus.FILLED and exit_order.broker_id.startswith("SIM")


def test_end_of_data_exit_is_an_order_with_its_fill() -> None:
    r = run_table(ROWS, {"10:00": [lambda c: c.buy(c.symbols[0], 10)]})
    (exit_order,) = [o for o in r.orders if o.tag == "end_of_data"]
    (fill,) = [f for f in r.fills if f.order_id == exit_order.id]
    # at the last close, no slippage: the documented valuation of what is still open
    assert (fill.side, fill.quantity, fill.price) == (Side.SELL, 10, 98.5)
    assert exit_order.status is OrderStatus.FILLED and exit_order.broker_id.startswith("SIM")
    assert r.trades[-1].exit_reason == "end_of_data"


def test_the_venue_reports_every_exit_through_the_port() -> None:
    _, journal, events = engine_on_table(
        DAY_ROWS, {"09:15": [lambda c: c.buy(c.symbols[0], 10)]}, SimulatedVenue(), mode="intraday"
    )
    exits = [o for o in journal.orders if o.tag == "square_off"]
    assert len(exits) == 1
    assert [type(e) for e in events if e.order_id == exits[0].id] == [
        OrderAccepted,
        OrderFilled,
    ]


def test_a_refusal_before_the_broker_is_a_rejection_never_a_fill_undone() -> None:
    placed: list[Order] = []
    engine, journal, events = engine_on_table(
        ROWS,
        {"10:00": [lambda c: placed.append(c.buy(c.symbols[0], 5000))]},  # > free margin
        SimulatedVenue(),
    )
    (order,) = placed
    assert order.status is OrderStatus.REJECTED
    assert order.reject_reason.startswith("insufficient funds")
    assert order.broker_id == ""  # the broker never saw it
    assert [e for e in events if e.order_id == order.id] == []
    assert journal.fills == [] and engine.portfolio.cash == 100_000.0
    assert [x.reason for x in journal.rejections] == [order.reject_reason]


def test_a_refusal_at_the_fill_is_the_brokers_rejection_and_books_nothing() -> None:
    # placed when 100 000 covers 900 × 100.5 (at the last close); the next bar opens 12 % up
    rows = [("10:00", 100.0, 101.0, 99.0, 100.5), ("10:05", 112.6, 113.0, 112.0, 112.5)]
    placed: list[Order] = []
    engine, journal, events = engine_on_table(
        rows, {"10:00": [lambda c: placed.append(c.buy(c.symbols[0], 900))]}, SimulatedVenue()
    )
    (order,) = placed
    events = [type(e).__name__ for e in events if e.order_id == order.id]
    assert events == ["OrderAccepted", "OrderRejected"]
    assert order.status is OrderStatus.REJECTED and order.reject_reason.endswith("at the fill")
    assert journal.fills == [] and engine.portfolio.cash == 100_000.0


def test_impossible_transitions_stop_the_engine_and_unknown_is_a_state() -> None:
    placed: list[Order] = []
    broker = TwoPartBroker()
    engine, _, _ = engine_on_table(
        ROWS[:1], {"10:00": [lambda c: placed.append(c.buy(c.symbols[0], 10, limit=90.0))]}, broker
    )
    (order,) = placed
    assert order.status is OrderStatus.PENDING  # accepted, still working at the end
    engine.apply(OrderUnknown(order.id, 1, "the order socket dropped"))
    assert order.status is OrderStatus.UNKNOWN and order.status.is_open
    engine.apply(OrderCancelled(order.id, 2))  # the broker's next report settles it
    assert order.status is OrderStatus.CANCELLED
    with pytest.raises(OrderStateError, match="cannot go from CANCELLED to FILLED"):
        engine.apply(OrderFilled(order.id, 3, 10, 90.0))
    with pytest.raises(OrderStateError, match="never placed"):
        engine.apply(OrderAccepted("O99", 3))
    assert engine.portfolio.quantity(order.symbol) == 0  # nothing booked from the bad events


def test_an_overfill_is_refused() -> None:
    placed: list[Order] = []
    engine, _, _ = engine_on_table(
        ROWS[:1],
        {"10:00": [lambda c: placed.append(c.buy(c.symbols[0], 10, limit=90.0))]},
        TwoPartBroker(),
    )
    with pytest.raises(OrderStateError, match="a fill of 11 with 10 left"):
        engine.apply(OrderFilled(placed[0].id, 3, 11, 90.0))


def test_an_event_built_from_its_fields_is_the_event() -> None:
    accepted = from_fields(OrderAccepted)(("O1", 5, "SIM1"))
    filled = from_fields(OrderFilled)(("O1", 6, 10, 101.5, "SIM1", ""))
    assert type(accepted) is OrderAccepted and accepted == OrderAccepted("O1", 5, "SIM1")
    assert type(filled) is OrderFilled and filled == OrderFilled("O1", 6, 10, 101.5, "SIM1")
    assert filled.price == 101.5 and filled.trade_id == ""
    assert filled != OrderPartiallyFilled("O1", 6, 10, 101.5, "SIM1")  # the kind still counts
