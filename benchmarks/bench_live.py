"""The live engine (issue 6): sustained throughput and tick-to-strategy latency.

1. Throughput: a whole session of 200 symbols (the simulator's own trades, about 490,000 ticks)
   is queued at once and the engine drains it through its real path: ``live_ticks`` batches,
   the bar builder, ``live_bars``, ``sma_crossover`` through the ``TradingEngine`` with the
   paper broker, and the trading log. Figure: ticks per second until the queue is empty, then
   verified: every tick in ``live_ticks`` once and every 1-minute bar in ``live_bars``
   (target >= 50,000/s). Peer: the same ticks written the naive way, one ``INSERT`` and
   commit per tick on the same database settings.
2. Latency: the simulator runs in its own process at 240x (200 symbols, about 5,200 ticks/s)
   and the engine receives through the official SDK's data socket. Figures: receipt on the SDK
   thread to processed (every tick) and receipt of a minute's completing tick to the strategy
   call (target p99 < 5 ms).
"""

from __future__ import annotations

import json
import queue
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from datetime import time as dtime
from pathlib import Path
from typing import Any

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.config import Settings, load_settings
from fyerstrade.demo import DemoOptions, demo_settings, login_to_simulator
from fyerstrade.domain import Tick
from fyerstrade.errors import FyersTradeError
from fyerstrade.fyers.feed import FeedStatus, Gap
from fyerstrade.live.config import LiveConfig, live_config_from_dict
from fyerstrade.live.engine import LiveEngine
from fyerstrade.live.latency import LatencyWindow
from fyerstrade.sim import SimConfig, SimServer
from fyerstrade.sim.ticks import TickSource
from fyerstrade.sim.universe import Kind
from fyerstrade.store.db import open_live

N_SYMBOLS = 200
LATENCY_SPEED = 240.0
LATENCY_MINUTES = 160  # market minutes after the open (40 wall seconds at 240x)
TARGET_TPS = 50_000
TARGET_P99_MS = 5.0
NAIVE_TICKS = 20_000


#: The simulated trading day (pinned: the engine and the simulator run on injected clocks, and a
#: day past the published NSE holiday lists would need a calendar file).
DAY = date(2026, 12, 7)


def _config(symbols: list[str]) -> LiveConfig:
    return live_config_from_dict(
        {
            "strategy": "sma_crossover",
            "params": {"fast": 3, "slow": 8},
            "symbols": symbols,
            "resolution": "1",
            "mode": "intraday",
            "capital": 10_000_000,
            "quantity": 1,
            "entry_start": "09:15",
            "entry_end": "15:00",
            "square_off": "15:15",
            "warmup_bars": 0,
        }
    ).validated()


def _settings(root: Path, url: str) -> Settings:
    from fyerstrade.data.symbols import refresh_symbol_master
    from fyerstrade.store.db import init_all

    settings = demo_settings(DemoOptions(data_dir=root / "data", log_dir=root / "logs"), url)
    init_all(settings)
    login_to_simulator(settings)  # the engine reads the token file, as `live run` does
    refresh_symbol_master(settings)
    return settings


def _symbols(server: SimServer) -> list[str]:
    universe = server.universe()
    names = sorted(s for s, i in universe.instruments.items() if i.kind is not Kind.INDEX)
    return names[:N_SYMBOLS]


class _AllSamples(LatencyWindow):
    """Every sample kept for the report; the engine's status sees the usual recent window."""

    def __init__(self) -> None:
        super().__init__()
        self.all: list[int] = []

    def add(self, ns: int) -> None:
        super().add(ns)
        self.all.append(ns)


def _pct(data: list[int], q: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, round(q / 100 * (len(data) - 1)))] / 1e6 if data else 0.0


# ---------------------------------------------------------------- 1. throughput


class _QueuedFeed:
    """A feed whose ticks are all queued before the engine starts (no network)."""

    #: never interrupted: no gap is ever open
    gap_open = False
    gap_start: int | None = None

    def __init__(self, ticks: list[Tick]) -> None:
        self.ticks: queue.SimpleQueue[Tick | Gap] = queue.SimpleQueue()
        for t in ticks:
            self.ticks.put(t)
        self.status = FeedStatus.LIVE
        self.error: FyersTradeError | None = None
        self.running = True

    def start(self) -> None:
        pass

    def wait_live(self, timeout: float) -> bool:
        return True

    def stop(self, *, wait: bool = False) -> None:
        self.status = FeedStatus.STOPPED


class _DrainClock:
    """Market time follows the ticks processed; once the queue is empty it is the end, and from
    then on it runs at :attr:`AFTER_SPEED` so that the market falls quiet (a market minute and a
    few wall seconds without a tick) and the engine ends its day as it would after the close."""

    speed = 1.0
    AFTER_SPEED = 60.0

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end
        self.feed: _QueuedFeed | None = None
        self.engine: LiveEngine | None = None
        self._empty_at: float | None = None

    def now_float(self) -> float:
        if self.feed is not None and self.feed.ticks.empty():
            if self._empty_at is None:
                self._empty_at = time.monotonic()
            return self.end + (time.monotonic() - self._empty_at) * self.AFTER_SPEED
        seen = self.engine.status.last_tick_ts if self.engine is not None else 0
        return float(max(seen, self.start))

    def now(self) -> int:
        return int(self.now_float())

    def wait_until(self, ts: float, stop: threading.Event) -> bool:
        return stop.is_set()


def _session_ticks(server: SimServer, symbols: list[str], day: date) -> list[Tick]:
    session = get_calendar().session(day)
    assert session is not None
    source = TickSource(server.state)
    universe = server.universe()
    out: list[tuple[int, int, Tick]] = []
    for k, sym in enumerate(symbols):
        inst = universe.get(sym)
        assert inst is not None
        # the snapshot a subscription made before the open shows first (a price, no volume
        # yet), as the simulator's data socket sends one: the engine then knows the session's
        # first minutes are seen whole (no history asked for them)
        snap = session.open_ts - 60
        bars, _ = source.day(inst, day)
        out.append((snap, k, Tick(sym, snap, float(bars.open[0]), 0)))
        for t in source.ticks(inst, session.open_ts - 1, session.close_ts - 1):
            out.append((t.ts, k, Tick(sym, t.ts, t.price, t.cum_volume, last_qty=t.qty)))
    out.sort(key=lambda x: (x[0], x[1]))
    return [t for _, _, t in out]


def _throughput(root: Path) -> None:
    day = DAY
    session = get_calendar().session(day)
    assert session is not None
    start = session.open_ts - 60
    server = SimServer(SimConfig(port=0, seed=42, clock=lambda: start))
    server.start()
    try:
        settings = _settings(root, server.url)
        symbols = _symbols(server)
        ticks = _session_ticks(server, symbols, day)
        n = len(ticks)
        clock = _DrainClock(start, session.close_ts + 60)
        feed = _QueuedFeed(ticks)
        del ticks
        engine = LiveEngine(
            settings,
            _config(symbols),
            clock=clock,
            feed_factory=lambda *_: feed,
        )
        clock.engine, clock.feed = engine, feed
        runner = threading.Thread(target=engine.run, args=(threading.Event(), clock.end))
        runner.start()
        pause = threading.Event()
        while engine.status.state != "running" and runner.is_alive():
            pause.wait(0.002)
        t0 = time.perf_counter()
        while not feed.ticks.empty() and runner.is_alive():
            pause.wait(0.01)
        drained = time.perf_counter() - t0
        runner.join()
        assert engine.status.state == "stopped", engine.status.message
        conn = sqlite3.connect(settings.live_db)
        stored = conn.execute("SELECT COUNT(*) FROM live_ticks").fetchone()[0]
        distinct = conn.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT symbol, ts, volume, ltp FROM live_ticks)"
        ).fetchone()[0]
        bars = conn.execute("SELECT COUNT(*) FROM live_bars WHERE source = 'ticks'").fetchone()[0]
        conn.close()
        minutes = (session.close_ts - session.open_ts) // 60
        assert stored == n == distinct, (stored, n, distinct)
        assert bars == minutes * len(symbols), (bars, minutes * len(symbols))
        tps = n / drained

        naive_db = root / "naive"
        naive_settings = load_settings(env_file=None, data_dir=naive_db, log_dir=root / "logs")
        naive = open_live(naive_settings)
        rows = [
            (t.symbol, t.ts, t.ltp, t.volume, 0.0, 0.0, 0, 0, t.last_qty, 0.0)
            for t in _session_ticks(server, symbols[:20], day)[:NAIVE_TICKS]
        ]
        t0 = time.perf_counter()
        for row in rows:
            naive.execute(
                "INSERT INTO live_ticks (symbol, ts, ltp, volume, bid, ask, bid_qty, ask_qty,"
                " last_qty, recv_ts) VALUES (?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            naive.commit()
        naive_tps = len(rows) / (time.perf_counter() - t0)
        naive.close()
    finally:
        server.stop()
    print(
        f"session of {len(symbols)} symbols: {n:,} ticks -> {bars:,} one-minute bars, "
        f"{engine.status.trades:,} paper fills"
    )
    print(
        f"engine sustained: {tps:12,.0f} ticks/s persisted and built into bars "
        f"(target >= {TARGET_TPS:,}: {tps / TARGET_TPS:.2f}x); verified {stored:,} stored once, "
        "every bar built"
    )
    print(
        f"naive writer (INSERT + commit per tick): {naive_tps:10,.0f} ticks/s; "
        f"engine / naive = {tps / naive_tps:.2f}x (the engine also builds bars, runs the "
        "strategy and logs its trades)"
    )


# ---------------------------------------------------------------- 2. latency


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post_clock(url: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{url}/_sim/clock",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def _start_sim(start: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start))
    proc = subprocess.Popen(
        [sys.executable, "-m", "fyerstrade", "sim", "--port", str(port), "--start", iso],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    pause = threading.Event()
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_sim/clock", timeout=1) as resp:
                resp.read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the simulator did not start") from None
            pause.wait(0.1)


def _latency(root: Path) -> None:
    from fyerstrade.live.clock import market_clock

    day = DAY
    connect_at = ist_epoch(day, dtime(9, 14))
    proc, url = _start_sim(connect_at)
    try:
        settings = _settings(root, url)
        # the same universe as the simulator process's (its options' strikes follow its date)
        symbols = _symbols(SimServer(SimConfig(port=0, seed=42, clock=lambda: connect_at)))
        open_ts = ist_epoch(day, dtime(9, 15))
        until = open_ts + LATENCY_MINUTES * 60
        engine = LiveEngine(settings, _config(symbols), clock=market_clock(settings))
        engine.tick_latency = ticks = _AllSamples()
        engine.strategy_latency = strat = _AllSamples()
        runner = threading.Thread(target=engine.run, args=(threading.Event(), until))
        runner.start()
        pause = threading.Event()
        while engine.status.state in ("starting", "warming_up") and runner.is_alive():
            pause.wait(0.05)
        _post_clock(url, {"start": open_ts - 2, "speed": LATENCY_SPEED})
        runner.join(timeout=300)
        conn = sqlite3.connect(settings.live_db)
        lo, hi, count = conn.execute(
            "SELECT MIN(recv_ts), MAX(recv_ts), COUNT(*) FROM live_ticks WHERE ts >= ?",
            (open_ts,),
        ).fetchone()
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    if not count:
        raise RuntimeError(f"no tick reached the engine ({engine.status.message})")
    rate = count / (hi - lo) if hi > lo else 0.0
    print(
        f"live through the SDK (simulator in its own process, {len(symbols)} symbols, "
        f"{LATENCY_SPEED:g}x): {count:,} ticks at {rate:,.0f} ticks/s over {hi - lo:.1f} s"
    )
    print(
        f"tick latency (SDK receipt -> processed, {len(ticks.all):,} ticks): "
        f"p50 {_pct(ticks.all, 50):.3f} ms  p99 {_pct(ticks.all, 99):.3f} ms  "
        f"max {_pct(ticks.all, 100):.1f} ms"
    )
    p99 = _pct(strat.all, 99)
    print(
        f"tick-to-strategy (receipt of a minute's last tick -> on_bars, {len(strat.all)} minutes):"
        f" p50 {_pct(strat.all, 50):.3f} ms  p99 {p99:.3f} ms  max {_pct(strat.all, 100):.3f} ms "
        f"(target p99 < {TARGET_P99_MS:g} ms: {TARGET_P99_MS / p99 if p99 else 0:.1f}x headroom)"
    )


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _throughput(Path(tmp) / "throughput")
        _latency(Path(tmp) / "latency")
