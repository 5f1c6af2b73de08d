"""A whole REAL-order session through the live engine's own loop: the official SDK's data socket
feeds it, its orders go to the simulator's order API and come back on the order socket, and at
the end the engine's fills are exactly the simulator's trades, nothing is left working or open,
and every order the simulator saw was recorded."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import time as dtime

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings, load_settings
from fyerstrade.live.clock import market_clock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.live.status import read_status
from fyerstrade.sim import SimServer
from fyerstrade.sim.exchange import exchange_for
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import paper_fills
from plugins.real_engine import recorded_orders


@pytest.mark.orders
def test_a_real_session_runs_its_day_and_its_books_are_the_simulators(
    paper_sim: SimServer,
    paper_settings: Settings,
    paper_config: Callable[..., LiveConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FYERSTRADE_REAL_TRADING", "true")
    settings = load_settings(env_file=None)
    assert settings.data_dir == paper_settings.data_dir
    config = paper_config(broker="fyers")
    until = ist_epoch(MARKET_DAY, dtime(10, 35))
    engine = LiveEngine(settings, config, clock=market_clock(settings))
    assert engine.real
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop, until))
    runner.start()
    runner.join(timeout=240)
    assert not runner.is_alive(), "the session did not end at its time"
    status = read_status(settings.live_status_file)
    assert status is not None and status.state == "stopped", status

    exchange = exchange_for(paper_sim.state)
    ours = Counter((s, side, q, p) for s, _ts, side, q, p, _tag in paper_fills(settings))
    sides = {1: "BUY", -1: "SELL"}
    theirs = Counter((t.inst.symbol, sides[t.side], t.qty, t.price) for t in exchange.trades)
    assert sum(ours.values()) >= 4
    assert ours == theirs
    assert not exchange.open_orders()
    assert not any(exchange.net_positions().values())  # squared off at 10:30
    recorded = recorded_orders(settings)
    assert len(recorded) == len(exchange.order_rows())
    assert all(r[4] in ("FILLED", "CANCELLED", "REJECTED", "EXPIRED") for r in recorded)
