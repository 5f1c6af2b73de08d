"""The kill switch in the live (paper) engine, on injected clocks: pulled from outside, it is
applied at the runner's next look (cancel every working order, close every position, block
entries, record what was done); unlocked, entries are allowed again; a breached daily-loss limit
pulls it by itself; and each step is a mark, so a restart does it again at the same place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import time as dtime

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings
from fyerstrade.domain import OrderStatus, Side, Tick
from fyerstrade.live.clock import ManualClock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.live.killswitch import UNLOCK_PHRASE, KillSwitch
from fyerstrade.live.runner import Runner
from fyerstrade.live.session import LiveSession
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import PAPER_START, PAPER_SYMBOLS, LiveFeed, Mono
from plugins.webhook import Webhook

OPEN = ist_epoch(MARKET_DAY, dtime(9, 15))
UNTIL = ist_epoch(MARKET_DAY, dtime(10, 0))
A, B = PAPER_SYMBOLS


@dataclass
class Rig:
    engine: LiveEngine
    session: LiveSession
    runner: Runner
    market: ManualClock
    mono: Mono
    switch: KillSwitch
    states: list[str]

    def tick(self, symbol: str, ts: int, price: float) -> None:
        self.session.on_tick(Tick(symbol, ts, price, 1000))

    def look(self, seconds: float = 0.2) -> None:
        self.mono.t += seconds
        self.runner.housekeeping(LiveFeed(), UNTIL)  # type: ignore[arg-type]


@pytest.fixture
def rig(paper_settings: Settings, paper_config: Callable[..., LiveConfig]) -> Iterator[Rig]:
    market, mono = ManualClock(PAPER_START), Mono()
    config = paper_config(entry_start="09:15", risk={"max_daily_loss": 5_000})
    engine = LiveEngine(paper_settings, config, clock=market, monotonic=mono)
    session = engine.prepare(UNTIL)
    states: list[str] = []
    runner = Runner(
        session,
        engine.clocks,
        set_state=lambda state, why: states.append(state),
        write_status=lambda: None,
        kill_switch=engine.kill_switch,
        on_kill=engine._killed,
    )
    session.live_at = PAPER_START
    for sym in PAPER_SYMBOLS:  # each subscription's snapshot: its last trade, before the open
        session.on_tick(Tick(sym, OPEN - 60, 1000.0, 0))
    try:
        yield Rig(engine, session, runner, market, mono, engine.kill_switch, states)
    finally:
        engine.close()


def test_pulled_from_outside_it_cancels_closes_and_blocks_until_unlocked(rig: Rig) -> None:
    core = rig.session.trader.engine
    rig.market.set(OPEN + 30)
    rig.tick(A, OPEN + 1, 1000.0)
    rig.tick(B, OPEN + 2, 2000.0)
    core.place(A, Side.BUY, 10)  # fills at A's next tick
    resting = core.place(B, Side.BUY, 5, limit=1500.0)
    stop = core.place(A, Side.SELL, 10, stop=900.0, reduce_only=True)
    rig.tick(A, OPEN + 3, 1001.0)
    assert core.portfolio.quantity(A) == 10
    assert {o.id for o in core.open_orders()} == {resting.id, stop.id}

    KillSwitch(rig.engine.settings.data_dir).activate("trader pressed it", "cli")
    rig.look()
    assert core.open_orders() == [] and core.portfolio.quantity(A) == 0
    assert resting.status is OrderStatus.CANCELLED and stop.status is OrderStatus.CANCELLED
    state = rig.switch.state()
    assert (
        state.flattened == "cancelled 2 order(s), closed 1 position(s); nothing is working or open"
    )
    assert rig.states[-1] == "halted"
    refused = core.place(B, Side.BUY, 5)
    assert refused.status is OrderStatus.REJECTED and "kill switch" in refused.reject_reason
    rig.look()  # applied once
    assert [e.action for e in rig.switch.history()] == ["activate", "flattened"]

    rig.switch.unlock(UNLOCK_PHRASE, "cli")
    rig.look()
    allowed = core.place(B, Side.BUY, 5)
    assert allowed.status is not OrderStatus.REJECTED
    marks = [m.kind for m in rig.session.store.marks(rig.session.segment)]
    assert "kill" in marks and "unlock" in marks


def test_a_breached_daily_loss_pulls_the_switch(rig: Rig) -> None:
    core = rig.session.trader.engine
    rig.market.set(OPEN + 30)
    rig.tick(A, OPEN + 1, 1000.0)
    core.place(A, Side.BUY, 10)
    rig.tick(A, OPEN + 2, 1000.0)
    rig.session.trader.risk.check_loss(core.equity() - 10_000)  # as decide() sees a big loss
    rig.engine._halted(rig.session.trader.risk.halted)
    assert rig.switch.state().source == "engine"
    assert "loss" in rig.switch.state().reason
    rig.look()
    assert core.portfolio.quantity(A) == 0 and rig.switch.state().flattened


def test_an_exit_on_its_way_is_left_to_fill_where_it_was_sent(rig: Rig) -> None:
    # the daily-loss halt closes with a market exit at the next tick (a backtest: at the next
    # bar's open) and pulls the switch; the switch, applied at the runner's next look, must not
    # cancel that exit for one of its own: which came first, the tick or the look, decided the
    # exit's price and reason
    core = rig.session.trader.engine
    rig.market.set(OPEN + 30)
    rig.tick(A, OPEN + 1, 1000.0)
    core.place(A, Side.BUY, 10)
    resting = core.place(B, Side.BUY, 5, limit=1500.0)
    rig.tick(A, OPEN + 2, 1000.0)
    assert core.portfolio.quantity(A) == 10
    core.halt("max daily loss reached: test")
    (exit_order,) = core.open_orders(A)
    rig.engine._halted("max daily loss reached: test")
    rig.look()
    assert exit_order.status is OrderStatus.PENDING and core.open_orders(A) == [exit_order]
    assert resting.status is OrderStatus.CANCELLED
    assert rig.switch.state().flattened.endswith(
        f"NOT FLAT until the market exits on their way fill: {A}"
    )
    rig.tick(A, OPEN + 3, 999.0)
    assert exit_order.status is OrderStatus.FILLED and core.portfolio.quantity(A) == 0
    sells = [o for o in core.orders.values() if o.side is Side.SELL]
    assert [(o.tag, o.filled_quantity) for o in sells] == [("risk", 10)]


def test_paper_trading_notifies(
    paper_settings: Settings, paper_config: Callable[..., LiveConfig], webhook: Webhook
) -> None:
    market, mono = ManualClock(PAPER_START), Mono()
    config = paper_config(notify=[webhook.url("hook-5e1b2d")])
    engine = LiveEngine(paper_settings, config, clock=market, monotonic=mono)
    try:
        session = engine.prepare(UNTIL)
        runner = Runner(
            session,
            engine.clocks,
            set_state=lambda state, why: None,
            write_status=lambda: None,
            kill_switch=engine.kill_switch,
            on_kill=engine._killed,
        )
        core = session.trader.engine
        market.set(OPEN + 30)
        for sym in PAPER_SYMBOLS:  # the subscription's snapshots, from before the open
            session.on_tick(Tick(sym, OPEN - 60, 1000.0, 0))
        session.on_tick(Tick(A, OPEN + 1, 1000.0, 1000))
        core.place(A, Side.BUY, 10)
        core.place(B, Side.BUY, 10**7)  # far beyond the margin: refused
        session.on_tick(Tick(A, OPEN + 2, 1001.0, 1000))
        session.trader.commit(OPEN + 2)
        bought_at = core.portfolio.positions[A].avg_price
        engine.kill_switch.activate("end of test", "cli")
        mono.t += 0.2
        runner.housekeeping(LiveFeed(), UNTIL)  # type: ignore[arg-type]
    finally:
        engine.close()  # sends what is queued
    titles = [m.json()["title"] for m in webhook.messages()]
    assert "[PAPER] Fill" in titles and "[PAPER] Order refused" in titles
    assert "[PAPER] Kill switch" in titles
    fill = next(m.json() for m in webhook.messages() if m.json()["title"] == "[PAPER] Fill")
    assert f"BUY 10 {A} at {bought_at:,.2f}" in fill["message"]
