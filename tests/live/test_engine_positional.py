"""Positional paper trading carries positions overnight: a day that ends with an open delivery
(CNC) position starts the next trading day with it, and with the cash the first day ended on."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import time as dtime

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.config import Settings
from fyerstrade.domain import ProductType
from fyerstrade.fyers.tokens import TokenRecord, save_token
from fyerstrade.live.clock import market_clock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.sim import DEFAULT_APP_ID, SimServer
from fyerstrade.sim.datasocket import hub_for
from plugins.datasocket import MARKET_DAY, wait_for
from plugins.live_engine import PAPER_START

SPEED = 240.0


def open_positions(settings: Settings) -> list[tuple[str, int, float, str]]:
    conn = sqlite3.connect(settings.trading_db)
    rows = conn.execute(
        "SELECT symbol, quantity, avg_price, product FROM live_positions WHERE quantity != 0"
        " ORDER BY symbol"
    ).fetchall()
    conn.close()
    return [(s, int(q), float(p), str(prod)) for s, q, p, prod in rows]


def session_row(settings: Settings, day: str) -> tuple[float, list[dict[str, object]], float]:
    conn = sqlite3.connect(settings.trading_db)
    row = conn.execute(
        "SELECT start_cash, positions_json, end_cash FROM live_sessions WHERE session_id = ?",
        (day,),
    ).fetchone()
    conn.close()
    return float(row[0]), json.loads(row[1]), float(row[2] or 0.0)


def last_live_bar(settings: Settings, symbol: str) -> int:
    conn = sqlite3.connect(settings.live_db)
    (ts,) = conn.execute("SELECT MAX(ts) FROM live_bars WHERE symbol = ?", (symbol,)).fetchone()
    conn.close()
    return int(ts)


def run_until_stopped(engine: LiveEngine, stop: threading.Event, until: int) -> threading.Thread:
    runner = threading.Thread(target=engine.run, args=(stop, until))
    runner.start()
    return runner


def test_positional_positions_and_cash_carry_into_the_next_day(
    paper_sim: SimServer, paper_settings: Settings, paper_config: Callable[..., LiveConfig]
) -> None:
    from plugins.sim import sdk_login

    config = paper_config(mode="positional", on_stop="keep", entry_end="15:00")
    clock = hub_for(paper_sim.state).clock

    # day 1: trade until the strategy holds a position, then stop and keep it
    clock.set(PAPER_START, speed=SPEED)
    day1 = LiveEngine(paper_settings, config, clock=market_clock(paper_settings))
    stop = threading.Event()
    runner = run_until_stopped(day1, stop, ist_epoch(MARKET_DAY, dtime(15, 35)))
    try:
        wait_for(lambda: bool(open_positions(paper_settings)), timeout=60, what="a position")
    finally:
        stop.set()
        runner.join(timeout=60)
    assert not runner.is_alive()
    held = open_positions(paper_settings)
    assert held and all(p[3] == ProductType.CNC.value for p in held), held
    day1_last = {sym: last_live_bar(paper_settings, sym) for sym, *_ in held}
    _, _, end_cash = session_row(paper_settings, MARKET_DAY.isoformat())
    assert 0 < end_cash < config.capital  # it paid for what it holds

    # day 2: a new login (tokens expire overnight), the next session from before its open
    day2 = get_calendar().next_trading_day(MARKET_DAY)
    clock.set(ist_epoch(day2, dtime(9, 5)), speed=SPEED)
    save_token(
        paper_settings.token_file,
        TokenRecord.from_access_token(sdk_login(paper_sim), DEFAULT_APP_ID, now=time.time()),
    )
    engine = LiveEngine(paper_settings, config, clock=market_clock(paper_settings))
    runner = run_until_stopped(engine, threading.Event(), ist_epoch(day2, dtime(9, 45)))
    try:
        wait_for(lambda: engine.status.state == "running", timeout=60, what="day 2 to start")
        start_cash, carried, _ = session_row(paper_settings, day2.isoformat())
        assert start_cash == end_cash
        rows = [(p["symbol"], p["quantity"], p["avg_price"], p["product"]) for p in carried]
        assert sorted(rows) == held
        # the engine holds them: equity counts them, the strategy can sell them
        assert engine.engine is not None
        portfolio = engine.engine.portfolio
        # and its warm-up runs on through yesterday's live bars (not in the history store)
        for sym, *_ in held:
            warm = engine.engine.by_symbol[sym].arrays.ts
            before = warm[warm < ist_epoch(day2)]
            assert int(before[-1]) == day1_last[sym]
            assert ist_epoch(MARKET_DAY) < int(before[-1])
        assert {s: p.quantity for s, p in portfolio.positions.items() if p.quantity} == {
            s: q for s, q, _, _ in held
        }
    finally:
        runner.join(timeout=120)
    assert not runner.is_alive()
    assert engine.status.state == "stopped", engine.status.message
    # whatever day 2 did, the books still balance: positions are never sold below zero
    assert all(q > 0 for _, q, _, _ in open_positions(paper_settings))
