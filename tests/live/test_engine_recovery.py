"""Crash safety: an engine killed with SIGKILL mid-session and restarted ends the day with the
trades and account of an engine that ran without interruption, each trade recorded once.

(The market stands still while the killed engine starts again, so the outcome does not depend
on how long a process takes to start; see ``tests/plugins/live_recovery.py``.)"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import time as dtime
from pathlib import Path

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.live.config import LiveConfig
from fyerstrade.sim import SimServer
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import PAPER_START, PAPER_SYMBOLS
from plugins.live_recovery import TwoEngines

UNTIL = ist_epoch(MARKET_DAY, dtime(10, 35))
SPEED = 480.0


def fills(data_dir: Path) -> list[tuple[str, int, str, int, float, str]]:
    conn = sqlite3.connect(data_dir / "trading_log.sqlite")
    rows = conn.execute(
        "SELECT symbol, ts, side, quantity, price, tag FROM live_paper_trades ORDER BY ts, id"
    ).fetchall()
    conn.close()
    # in minute order (a fill inside a minute is stamped with its tick, or the minute when it
    # was matched on a backfilled bar), then by symbol
    return sorted((s, int(ts) - int(ts) % 60, side, q, p, tag) for s, ts, side, q, p, tag in rows)


def account(data_dir: Path) -> tuple[float, float, str]:
    conn = sqlite3.connect(data_dir / "trading_log.sqlite")
    row = conn.execute("SELECT end_cash, end_equity, status FROM live_sessions").fetchone()
    conn.close()
    return round(row[0], 2), round(row[1], 2), row[2]


def test_kill_9_and_restart_equals_an_uninterrupted_run(
    paper_sim: SimServer,
    paper_config: Callable[..., LiveConfig],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engines = TwoEngines(
        paper_sim, tmp_path, paper_config(), PAPER_SYMBOLS, UNTIL, monkeypatch, speed=SPEED
    )
    try:
        engines.start(PAPER_START)
        engines.run_until_fill(2)  # trades before the kill
        engines.kill()
        engines.run_until(int(engines.clock.now()) + 180)  # 3 market minutes down
        engines.restart()
        engines.finish(timeout=90)
    finally:
        engines.stop()
    dirs = engines.dirs
    expected = fills(dirs["steady"])
    assert len(expected) >= 6
    assert fills(dirs["victim"]) == expected
    assert account(dirs["victim"]) == account(dirs["steady"])
    conn = sqlite3.connect(dirs["victim"] / "trading_log.sqlite")
    ids = conn.execute("SELECT order_id, fill_seq FROM live_paper_trades").fetchall()
    log = [m for (m,) in conn.execute("SELECT message FROM pt_live_debug_log")]
    conn.close()
    assert len(ids) == len(set(ids))
    assert any("resuming after a restart" in m for m in log)
    assert any("replayed" in m for m in log)
