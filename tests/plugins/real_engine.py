"""The live engine with REAL orders on the simulator, driven tick by tick.

* ``real_rig(**config)``: a real-order setup on ``order_sim`` (``FYERSTRADE_REAL_TRADING=true``,
  ``broker: fyers``, a logged-in token, the symbol master and the previous day's candles of
  :data:`~plugins.live_engine.PAPER_SYMBOLS` for the warm-up), a :class:`LiveEngine` prepared on
  a :class:`~fyerstrade.live.clock.ManualClock` — with the official SDK's order calls and order
  socket to the simulator over 127.0.0.1 — and a :class:`RealRig` to drive it.
* :func:`sim_ticks`: the simulator's own prints of the symbols, sampled every ``step`` seconds at
  the same second for every symbol (so an order decided on a tick meets the same price at the
  simulator as the paper broker gives it).

``RealRig.tick`` moves the simulator's market and the engine's clock to the tick's time, hands
it to the session and waits (polling, with a deadline) until every order the engine sent is
answered: nothing in flight, no market order still open.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from fyerstrade.config import Settings
from fyerstrade.domain import Order, OrderType, Side, Tick
from fyerstrade.live.clock import ManualClock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.live.fyers_broker import FyersBroker
from fyerstrade.live.runner import Runner
from fyerstrade.live.session import LiveSession
from fyerstrade.trading.engine import TradingEngine
from plugins.live_engine import PAPER_SYMBOLS, LiveFeed, Mono, prepare_data_dir
from plugins.orders import OrderSim, real_account

SETTLE_SECONDS = 20.0


def sim_ticks(sim: OrderSim, start: int, end: int, step: int = 15) -> list[Tick]:
    """The simulator's last price of each symbol every ``step`` seconds in [start, end)."""
    out = []
    for t in range(start, end, step):
        for sym in PAPER_SYMBOLS:
            out.append(Tick(sym, t, sim.ltp(sym, t), 1000))
    return out


@dataclass
class RealRig:
    sim: OrderSim
    settings: Settings
    engine: LiveEngine
    session: LiveSession
    runner: Runner
    market: ManualClock
    mono: Mono
    until: int
    states: list[tuple[str, str]] = field(default_factory=list)

    @property
    def broker(self) -> FyersBroker:
        assert self.engine.fyers is not None
        return self.engine.fyers

    def at(self, ts: int) -> None:
        """The simulator's market and the engine's clock to ``ts``."""
        self.sim.clock.to(ts)
        self.market.set(ts)

    def tick(self, t: Tick) -> None:
        self.at(t.ts)
        self.session.on_tick(t)
        self.settle()

    @property
    def core(self) -> TradingEngine:
        return self.session.trader.engine

    def open_market(self, ts: int, *symbols: str) -> None:
        """A tick of each of ``symbols`` (default: all) at ``ts``, at the simulator's price."""
        for sym in symbols or PAPER_SYMBOLS:
            self.tick(Tick(sym, ts, self.sim.ltp(sym, ts), 1000))

    def send(self, symbol: str, side: Side, quantity: int, **how: Any) -> Order:
        """An order the strategy could place, recorded and handed to the sender."""
        order = self.core.place(symbol, side, quantity, **how)
        self.session.trader.commit(self.market.now())
        return order

    def settle(self, seconds: float = SETTLE_SECONDS) -> None:
        """Poll until nothing is in flight and no market order is open (or fail)."""
        trader = self.session.trader
        deadline = time.monotonic() + seconds
        while True:
            trader.poll(self.market.now())
            open_market = [
                o for o in trader.engine.open_orders() if o.order_type is OrderType.MARKET
            ]
            if not self.broker.in_flight and not open_market:
                return
            assert time.monotonic() < deadline, (
                f"orders not answered in {seconds} s: {open_market}, held {self.broker.held}"
            )
            time.sleep(0.01)

    def look(self, seconds: float = 0.2) -> None:
        """One look of the runner at its clocks (kill switch, polls, status)."""
        self.mono.t += seconds
        self.runner.housekeeping(LiveFeed(), self.until)  # type: ignore[arg-type]

    def wait_for(
        self, what: Callable[[], bool], seconds: float = SETTLE_SECONDS, *, step: float = 0.2
    ) -> None:
        """Look (``step`` seconds of monotonic time each) until ``what`` holds, or fail."""
        deadline = time.monotonic() + seconds
        while not what():
            assert time.monotonic() < deadline, "not reached in time"
            self.look(step)
            time.sleep(0.02)

    def read(self, until: Callable[[], bool] | None = None) -> None:
        """Complete reads of Fyers' books asked for now and applied while the monotonic clock
        stands still (their stamp is exactly now), until one is applied (or ``until`` holds); a
        read refused by the rate limit is asked for again."""
        reads = self.broker.reads
        done = until or (lambda: self.broker.reads > reads)
        deadline = time.monotonic() + SETTLE_SECONDS
        while not done():
            assert time.monotonic() < deadline, "no read applied in time"
            self.broker.request_read()
            self.look(0)
            time.sleep(0.02)

    def sim_net(self, symbol: str) -> int:
        """The simulator's net position in ``symbol`` (its products summed)."""
        net = self.sim.exchange.net_positions()
        return sum(q for pid, q in net.items() if pid.startswith(f"{symbol}-"))

    def recorded(self) -> list[tuple[str, str, str, int, str, int]]:
        """``live_orders``: (order id, symbol, side, quantity, status, filled)."""
        return recorded_orders(self.settings)

    def sim_orders(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.sim.exchange.order_rows()]


def recorded_orders(settings: Settings) -> list[tuple[str, str, str, int, str, int]]:
    conn = sqlite3.connect(settings.trading_db)
    try:
        rows = conn.execute(
            "SELECT order_id, symbol, side, quantity, status, filled_quantity FROM live_orders"
            " ORDER BY rowid"
        ).fetchall()
    finally:
        conn.close()
    return [(str(o), str(s), str(sd), int(q), str(st), int(f)) for o, s, sd, q, st, f in rows]


def open_rig(sim: OrderSim, settings: Settings, config: LiveConfig, until: int) -> RealRig:
    market, mono = ManualClock(int(sim.clock.now())), Mono()
    engine = LiveEngine(settings, config, clock=market, monotonic=mono)
    session = engine.prepare(until)
    states: list[tuple[str, str]] = []
    runner = Runner(
        session,
        engine.clocks,
        set_state=lambda state, why: states.append((state, why)),
        write_status=lambda: None,
        kill_switch=engine.kill_switch,
        on_kill=engine._killed,
    )
    session.live_at = market.now()
    return RealRig(sim, settings, engine, session, runner, market, mono, until, states)


def real_settings(sim: OrderSim, monkeypatch: pytest.MonkeyPatch, config: LiveConfig) -> Settings:
    from fyerstrade.live.config import dump_live_config

    settings = real_account(sim, monkeypatch, dump_live_config(config))
    prepare_data_dir(sim.server, settings, PAPER_SYMBOLS)
    return settings


@pytest.fixture
def real_rig(
    order_sim: OrderSim,
    monkeypatch: pytest.MonkeyPatch,
    paper_config: Callable[..., LiveConfig],
) -> Iterator[Callable[..., RealRig]]:
    rigs: list[RealRig] = []

    def make(until: int, **changes: Any) -> RealRig:
        config = paper_config(broker="fyers", **changes)
        settings = real_settings(order_sim, monkeypatch, config)
        rig = open_rig(order_sim, settings, config, until)
        rigs.append(rig)
        return rig

    try:
        yield make
    finally:
        for rig in rigs:
            rig.engine.close()
