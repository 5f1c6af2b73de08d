"""A restart with REAL orders reconciles with Fyers (the simulator, through the official SDK) and
never replays: an order in flight when the engine was killed -9 is found by its tag and its fill
booked; an order recorded but never sent is marked so and not sent; positions end equal to the
simulator's; a position the books do not explain pulls the kill switch with the difference."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import time as dtime

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings
from fyerstrade.domain import OrderStatus, Side, Tick
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import PAPER_SYMBOLS
from plugins.orders import OPEN_AT, OrderSim
from plugins.real_engine import RealRig, open_rig, recorded_orders

A, B = PAPER_SYMBOLS
UNTIL = ist_epoch(MARKET_DAY, dtime(10, 40))
T0 = OPEN_AT + 30

VICTIM = textwrap.dedent(
    """
    import sys, time
    from fyerstrade.config import load_settings
    from fyerstrade.domain import Side, Tick
    from fyerstrade.live.clock import ManualClock
    from fyerstrade.live.config import load_live_config
    from fyerstrade.live.engine import LiveEngine

    t0, until, symbol, price = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    settings = load_settings(env_file=None)
    config = load_live_config(settings.live_config_file, settings)
    engine = LiveEngine(settings, config, clock=ManualClock(t0))
    session = engine.prepare(until)
    session.on_tick(Tick(symbol, t0, price, 1000))
    session.trader.engine.place(symbol, Side.BUY, 10)
    session.trader.commit(t0)  # recorded, then handed to the sender
    print("placed", flush=True)
    time.sleep(600)  # killed -9 while the simulator holds the reply back
    """
)


def _fills(settings: Settings) -> list[tuple[str, str, int]]:
    conn = sqlite3.connect(settings.trading_db)
    try:
        rows = conn.execute(
            "SELECT symbol, side, quantity FROM live_paper_trades ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [(str(s), str(sd), int(q)) for s, sd, q in rows]


def test_kill_9_with_an_order_in_flight_then_restart_reconciles_and_resends_nothing(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    first = real_rig(UNTIL)
    settings = first.settings
    first.engine.close()  # the setup's own engine: the victim runs in a process of its own
    order_sim.clock.to(T0)
    order_sim.server.faults.set(order_ack_delay=120)  # the reply never comes back in time
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(T0), str(UNTIL), A, str(order_sim.ltp(A, T0))],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while order_sim.exchange.counters.order_requests < 1:
            assert victim.poll() is None, victim.communicate()[1]
            assert time.monotonic() < deadline, "the victim never sent its order"
            time.sleep(0.05)
        # the order is at the simulator (and filled there); its reply is held back
        victim.send_signal(signal.SIGKILL)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.communicate(timeout=30)
    order_sim.server.faults.reset()
    assert [r[1:] for r in recorded_orders(settings)] == [(A, "BUY", 10, "SUBMITTED", 0)]
    assert _fills(settings) == []  # the fill never reached the killed engine's books
    assert first.sim_net(A) == 10

    restarted = open_rig(order_sim, settings, first.engine.config, UNTIL)
    try:
        assert order_sim.exchange.counters.order_requests == 1  # nothing sent again
        report = restarted.engine.restart_report
        assert report is not None and report.booked == 1 and not report.differences
        assert recorded_orders(settings)[0][4:] == ("FILLED", 10)
        assert _fills(settings) == [(A, "BUY", 10)]
        core = restarted.session.trader.engine
        assert core.portfolio.quantity(A) == restarted.sim_net(A) == 10
        assert not restarted.engine.kill_switch.state().active
        # and it trades on: a square-off closes the position at the simulator
        t = T0 + 15
        restarted.tick(Tick(A, t, order_sim.ltp(A, t), 1000))
        restarted.session.trader.square_off_all(t, "manual", only_intraday=False)
        restarted.settle()
        assert core.portfolio.quantity(A) == restarted.sim_net(A) == 0
        assert order_sim.exchange.counters.order_requests == 2
    finally:
        restarted.engine.close()


def test_an_order_recorded_but_never_sent_is_not_sent_after_a_restart(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = real_rig(UNTIL)
    rig.open_market(T0, A)
    order = rig.core.place(A, Side.BUY, 10)
    # the journal's transaction, then the crash before the sender got it
    rig.session.trader.journal.commit(rig.session.trader.engine.portfolio, T0)
    rig.engine.close()
    assert order.status is OrderStatus.SUBMITTED
    assert order_sim.exchange.counters.order_requests == 0

    restarted = open_rig(order_sim, rig.settings, rig.engine.config, UNTIL)
    try:
        assert order_sim.exchange.counters.order_requests == 0
        (row,) = rig.recorded()
        assert row[4] == "REJECTED"
        report = restarted.engine.restart_report
        assert report is not None and report.never_sent == 1
        assert restarted.session.trader.engine.portfolio.quantity(A) == 0
    finally:
        restarted.engine.close()


def test_a_position_the_books_do_not_explain_halts_with_the_difference(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = real_rig(UNTIL)
    rig.engine.close()
    # someone traded on the account meanwhile, by hand
    from plugins.orders import order_payload

    reply = order_sim.client.place_order(data=order_payload(B, qty=5, orderTag="byhand"))
    assert reply["s"] == "ok", reply
    deadline = time.monotonic() + 10
    while rig.sim_net(B) != 5:  # confirmed and filled right after the reply
        assert time.monotonic() < deadline, rig.sim_orders()
        time.sleep(0.01)
    conn = sqlite3.connect(rig.settings.trading_db)  # the crashed segment
    with conn:
        conn.execute("UPDATE live_sessions SET status = 'running'")
    conn.close()
    restarted = open_rig(order_sim, rig.settings, rig.engine.config, UNTIL)
    try:
        report = restarted.engine.restart_report
        assert report is not None and report.differences == [f"{B}: ours +0, Fyers +5"]
        state = restarted.engine.kill_switch.state()
        assert state.active and f"{B}: ours +0, Fyers +5" in state.reason
        # Fyers' position adopted; the kill switch then closes it
        assert restarted.session.trader.engine.portfolio.quantity(B) == 5
        restarted.wait_for(lambda: restarted.sim_net(B) == 0)
    finally:
        restarted.engine.close()
