"""A tick burst through the live engine: 200 symbols at more than 5,000 ticks/s for 30 s of
wall time, through the official SDK's data socket. Every tick is persisted exactly once (the
stored sequence of each symbol is the simulator's own trade sequence) and every 1-minute bar the
engine built is the market's own candle."""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import time as dtime

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import load_settings
from fyerstrade.live.clock import market_clock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.sim import SimServer
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
    hub.clock.set(CONNECT_AT)
    engine = LiveEngine(settings, config, clock=market_clock(settings))
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop, UNTIL))
    runner.start()
    try:
        # 200 subscriptions take a few wall seconds: the market waits for them, then races
        wait_for(
            lambda: engine.status.state != "warming_up" and engine.status.state != "starting",
            timeout=60,
            what="the engine to connect",
        )
        assert engine.status.state == "running", engine.status.message
        hub.clock.set(BURST_START, speed=BURST_SPEED)
    except BaseException:
        stop.set()  # do not wait for a burst that will not come
        raise
    finally:
        runner.join(timeout=180)
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
    span = max(r[4] for r in market) - min(r[4] for r in market)
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
