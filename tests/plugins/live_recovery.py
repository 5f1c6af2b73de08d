"""Two live engines on one simulator, one of them killed with SIGKILL and restarted: the
harness of the crash-recovery tests.

The engines run in their own processes (:func:`_engine_process`: a
:class:`~fyerstrade.live.engine.LiveEngine` on the simulator's clock read over HTTP), each on
its own data directory, both subscribed to the same simulated market. The processes are forked
from a ``multiprocessing`` fork server that has imported the engine once, so a restart costs
the engine's own start, not a Python start (seconds of imports on a loaded machine).

The test drives the market clock: :meth:`TwoEngines.run_until` lets the market run and pauses
it at an instant, :meth:`TwoEngines.settle` waits (by polling, with a deadline) until an engine
has stored every tick up to the paused instant, :meth:`kill` and :meth:`restart` act on the
victim while the market stands still. So a crash point is exact in
market time, and how long a process takes to start on a busy machine changes nothing.

``journal(dir)`` reads what a run recorded: fills (order id, symbol, minute, side, quantity,
price, costs, tag), the equity points, the account at the end, the positions table,
``live_orders`` and ``live_order_events``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import sys
import types
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fyerstrade.config import load_settings
from fyerstrade.live.config import LiveConfig, save_live_config
from fyerstrade.live.status import read_status
from fyerstrade.sim import SimServer
from fyerstrade.sim.datasocket import hub_for
from fyerstrade.sim.ticks import TickSource
from plugins.datasocket import wait_for
from plugins.live_engine import prepare_data_dir


def _engine_process(env: dict[str, str], err_path: str, until: int) -> None:
    """The engine process: a live engine on the simulator's clock until ``until``."""
    import threading

    os.environ.update(env)
    fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 2)
    from fyerstrade.config import load_settings
    from fyerstrade.live.clock import market_clock
    from fyerstrade.live.config import load_live_config
    from fyerstrade.live.engine import LiveEngine
    from fyerstrade.logs import setup_logging

    settings = load_settings(env_file=None)
    setup_logging(settings.log_dir, console=False)
    config = load_live_config(settings.live_config_file, settings)
    LiveEngine(settings, config, clock=market_clock(settings)).run(threading.Event(), until)


@contextmanager
def _bare_main() -> Iterator[None]:
    """``multiprocessing`` tells the fork server and each child to import the parent's
    ``__main__`` first. The engine process needs nothing from it, and a test may have left a
    script there (Streamlit's AppTest leaves its page script as ``__main__``; the child then
    re-ran it and died): while a process starts, ``__main__`` is an empty module."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _context() -> multiprocessing.context.ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["fyerstrade.live.engine", "fyerstrade.logs"])
    return ctx


@dataclass
class Journal:
    fills: list[tuple[object, ...]]
    equity: list[tuple[object, ...]]
    account: tuple[object, ...]
    positions: dict[str, int]
    net: dict[str, int]
    orders: list[tuple[object, ...]]
    fill_keys: list[tuple[str, int]]
    log: list[str]
    events: list[tuple[object, ...]]  # (order id, seq, kind, minute, quantity, price, reason)


def journal(data_dir: Path) -> Journal:
    conn = sqlite3.connect(data_dir / "trading_log.sqlite")
    try:
        rows = conn.execute(
            "SELECT order_id, fill_seq, symbol, ts, side, quantity, price, costs, tag"
            " FROM live_paper_trades ORDER BY id"
        ).fetchall()
        equity = conn.execute(
            "SELECT ts, round(equity, 2), round(cash, 2) FROM pt_portfolio_log ORDER BY ts, rowid"
        ).fetchall()
        account = conn.execute(
            "SELECT round(end_cash, 2), round(end_equity, 2), status FROM live_sessions"
        ).fetchone()
        positions = dict(
            conn.execute("SELECT symbol, quantity FROM live_positions WHERE quantity != 0")
        )
        orders = conn.execute(
            "SELECT order_id, symbol, side, quantity, order_type, limit_price, tag, status,"
            " filled_quantity, created_ts FROM live_orders ORDER BY created_ts, order_id"
        ).fetchall()
        log = [m for (m,) in conn.execute("SELECT message FROM pt_live_debug_log ORDER BY id")]
        events = conn.execute(
            "SELECT order_id, seq, kind, ts, quantity, price, reason FROM live_order_events"
            " ORDER BY order_id, seq"
        ).fetchall()
    finally:
        conn.close()
    # a fill is stamped with its tick's time inside the minute, or the minute when it was
    # matched on a backfilled bar: compared by minute. Within a minute, the order across
    # symbols is the ticks' (which came first) live, the symbols' on a backfilled bar (history
    # has no order inside a minute): fills are compared minute by minute, each symbol's in its
    # order (a stable sort)
    fills = sorted(
        (
            (oid.split("/")[-1], sym, ts - ts % 60, side, q, p, round(c, 4), tag)
            for oid, _, sym, ts, side, q, p, c, tag in rows
        ),
        key=lambda f: (f[2], f[1]),
    )
    net: dict[str, int] = defaultdict(int)
    for _, _, sym, _, side, qty, *_ in rows:
        net[sym] += qty if side == "BUY" else -qty
    return Journal(
        fills=fills,
        equity=[tuple(r) for r in equity],
        account=tuple(account) if account else (),
        positions=positions,
        net={s: q for s, q in net.items() if q},
        orders=[(oid.split("/")[-1], *rest) for oid, *rest in orders],
        fill_keys=[(str(oid), int(seq)) for oid, seq, *_ in rows],
        log=log,
        # (an event's time compared by minute, as a fill's)
        events=[
            (oid.split("/")[-1], seq, kind, ts - ts % 60, q, p, why)
            for oid, seq, kind, ts, q, p, why in events
        ],
    )


class TwoEngines:
    """A steady engine and a victim on ``sim``, trading ``config`` until market time ``until``."""

    def __init__(
        self,
        sim: SimServer,
        root: Path,
        config: LiveConfig,
        symbols: tuple[str, ...],
        until: int,
        monkeypatch: pytest.MonkeyPatch,
        speed: float = 480.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.sim = sim
        self.clock = hub_for(sim.state).clock
        self.until = until
        self.speed = speed
        self.symbols = symbols
        self.env = env or {}
        self.dirs = {name: root / name for name in ("steady", "victim")}
        for d in self.dirs.values():
            d.mkdir(parents=True)
            monkeypatch.setenv("FYERSTRADE_DATA_DIR", str(d))
            settings = load_settings(env_file=None)
            prepare_data_dir(sim, settings, symbols)
            save_live_config(settings.live_config_file, config)
        self.procs: dict[str, multiprocessing.process.BaseProcess] = {}
        self.restarts = 0

    # ------------------------------------------------------------------ processes

    def _start(self, name: str) -> None:
        d = self.dirs[name]
        env = {k: v for k, v in os.environ.items() if k.startswith(("FYERSTRADE_", "FYERS_"))}
        env.update(FYERSTRADE_DATA_DIR=str(d), FYERSTRADE_LOG_DIR=str(d / "logs"), **self.env)
        proc = _context().Process(
            target=_engine_process, args=(env, str(d / "engine.err"), self.until), daemon=True
        )
        with _bare_main():
            proc.start()
        self.procs[name] = proc

    def _running(self, name: str) -> bool:
        proc = self.procs[name]
        self.alive_or_fail(name)
        status = read_status(self.dirs[name] / "live_status.json")
        return (
            status is not None and status.pid == proc.pid and status.state in ("running", "halted")
        )

    def alive_or_fail(self, name: str) -> None:
        proc = self.procs[name]
        if proc.exitcode is not None:
            tail = (self.dirs[name] / "engine.err").read_text(errors="replace")[-3000:]
            pytest.fail(f"the {name} engine exited with {proc.exitcode}: {tail}")

    def start(self, at: int) -> None:
        """Both engines connect while the market stands at ``at``."""
        self.clock.set(at, speed=self.speed, paused=True)
        self._start("steady")
        self._start("victim")
        wait_for(lambda: self._running("steady") and self._running("victim"), timeout=90)

    def kill(self) -> None:
        """SIGKILL the victim (the market keeps standing still)."""
        proc = self.procs["victim"]
        self.alive_or_fail("victim")
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=20)
        assert proc.exitcode == -signal.SIGKILL

    def restart(self) -> None:
        """Start the victim again; the market stands still until it is trading."""
        self.clock.pause()
        self.restarts += 1
        self._start("victim")
        wait_for(lambda: self._running("victim"), timeout=90, what="the restarted engine")

    def finish(self, timeout: float = 120.0) -> None:
        """Let the market run until both engines have ended their session."""
        self.clock.resume()
        try:
            for name, proc in self.procs.items():
                proc.join(timeout=timeout)
                if proc.exitcode != 0:
                    if proc.exitcode is None:
                        pytest.fail(f"the {name} engine did not end its session in {timeout} s")
                    self.alive_or_fail(name)
        finally:
            self.stop()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.exitcode is None:
                proc.kill()
                proc.join()

    # ------------------------------------------------------------------ the market

    def run_until(self, ts: int, *, what: str = "") -> None:
        """Let the market run until ``ts`` exactly (the simulator's clock pauses itself there,
        however late this process looks on a busy machine)."""
        self.clock.run_until(ts)
        try:
            wait_for(lambda: self._ahead(ts), timeout=120, what=what or f"market time {ts}")
        finally:
            self.clock.pause()

    def _ahead(self, ts: int) -> bool:
        self.alive_or_fail("steady")
        return self.clock.now() >= ts

    def run_until_fill(self, count: int) -> None:
        """Let the market run until the victim has recorded ``count`` fills, then pause."""
        self.clock.resume()
        try:
            wait_for(
                lambda: self._fills("victim") >= count,
                timeout=120,
                what=f"{count} fills of the victim",
            )
        finally:
            self.clock.pause()

    def run_until_working(self) -> None:
        """Let the market run until the victim has recorded an order that is still working,
        then pause (it stays working: the market stands still)."""
        self.clock.resume()
        try:
            wait_for(lambda: self._working("victim"), timeout=120, what="a working order")
        finally:
            self.clock.pause()

    def _fills(self, name: str) -> int:
        self.alive_or_fail(name)
        try:
            conn = sqlite3.connect(self.dirs[name] / "trading_log.sqlite")
            try:
                return int(conn.execute("SELECT COUNT(*) FROM live_paper_trades").fetchone()[0])
            finally:
                conn.close()
        except sqlite3.OperationalError:
            return 0

    def _working(self, name: str) -> bool:
        self.alive_or_fail(name)
        try:
            conn = sqlite3.connect(self.dirs[name] / "trading_log.sqlite")
            try:
                row = conn.execute(
                    "SELECT COUNT(*) FROM live_orders WHERE status = 'PENDING'"
                ).fetchone()
                return bool(row[0])
            finally:
                conn.close()
        except sqlite3.OperationalError:
            return False

    def settle(self, name: str = "victim") -> None:
        # (the engine may still be handling what it received: wait until it has stored it)
        """Wait until ``name`` has stored every tick of the market up to the paused instant."""
        assert self.clock.paused
        now = int(self.clock.now())
        source = TickSource(self.sim.state)
        universe = self.sim.universe()
        want: dict[str, int] = {}
        for sym in self.symbols:
            inst = universe.get(sym)
            assert inst is not None
            last = source.last_trade(inst, now)
            if last is not None:
                want[sym] = last.ts

        def stored() -> bool:
            self.alive_or_fail(name)
            conn = sqlite3.connect(self.dirs[name] / "live_market_data.sqlite")
            try:
                got = dict(conn.execute("SELECT symbol, MAX(ts) FROM live_ticks GROUP BY symbol"))
            finally:
                conn.close()
            return all(got.get(s, 0) >= ts for s, ts in want.items())

        wait_for(stored, timeout=60, what=f"{name} to store the ticks up to {now}")

    def inject(self, **faults: Any) -> None:
        hub_for(self.sim.state).inject(**faults)
