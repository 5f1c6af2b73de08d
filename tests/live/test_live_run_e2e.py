"""End to end through the command line: ``fyerstrade live run --once`` (the scheduler and the
engine in their own process) trades a whole simulated session at high speed through the
official SDK, stops after the close and archives the day's ticks; a backtest of the same day
over the bars it built makes the same trades."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable

from fyerstrade.config import Settings
from fyerstrade.live.config import LiveConfig, save_live_config
from fyerstrade.live.status import read_status
from fyerstrade.sim import SimServer
from fyerstrade.sim.datasocket import hub_for
from plugins.datasocket import wait_for
from plugins.live_engine import PAPER_START, assert_trades_like_a_backtest

E2E_SPEED = 720.0  # 09:05 to 15:35 IST in about 33 wall seconds


def test_live_run_once_trades_a_whole_session_like_a_backtest(
    paper_sim: SimServer, paper_settings: Settings, paper_config: Callable[..., LiveConfig]
) -> None:
    config = paper_config(entry_end="15:00", square_off="15:15", schedule={"start_before_open": 15})
    save_live_config(paper_settings.live_config_file, config)
    clock = hub_for(paper_sim.state).clock
    clock.set(PAPER_START, speed=1.0)  # the market waits while the process starts and connects
    proc = subprocess.Popen(
        [sys.executable, "-m", "fyerstrade", "live", "run", "--once"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def running() -> bool:
            if proc.poll() is not None:
                return True
            status = read_status(paper_settings.live_status_file)
            return status is not None and status.state == "running"

        wait_for(running, timeout=60, what="the engine to connect")
        clock.set(speed=E2E_SPEED)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out[-2000:] + err[-2000:]
    assert "Traceback" not in err
    status = read_status(paper_settings.live_status_file)
    assert status is not None and status.state == "stopped", status
    assert not paper_settings.live_pid_file.exists()

    # the whole day: warm-up, 09:15 to 15:29, intraday positions squared off at 15:15
    assert_trades_like_a_backtest(paper_settings, config, min_fills=10)
    trading = sqlite3.connect(paper_settings.trading_db)
    open_positions = trading.execute(
        "SELECT COUNT(*) FROM live_positions WHERE quantity != 0"
    ).fetchone()[0]
    tags = {t for (t,) in trading.execute("SELECT DISTINCT tag FROM live_paper_trades")}
    trading.close()
    assert open_positions == 0 and "signal" in tags

    # after the close the scheduler archived the day's ticks: none left live, all archived
    live = sqlite3.connect(paper_settings.live_db)
    left = live.execute("SELECT COUNT(*) FROM live_ticks").fetchone()[0]
    live.close()
    hist = sqlite3.connect(paper_settings.historical_db)
    archived = hist.execute("SELECT COUNT(*) FROM historical_ticks").fetchone()[0]
    hist.close()
    assert left == 0 and archived > 2 * 375 * 4
