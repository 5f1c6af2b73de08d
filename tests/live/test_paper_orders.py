"""Every paper order ends with a final state, and its story is recorded: the paper broker ends
the orders still working when the run is over (a day order expires at the session's end, a
stop cancels it), and the live journal writes every broker event to ``live_order_events`` in
the order it came — checked, not written again, when a crash replay reports it a second time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fyerstrade.config import load_settings
from fyerstrade.domain import Order, OrderStatus, OrderType, Side
from fyerstrade.live.journal import LiveJournal, RecoveryError
from fyerstrade.live.paper import PaperBroker
from fyerstrade.store.db import init_all
from fyerstrade.trading.events import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
)
from fyerstrade.trading.portfolio import Portfolio
from plugins.trading import engine_on_table, ist_ts

ROWS = [
    # time, open, high, low, close
    ("09:15", 100.0, 101.0, 99.0, 100.5),
    ("09:20", 100.6, 102.0, 100.2, 101.8),
    ("09:25", 101.9, 103.0, 101.0, 102.5),
]


@pytest.mark.parametrize(
    ("stopped", "status", "kind"),
    [(False, OrderStatus.EXPIRED, OrderExpired), (True, OrderStatus.CANCELLED, OrderCancelled)],
)
def test_orders_still_working_when_the_run_ends_get_a_final_state(
    stopped: bool, status: OrderStatus, kind: type
) -> None:
    broker = PaperBroker()
    # a limit far below the market: still working when the run ends
    script = {"09:15": [lambda ctx: ctx.buy(ctx.symbols[0], 10, limit=50.0, tag="patient")]}
    engine, _, events = engine_on_table(ROWS, script, broker, mode="intraday")
    (order,) = engine.orders.values()
    assert order.status is OrderStatus.PENDING and engine.open_orders() == [order]

    end = ist_ts("15:30")
    assert broker.end_orders(end, stopped=stopped) == 1
    assert order.status is status and order.updated_ts == end
    assert engine.open_orders() == [] and broker.working(order.symbol) == []
    assert [type(e) for e in events] == [OrderAccepted, kind]
    assert events[-1].order_id == order.id and events[-1].ts == end
    assert broker.end_orders(end, stopped=stopped) == 0  # nothing left


def journal_on(tmp_path: Path) -> tuple[sqlite3.Connection, LiveJournal]:
    settings = load_settings(env_file=None)
    init_all(settings)
    conn = sqlite3.connect(settings.trading_db)
    return conn, LiveJournal(conn, "2026-12-04", "scripted")


def order_and_events() -> tuple[Order, list[OrderEvent]]:
    order = Order("O1", "NSE:SBIN-EQ", Side.BUY, 10, OrderType.LIMIT, limit_price=100.0)
    order.created_ts = ist_ts("09:20")
    events: list[OrderEvent] = [
        OrderAccepted("O1", ist_ts("09:20"), "SIM1"),
        OrderPartiallyFilled("O1", ist_ts("09:21"), 4, 100.0, "SIM1"),
        OrderFilled("O1", ist_ts("09:22"), 6, 99.95, "SIM1"),
    ]
    return order, events


def test_the_journal_records_every_broker_event_in_the_order_it_came(tmp_path: Path) -> None:
    conn, journal = journal_on(tmp_path)
    order, events = order_and_events()
    journal.record_order(order)
    for e in events:
        journal.record_event(e)
    assert journal.has_pending
    journal.commit(Portfolio(100_000.0), ist_ts("09:22"))
    rows = conn.execute(
        "SELECT order_id, seq, session_id, kind, ts, quantity, price, reason, broker_id"
        " FROM live_order_events ORDER BY seq"
    ).fetchall()
    oid = "2026-12-04/O1"
    assert rows == [
        (oid, 1, "2026-12-04", "accepted", ist_ts("09:20"), 0, None, "", "SIM1"),
        (oid, 2, "2026-12-04", "partially_filled", ist_ts("09:21"), 4, 100.0, "", "SIM1"),
        (oid, 3, "2026-12-04", "filled", ist_ts("09:22"), 6, 99.95, "", "SIM1"),
    ]
    assert not journal.has_pending


def test_a_replay_checks_recorded_events_and_refuses_a_different_one(tmp_path: Path) -> None:
    conn, journal = journal_on(tmp_path)
    order, events = order_and_events()
    journal.record_order(order)
    for e in events[:2]:  # the crash came before the last event was recorded
        journal.record_event(e)
    journal.commit(Portfolio(100_000.0), ist_ts("09:21"))

    # the restart replays the same story: the two recorded events are checked, the third new
    replay = LiveJournal(conn, "2026-12-04", "scripted")
    replay.replaying = True
    replay.record_order(order)
    for e in events:
        replay.record_event(e)
    replay.commit(Portfolio(100_000.0), ist_ts("09:22"))
    kinds = [k for (k,) in conn.execute("SELECT kind FROM live_order_events ORDER BY seq")]
    assert kinds == ["accepted", "partially_filled", "filled"]

    # a replay whose broker reports something else than the live run recorded stops
    other = LiveJournal(conn, "2026-12-04", "scripted")
    other.replaying = True
    other.record_order(order)
    other.record_event(events[0])
    other.record_event(OrderFilled("O1", ist_ts("09:21"), 10, 100.0, "SIM1"))
    with pytest.raises(RecoveryError, match=r"O1 \(event 2\)"):
        other.commit(Portfolio(100_000.0), ist_ts("09:22"))
    assert conn.execute("SELECT COUNT(*) FROM live_order_events").fetchone() == (3,)
