"""One session guard: a live session with a daily-loss limit halts where a backtest of the bars
it built with the same limit halts, and makes the same trades (the risk exits included)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import time as dtime

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings
from fyerstrade.live.clock import market_clock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.sim import SimServer
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import assert_trades_like_a_backtest, loss_reached_holding, paper_fills


def test_a_daily_loss_limit_halts_live_as_in_a_backtest_of_the_same_bars(
    paper_sim: SimServer, paper_settings: Settings, paper_config: Callable[..., LiveConfig]
) -> None:
    # a limit this simulated day reaches while holding a position (a fixed one, ₹40, was
    # reached while flat on some days, and the halt then had nothing to close)
    limit = loss_reached_holding(paper_sim, paper_config())
    config = paper_config(risk={"max_daily_loss": limit})
    until = ist_epoch(MARKET_DAY, dtime(10, 35))
    engine = LiveEngine(paper_settings, config, clock=market_clock(paper_settings))
    runner = threading.Thread(target=engine.run, args=(threading.Event(), until))
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive(), "the session did not end at its time"

    fills = paper_fills(paper_settings)
    halt = [ts for _, ts, _, _, _, tag in fills if tag == "risk"]
    conn = sqlite3.connect(paper_settings.trading_db)
    refused = conn.execute(
        "SELECT COUNT(*) FROM pt_live_debug_log WHERE message LIKE '%max daily loss reached%'"
    ).fetchone()[0]
    conn.close()
    assert refused >= 1 and halt, "the limit was never reached with a position open: lower it"
    # nothing opened after the halt: the fills from it on are exits
    assert all(tag in ("risk", "square_off") for _, ts, _, _, _, tag in fills if ts >= halt[0])
    assert_trades_like_a_backtest(paper_settings, config, min_fills=2)
