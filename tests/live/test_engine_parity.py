"""One trading core: the live engine trades a simulated session through the official SDK's data
socket, and a backtest over the bars it built makes the same trades."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import time as dtime

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings
from fyerstrade.live.clock import market_clock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.live.status import read_status
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import assert_trades_like_a_backtest


@pytest.mark.parametrize("resolution", ["1", "5"])
def test_live_session_trades_like_a_backtest_of_the_bars_it_built(
    paper_settings: Settings, paper_config: Callable[..., LiveConfig], resolution: str
) -> None:
    # 5-minute bars: 2/4, which crosses upwards inside the entry window on every simulated day
    # of the year ahead (3/8 made no trade on 15 of 279, and the test would prove nothing)
    params = {"fast": 3, "slow": 8} if resolution == "1" else {"fast": 2, "slow": 4}
    config = paper_config(resolution=resolution, params=params)
    clock = market_clock(paper_settings)
    until = ist_epoch(MARKET_DAY, dtime(10, 35))
    engine = LiveEngine(paper_settings, config, clock=clock)
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop, until))
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive(), "the session did not end at its time"
    status = read_status(paper_settings.live_status_file)
    assert status is not None and status.state == "stopped", status

    assert_trades_like_a_backtest(paper_settings, config, min_fills=4 if resolution == "1" else 2)
