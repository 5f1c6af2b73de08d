"""A tick burst through the live engine: 200 symbols at more than 5,000 ticks a second for 30
seconds, through the official SDK's data socket. Every tick is persisted exactly once (the
stored sequence of each symbol is the simulator's own trade sequence) and every 1-minute bar the
engine built is the market's own candle.

The seconds are the simulator's: its market clock is paced by its own event loop, so on a
loaded machine the burst plays in slow motion rather than racing ahead of what can be sent. The
rate is the engine's receipt of the ticks measured on that clock (each tick's receipt time
mapped to the market time of that moment, divided by the speed): an engine that could not keep
up with the simulator's pace would spread the receipts over more of the simulator's seconds.
How many ticks a wall second the engine can take is a benchmark (``make bench BENCH=live``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import time as dtime

import numpy as np
import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import load_settings
from fyerstrade.live.clock import market_clock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.sim import SimServer
from fyerstrade.sim.clock import MarketClock
from fyerstrade.sim.datasocket import hub_for
from fyerstrade.sim.ticks import TickSource
from fyerstrade.sim.universe import Kind
from plugins.datasocket import MARKET_DAY, clocked_sim, wait_for
from plugins.live_engine import prepare_data_dir

CONNECT_AT = ist_epoch(MARKET_DAY, dtime(9, 14))  # real speed while the engine connects
BURST_START = ist_epoch(MARKET_DAY, dtime(9, 14, 58))
BURST_SPEED = 300.0  # 200 symbols x ~6.5 trades a minute x 5 market minutes a second ≈ 6,500/s
OPEN = ist_epoch(MARKET_DAY, dtime(9, 15))
UNTIL = ist_epoch(MARKET_DAY, dtime(11, 47))  # 152 market minutes after the open: 30.4 wall s


@pytest.fixture
def burst_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with clocked_sim(monkeypatch, CONNECT_AT, 1.0) as server:
        yield server


class ClockSamples:
    """(wall time, market time) pairs taken every 10 ms on a thread, to map a wall instant to
    the simulator's market time of that instant."""

    def __init__(self, clock: MarketClock) -> None:
        self.clock = clock
        self.wall: list[float] = []
        self.market: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wall.append(time.time())
            self.market.append(self.clock.now())
            self._stop.wait(0.01)

    def __enter__(self) -> ClockSamples:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def market_at(self, wall: np.ndarray) -> np.ndarray:
        return np.interp(wall, np.array(self.wall), np.array(self.market))


def test_200_symbols_at_5000_ticks_a_second_for_30_s_every_tick_once_every_bar_right(
    burst_sim: SimServer, paper_config: Callable[..., LiveConfig]
) -> None:
    settings = load_settings(env_file=None)
    prepare_data_dir(burst_sim, settings, ())
    universe = burst_sim.universe()
    symbols = sorted(s for s, i in universe.instruments.items() if i.kind is not Kind.INDEX)[:200]
    assert len(symbols) == 200
    config = paper_config(
        symbols=symbols,
        capital=10_000_000,
        quantity=1,
        entry_end="15:00",
        square_off="15:15",
        warmup_bars=0,
    )
    hub = hub_for(burst_sim.state)
    hub.clock.set(CONNECT_AT, paused=True)  # the market waits while 200 subscriptions go in
    engine = LiveEngine(settings, config, clock=market_clock(settings))
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop, UNTIL))
    runner.start()
    try:
        # 200 subscriptions take a few wall seconds: the market waits until the simulator has
        # every one of them, then races
        wait_for(
            lambda: engine.status.state != "warming_up" and engine.status.state != "starting",
            timeout=60,
            what="the engine to connect",
        )
        assert engine.status.state == "running", engine.status.message
        wait_for(lambda: hub.snapshot()["topics"] >= 200, timeout=60, what="200 subscriptions")
        with ClockSamples(hub.clock) as samples:
            hub.clock.set(BURST_START, speed=BURST_SPEED, paused=False)
            runner.join(timeout=300)
    except BaseException:
        stop.set()  # do not wait for a burst that will not come
        raise
    finally:
        runner.join(timeout=300)
    assert not runner.is_alive(), "the engine did not stop at its time"
    assert engine.status.state == "stopped", engine.status.message
    assert engine.feed is not None and engine.feed.reconnects == 0

    conn = sqlite3.connect(settings.live_db)
    rows = conn.execute(
        "SELECT symbol, ts, ltp, volume, recv_ts FROM live_ticks ORDER BY id"
    ).fetchall()
    bars = conn.execute(
        "SELECT symbol, ts, open, high, low, close, volume, source FROM live_bars ORDER BY ts"
    ).fetchall()
    conn.close()

    # every tick the feed delivered is stored once
    assert len(rows) == engine.feed.ticks_received == engine.status.ticks
    market = [r for r in rows if r[1] >= OPEN]
    # the receipts, on the simulator's clock (see the module docstring)
    received = samples.market_at(np.array([r[4] for r in market])) / BURST_SPEED
    span = float(received.max() - received.min())
    rate = len(market) / span
    assert span >= 30.0, f"the burst lasted {span:.1f} s"
    assert rate >= 5_000, f"only {rate:,.0f} ticks/s"

    got: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
    for sym, ts, ltp, vol, _ in market:
        got[sym].append((ts, ltp, vol))
    source = TickSource(burst_sim.state)
    last_minute = UNTIL - 120
    built: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    for sym, *bar in bars:
        built[sym].append(tuple(bar))
    for sym in symbols:
        inst = universe.get(sym)
        assert inst is not None
        ticks = got[sym]
        assert ticks and ticks[-1][0] >= last_minute, sym
        # the stored sequence is the market's own, with nothing missing or repeated
        expected = source.ticks(inst, OPEN - 1, ticks[-1][0])
        assert ticks == [(t.ts, t.price, t.cum_volume) for t in expected], sym
        # every minute from the open is one bar, equal to the market's candle, volume included
        candles, _ = source.day(inst, MARKET_DAY)
        market_bars = {int(row[0]): (*row, "ticks") for row in candles.rows()}
        minutes = [int(b[0]) for b in built[sym]]  # type: ignore[call-overload]
        assert minutes == list(range(OPEN, minutes[-1] + 60, 60)), sym
        assert minutes[-1] >= last_minute, sym
        assert built[sym] == [market_bars[m] for m in minutes], sym
    assert engine.status.bars == len(bars)
