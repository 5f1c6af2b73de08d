"""Crash safety: an engine killed with SIGKILL mid-session and restarted ends the day with the
trades and account of an engine that ran without interruption, each trade recorded once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import time as dtime
from pathlib import Path

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import load_settings
from fyerstrade.live.config import LiveConfig, save_live_config
from fyerstrade.live.status import read_status
from fyerstrade.sim import SimServer
from fyerstrade.sim.datasocket import hub_for
from plugins.datasocket import MARKET_DAY, wait_for
from plugins.live_engine import PAPER_START, PAPER_SYMBOLS, prepare_data_dir

UNTIL = ist_epoch(MARKET_DAY, dtime(10, 35))
SPEED = 300.0

_CHILD = """
import sys, threading
from pathlib import Path
from fyerstrade.config import load_settings
from fyerstrade.live.clock import market_clock
from fyerstrade.live.config import load_live_config
from fyerstrade.live.engine import LiveEngine
from fyerstrade.logs import setup_logging

settings = load_settings(env_file=None)
setup_logging(settings.log_dir, console=False)
config = load_live_config(settings.live_config_file, settings)
LiveEngine(settings, config, clock=market_clock(settings)).run(threading.Event(), int(sys.argv[1]))
"""


def start_engine(data_dir: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ, FYERSTRADE_DATA_DIR=str(data_dir), FYERSTRADE_LOG_DIR=str(data_dir / "logs")
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "engine.err").open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(UNTIL)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def alive_or_fail(proc: subprocess.Popen[bytes], data_dir: Path) -> None:
    if proc.poll() is not None:
        tail = (data_dir / "engine.err").read_text(errors="replace")[-3000:]
        pytest.fail(f"the engine exited with {proc.returncode}: {tail}")


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
    dirs = {name: tmp_path / name for name in ("steady", "killed")}
    for d in dirs.values():
        monkeypatch.setenv("FYERSTRADE_DATA_DIR", str(d))
        settings = load_settings(env_file=None)
        prepare_data_dir(paper_sim, settings, PAPER_SYMBOLS)
        save_live_config(settings.live_config_file, paper_config())
    clock = hub_for(paper_sim.state).clock
    clock.set(PAPER_START, speed=1.0)  # market time stands nearly still while they start
    steady = start_engine(dirs["steady"])
    victim = start_engine(dirs["killed"])
    try:

        def running(d: Path) -> bool:
            status = read_status(d / "live_status.json")
            return status is not None and status.state == "running"

        wait_for(lambda: running(dirs["steady"]) and running(dirs["killed"]), timeout=60)
        clock.set(speed=SPEED)

        def traded() -> bool:
            alive_or_fail(victim, dirs["killed"])
            return len(fills(dirs["killed"])) >= 2

        wait_for(traded, timeout=60, what="trades before the kill")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = clock.now()
        wait_for(lambda: clock.now() > killed_at + 180, timeout=30, what="3 market minutes")
        victim = start_engine(dirs["killed"])
        for proc in (steady, victim):
            proc.wait(timeout=90)
        for proc, d in ((steady, dirs["steady"]), (victim, dirs["killed"])):
            if proc.returncode:
                alive_or_fail(proc, d)
    finally:
        for proc in (steady, victim):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    expected = fills(dirs["steady"])
    assert len(expected) >= 6
    assert fills(dirs["killed"]) == expected
    assert account(dirs["killed"]) == account(dirs["steady"])
    conn = sqlite3.connect(dirs["killed"] / "trading_log.sqlite")
    ids = conn.execute("SELECT order_id, fill_seq FROM live_paper_trades").fetchall()
    log = [m for (m,) in conn.execute("SELECT message FROM pt_live_debug_log")]
    conn.close()
    assert len(ids) == len(set(ids))
    assert any("resuming after a restart" in m for m in log)
    assert any("replayed" in m for m in log)
