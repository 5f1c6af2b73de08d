"""The live engine with a strategy whose ``on_data`` never returns (issue 15.5): the watchdog
stops it once ``strategy_seconds`` of the engine's monotonic clock have passed, and the
engine stops trading with the reason (strategy, symbols, bar, line) as its status. The market
and monotonic clocks are moved by the test; the ticks come from a scripted feed."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time as dtime
from pathlib import Path

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings, load_settings
from fyerstrade.domain import Tick
from fyerstrade.fyers.feed import FeedStatus
from fyerstrade.live.clock import ManualClock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.live.status import read_status
from fyerstrade.live.watchdog import StrategyTimeoutError
from plugins.datasocket import MARKET_DAY, wait_for
from plugins.live_engine import PAPER_START, PAPER_SYMBOLS, Mono
from plugins.robustness import SPIN_STRATEGY

OPEN = ist_epoch(MARKET_DAY, dtime(9, 15))
UNTIL = ist_epoch(MARKET_DAY, dtime(9, 30))
A, B = PAPER_SYMBOLS


@dataclass
class ScriptedFeed:
    """A connected feed holding the ticks the test queued (no socket)."""

    ticks: queue.SimpleQueue[object] = field(default_factory=queue.SimpleQueue)
    status: FeedStatus = FeedStatus.LIVE
    gap_open: bool = False
    running: bool = True
    error: Exception | None = None

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def wait_live(self, timeout: float) -> bool:
        return True


def test_an_on_data_that_never_returns_stops_trading_with_the_reason(
    paper_settings: Settings,
    paper_config: Callable[..., LiveConfig],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "spin.py").write_text(SPIN_STRATEGY)
    marker = tmp_path / "spinning"
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(folder))
    monkeypatch.setenv("SPIN_MARKER", str(marker))
    settings = load_settings(env_file=None)  # the same data dir, with the strategy folder
    config = paper_config().model_copy(  # (paper_config checks the name without settings)
        update={"strategy": "spin", "params": {}, "strategy_seconds": 10.0}
    )
    feed = ScriptedFeed()
    for symbol, ts in ((A, OPEN + 1), (B, OPEN + 2), (A, OPEN + 65), (B, OPEN + 66)):
        feed.ticks.put(Tick(symbol, ts, 1000.0, 100))  # 09:15 complete for both: on_data
    market, mono = ManualClock(PAPER_START), Mono()
    engine = LiveEngine(
        settings, config, clock=market, monotonic=mono, feed_factory=lambda *args: feed
    )
    raised: list[BaseException] = []

    def run() -> None:
        try:
            engine.run(threading.Event(), UNTIL)
        except BaseException as exc:  # the test looks at it
            raised.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        wait_for(marker.exists, timeout=60, what="on_data to start spinning")
        mono.t += 9.0
        assert engine.trader is not None
        dog = engine.trader.watchdog
        polls = dog.polls
        wait_for(lambda: dog.polls >= polls + 3, timeout=30, what="three looks")
        assert runner.is_alive() and dog.fired == []  # 9 s: still within the limit
        mono.t += 1.5
        runner.join(timeout=60)
    finally:
        if runner.is_alive():  # never leave a spinning thread behind
            mono.t += 1000.0
            runner.join(timeout=60)
    assert not runner.is_alive()
    [error] = raised
    assert isinstance(error, StrategyTimeoutError)
    reason = str(error)
    bar = f"{MARKET_DAY:%Y-%m-%d} 09:15 IST"
    assert reason.startswith(
        f"strategy spin did not return from on_data within 10 s on {A}, {B} at bar {bar}, "
        "at spin.py:"
    )
    assert "spin.py:13 (pass)" in reason or "spin.py:12 (while True:)" in reason, reason
    status = read_status(settings.live_status_file)
    assert (status.state, status.message) == ("error", reason)
    assert not any(t.name == "strategy-watchdog" for t in threading.enumerate())
