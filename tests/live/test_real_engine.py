"""The live engine with REAL orders: the Fyers broker behind the trading core, the official SDK
calling the simulator's order API and order socket over 127.0.0.1, the market stepped by hand.

What it must show (issue 12): a real session trades exactly as a paper session on the same
ticks; every order is in ``live_orders`` before the simulator sees it and is sent once; the
kill switch leaves nothing working and nothing open and blocks entries until unlocked; a burst
of orders never exceeds 10 requests in a second; a lost reply is found by its tag, not sent
again; an order whose outcome is unknown holds entries and says why."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import time as dtime

import numpy as np
import pytest

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.calendar import get_calendar, ist_epoch, to_ist
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings, load_settings
from fyerstrade.domain import OrderStatus, Side, Tick
from fyerstrade.fyers.tokens import load_valid_token
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.killswitch import UNLOCK_PHRASE, KillSwitch
from fyerstrade.strategies import registry
from fyerstrade.strategies.base import Strategy
from fyerstrade.trading.context import Context
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import (
    FIELDS,
    PAPER_SYMBOLS,
    built_bars,
    paper_fills,
    prepare_data_dir,
    stored_bars,
)
from plugins.orders import OPEN_AT, OrderSim, order_payload
from plugins.real_engine import RealRig, open_rig, recorded_orders, sim_ticks
from plugins.webhook import Webhook

A, B = PAPER_SYMBOLS
UNTIL = ist_epoch(MARKET_DAY, dtime(10, 40))
T0 = OPEN_AT + 30


def _opened(real_rig: Callable[..., RealRig], *symbols: str, **config: object) -> RealRig:
    """A real-order engine whose market opened at :data:`T0` (a tick of each of ``symbols``)."""
    rig = real_rig(UNTIL, **config)
    rig.open_market(T0, *symbols)
    return rig


def _real_session(rig: RealRig, order_sim: OrderSim, ticks: list[Tick]) -> None:
    """``ticks`` through a real-order engine: every order in ``live_orders`` before the
    simulator sees it, each sent once, the simulator's account flat at the end."""
    unrecorded: list[int] = []
    for t in ticks:
        rig.tick(t)
        # no order at the simulator that live_orders does not hold
        unrecorded.append(len(order_sim.exchange.order_rows()) - len(rig.recorded()))
    rig.engine.close()
    assert max(unrecorded) <= 0
    # one order at the simulator per order handed to the sender, each tag once; the orders
    # recorded and never sent are those cancelled before sending
    tags = [r["orderTag"] for r in rig.sim_orders()]
    assert len(tags) == len(set(tags)) == rig.broker.sent
    sent = [r for r in rig.recorded() if r[4] == "FILLED"]
    assert len(sent) == rig.broker.sent
    assert all(r[4] == "CANCELLED" and r[5] == 0 for r in rig.recorded() if r not in sent)
    # the simulator's positions: flat after the square-off, as ours
    assert not any(order_sim.exchange.net_positions().values())


def _paper_session(
    order_sim: OrderSim,
    rig: RealRig,
    config: LiveConfig,
    ticks: list[Tick],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """The same ``ticks`` through a paper engine of ``config`` (in a data directory beside
    the real ``rig``'s); returns its settings."""
    monkeypatch.setenv("FYERSTRADE_DATA_DIR", str(rig.settings.data_dir.parent / "paper"))
    monkeypatch.setenv("FYERSTRADE_REAL_TRADING", "false")
    paper_settings = load_settings(env_file=None)
    order_sim.clock.to(OPEN_AT)
    prepare_data_dir(order_sim.server, paper_settings, PAPER_SYMBOLS)
    order_sim.clock.to(OPEN_AT)
    paper = open_rig(order_sim, paper_settings, config, UNTIL)
    try:
        assert paper.engine.fyers is None
        for t in ticks:
            paper.at(t.ts)
            paper.session.on_tick(t)
    finally:
        paper.engine.close()
    return paper_settings


def _orders(settings: Settings) -> list[tuple[str, str, int, str, int]]:
    """``live_orders`` without their ids: (symbol, side, quantity, status, filled)."""
    return [r[1:] for r in recorded_orders(settings)]


def test_a_real_session_trades_as_a_paper_session_on_the_same_ticks(
    real_rig: Callable[..., RealRig],
    order_sim: OrderSim,
    paper_config: Callable[..., LiveConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = real_rig(UNTIL)
    ticks = sim_ticks(order_sim, OPEN_AT, ist_epoch(MARKET_DAY, dtime(10, 35)))
    _real_session(rig, order_sim, ticks)
    real = paper_fills(rig.settings)
    assert len(real) >= 4, real
    paper_settings = _paper_session(order_sim, rig, paper_config(), ticks, monkeypatch)
    assert paper_fills(paper_settings) == real
    assert _orders(paper_settings) == _orders(rig.settings)


class ExitAtTheSquareOff(Strategy):
    """Buys each symbol when its 10:05 bar closes and closes the position when its 10:29 bar
    closes: at 10:30, :func:`paper_config`'s square-off time."""

    name = "exit_at_the_square_off"

    def on_data(self, ctx: Context) -> None:
        at = f"{ctx.time:%H:%M}"
        for s in ctx.updated:
            if at == "10:06" and not ctx.qty(s):
                ctx.buy(s, 10, tag="entry")
            elif at == "10:30" and ctx.qty(s):
                ctx.close(s)


def test_an_exit_signalled_at_the_square_off_time_is_squared_off_in_backtest_paper_and_real(
    real_rig: Callable[..., RealRig],
    order_sim: OrderSim,
    paper_config: Callable[..., LiveConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The strategy's exit and the square-off fall on the same instant, 10:30: the strategy
    # decides on the bar that closes then, and the square-off, at the open of the next bar,
    # cancels what it placed before anything trades (a backtest's order). A real engine must
    # not send that exit to Fyers: the square-off closes the position, once.
    strategy = ExitAtTheSquareOff.name
    monkeypatch.setitem(registry.BUILTINS, strategy, ExitAtTheSquareOff)
    config = paper_config(strategy=strategy, params={})
    assert config.square_off == dtime(10, 30)
    rig = real_rig(UNTIL, strategy=strategy, params={})
    ticks = sim_ticks(order_sim, OPEN_AT, ist_epoch(MARKET_DAY, dtime(10, 33)))
    _real_session(rig, order_sim, ticks)
    real = paper_fills(rig.settings)
    minutes = [(s, f"{to_ist(ts):%H:%M}", side, q, tag) for s, ts, side, q, _, tag in real]
    assert minutes == [
        (A, "10:06", "BUY", 10, "entry"),
        (B, "10:06", "BUY", 10, "entry"),
        (A, "10:30", "SELL", 10, "square_off"),
        (B, "10:30", "SELL", 10, "square_off"),
    ]
    # the exits the strategy placed at 10:30 were recorded, cancelled and never sent
    assert _orders(rig.settings) == [
        (A, "BUY", 10, "FILLED", 10),
        (B, "BUY", 10, "FILLED", 10),
        (A, "SELL", 10, "CANCELLED", 0),
        (B, "SELL", 10, "CANCELLED", 0),
        (A, "SELL", 10, "FILLED", 10),
        (B, "SELL", 10, "FILLED", 10),
    ]
    assert [(r["side"], r["qty"]) for r in rig.sim_orders()] == [(1, 10)] * 2 + [(-1, 10)] * 2

    paper_settings = _paper_session(order_sim, rig, config, ticks, monkeypatch)
    assert paper_fills(paper_settings) == real
    assert _orders(paper_settings) == _orders(rig.settings)

    # and a backtest of the bars the real engine built
    data = {}
    for sym in PAPER_SYMBOLS:
        warm, built = stored_bars(rig.settings, sym), built_bars(rig.settings, sym)
        data[sym] = CandleArrays(
            *(np.concatenate((getattr(warm, f), getattr(built, f))) for f in FIELDS)
        )
    cfg = BacktestConfig(
        strategy,
        {},
        list(PAPER_SYMBOLS),
        config.resolution,
        get_calendar().previous_trading_day(MARKET_DAY),
        MARKET_DAY,
        mode="intraday",
        capital=config.capital,
        costs=True,
        entry_start=config.entry_start,
        entry_end=config.entry_end,
        square_off=config.square_off,
    )
    result = run_backtest(cfg, data=data)
    today = ist_epoch(MARKET_DAY)  # (the warm-up day traded too)
    backtest = [
        (f.symbol, f.ts, str(f.side), f.quantity, f.price, f.tag)
        for f in result.fills
        if f.ts >= today
    ]
    assert backtest == [(s, ts - ts % 60, side, q, p, tag) for s, ts, side, q, p, tag in real]
    assert [
        (o.symbol, str(o.side), o.quantity, str(o.status), o.filled_quantity)
        for o in result.orders
        if o.created_ts >= today
    ] == _orders(rig.settings)


def test_the_kill_switch_cancels_exits_and_blocks_until_unlocked(
    real_rig: Callable[..., RealRig], order_sim: OrderSim, webhook: Webhook
) -> None:
    rig = _opened(real_rig, *PAPER_SYMBOLS, notify=[webhook.url("hook-7f3a9c")])
    core, t0 = rig.core, T0
    core.place(A, Side.BUY, 10)
    low = round(order_sim.ltp(B, t0) * 0.97, 1)
    resting = core.place(B, Side.BUY, 5, limit=low)
    stop = core.place(
        A, Side.SELL, 10, stop=round(order_sim.ltp(A, t0) * 0.97, 1), reduce_only=True
    )
    rig.session.trader.commit(t0)
    rig.settle()
    rig.wait_for(
        lambda: resting.status is OrderStatus.PENDING and stop.status is OrderStatus.PENDING
    )
    assert core.portfolio.quantity(A) == 10
    assert rig.sim_net(A) == 10
    assert len(order_sim.exchange.open_orders()) == 2

    KillSwitch(rig.settings.data_dir).activate("trader pressed it", "cli")
    # the engine's next look (the runner looks 5 times a second) asks Fyers for all of it:
    # after that only Fyers' answers are awaited, no further look of the engine
    rig.look()
    rig.settle()
    assert not order_sim.exchange.open_orders()
    assert not any(order_sim.exchange.net_positions().values())
    assert core.portfolio.quantity(A) == 0 and not core.open_orders()
    assert resting.status is OrderStatus.CANCELLED and stop.status is OrderStatus.CANCELLED
    assert rig.engine.kill_switch.state().flattened
    before = order_sim.exchange.counters.order_requests
    refused = core.place(B, Side.BUY, 5)
    assert refused.status is OrderStatus.REJECTED and "kill switch" in refused.reject_reason
    rig.look()
    assert order_sim.exchange.counters.order_requests == before  # nothing sent

    rig.engine.kill_switch.unlock(UNLOCK_PHRASE, "cli")
    rig.look()
    allowed = rig.send(B, Side.BUY, 5)
    rig.settle()
    assert allowed.status is OrderStatus.FILLED
    rig.engine.close()  # sends what notices are queued
    titles = [m.json()["title"] for m in webhook.messages()]
    assert "[REAL] Fill" in titles and "[REAL] Kill switch" in titles
    jwt = load_valid_token(rig.settings).access_token
    assert all(jwt.encode() not in m.body for m in webhook.messages())


def test_an_exit_on_its_way_to_fyers_is_not_sent_again(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    # Fyers answers an order a moment after it is sent; until its fill is read, the position
    # still shows. The strategy's close, the square-off in the same second and the square-off
    # asked again at each look at the clock must not sell it again (each would open a short).
    rig = _opened(real_rig, A)
    core, trader = rig.core, rig.session.trader
    rig.send(A, Side.BUY, 10)
    rig.settle()
    assert core.portfolio.quantity(A) == rig.sim_net(A) == 10
    exit_order = core.ctx.close(A)
    assert exit_order is not None and exit_order.quantity == 10
    trader.commit(rig.market.now())  # sent; its fill not read yet
    assert core.portfolio.quantity(A) == 10
    assert core.ctx.close(A) is None
    trader.square_off_all(rig.market.now(), "square_off", only_intraday=True)
    trader.square_off_all(rig.market.now(), "square_off", only_intraday=True)
    rig.settle()
    assert exit_order.status is OrderStatus.FILLED
    assert core.portfolio.quantity(A) == rig.sim_net(A) == 0
    assert [(r["side"], r["qty"]) for r in rig.sim_orders()] == [(1, 10), (-1, 10)]
    assert [o[2] for o in rig.recorded()] == ["BUY", "SELL"]


def test_two_exits_racing_at_fyers_leave_nothing_open(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    # Fyers has no reduce-only for equities: a target limit and the strategy's close sent in
    # the same second both fill before either's cancel arrives. What the second opened the
    # other way is closed at once, and the log says why.
    rig = _opened(real_rig, A)
    core = rig.core
    rig.send(A, Side.BUY, 10)
    rig.settle()
    below = round(order_sim.ltp(A, T0) * 0.97, 1)  # a sell limit below the market fills at once
    target = core.place(A, Side.SELL, 10, limit=below, tag="target1", reduce_only=True)
    close = core.ctx.close(A)
    assert close is not None and close.quantity == 10
    rig.session.trader.commit(rig.market.now())
    rig.settle()
    rig.wait_for(lambda: target.status is OrderStatus.FILLED)
    rig.settle()
    assert close.status is OrderStatus.FILLED
    assert core.portfolio.quantity(A) == rig.sim_net(A) == 0
    assert [(r["side"], r["qty"]) for r in rig.sim_orders()] == [
        (1, 10),
        (-1, 10),
        (-1, 10),
        (1, 10),
    ]
    conn = sqlite3.connect(rig.settings.trading_db)
    try:
        warned = [
            m
            for (m,) in conn.execute(
                "SELECT message FROM pt_live_debug_log WHERE level = 'WARNING'"
            )
        ]
    finally:
        conn.close()
    assert any("filled beyond the position and left it short 10" in m for m in warned), warned


def test_a_target_asked_again_before_fyers_fill_is_read_buys_once(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = _opened(real_rig, A)
    core, trader = rig.core, rig.session.trader
    first = core.ctx.order_target(A, 10)
    assert first is not None and first.quantity == 10
    trader.commit(rig.market.now())  # sent; its fill not read yet
    assert core.portfolio.quantity(A) == 0 and core.ctx.expected_qty(A) == 10
    assert core.ctx.order_target(A, 10) is None
    rig.settle()
    assert first.status is OrderStatus.FILLED
    assert core.ctx.order_target(A, 10) is None
    assert core.portfolio.quantity(A) == rig.sim_net(A) == 10
    assert [(r["side"], r["qty"]) for r in rig.sim_orders()] == [(1, 10)]


def test_a_burst_of_orders_never_exceeds_ten_requests_a_second(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = _opened(real_rig, *PAPER_SYMBOLS, quantity=1)
    core, t0 = rig.core, T0
    far = {s: round(order_sim.ltp(s, t0) * 0.95, 1) for s in PAPER_SYMBOLS}
    placed = [
        core.place(PAPER_SYMBOLS[k % 2], Side.BUY, 1, limit=far[PAPER_SYMBOLS[k % 2]])
        for k in range(30)
    ]
    rig.session.trader.commit(t0)
    for o in placed:  # cancel them all again: place + cancel in one burst
        core.cancel(o)
    rig.wait_for(lambda: all(o.status is OrderStatus.CANCELLED for o in placed), 30.0)
    counters = order_sim.exchange.counters
    assert counters.order_requests == 60
    assert counters.max_per_second() <= 8  # real.orders_per_second (SEBI's threshold: 10)
    assert counters.snapshot()["rate_refusals"] == 0


def test_a_lost_reply_is_found_by_its_tag_and_never_sent_again(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = _opened(real_rig, A)
    core = rig.core
    order_sim.server.faults.set(order_reply_lost=1)
    order = rig.send(A, Side.BUY, 10)
    rig.settle()
    assert order.status is OrderStatus.FILLED
    assert len(order_sim.exchange.order_rows()) == 1
    assert core.portfolio.quantity(A) == rig.sim_net(A) == 10


def test_a_late_rejection_and_a_partial_fill_are_booked(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = _opened(real_rig, A)
    core, t0 = rig.core, T0
    order_sim.server.faults.set(order_late_reject=1)
    late = rig.send(A, Side.BUY, 10)
    rig.wait_for(lambda: late.status is OrderStatus.REJECTED)
    assert late.reject_reason and core.portfolio.quantity(A) == 0

    # a partial fill: more than the minute's share of the volume
    cap = order_sim.exchange.market.minute_volume(order_sim.inst(A), t0) // 10
    big = rig.send(A, Side.BUY, cap + 50, limit=round(order_sim.ltp(A, t0) * 1.01, 1))
    rig.wait_for(lambda: big.status is OrderStatus.PARTIALLY_FILLED)
    assert 0 < big.filled_quantity < big.quantity
    assert core.portfolio.quantity(A) == rig.sim_net(A) == big.filled_quantity
    core.cancel(big)
    rig.wait_for(lambda: big.status is OrderStatus.CANCELLED)
    assert core.portfolio.quantity(A) == rig.sim_net(A)


def test_a_resting_protected_market_order_is_booked_when_it_fills(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = _opened(real_rig, A)
    core, t0 = rig.core, T0
    order_sim.server.faults.set(frozen_symbols=[A])  # at a circuit: nobody trades with it
    order = rig.send(A, Side.BUY, 10)
    rig.wait_for(lambda: order.status is OrderStatus.PENDING)
    (row,) = rig.sim_orders()
    assert row["type"] == 1 and row["limitPrice"] > order_sim.ltp(A, t0)  # a protected limit
    assert core.portfolio.quantity(A) == 0 and rig.sim_net(A) == 0
    order_sim.server.faults.set(frozen_symbols=[])
    t1 = t0 + 60
    rig.at(t1)
    rig.wait_for(lambda: order.status is OrderStatus.FILLED)
    assert core.portfolio.quantity(A) == rig.sim_net(A) == 10


def test_an_unknown_outcome_holds_entries_until_the_orderbook_settles_it(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = _opened(real_rig, A)
    core, t0 = rig.core, T0
    # the place and every look-up of its tag fail: nothing proves what happened
    order_sim.server.faults.set(http_5xx=7)
    order = rig.send(A, Side.BUY, 10)
    rig.wait_for(lambda: order.status is OrderStatus.UNKNOWN)
    halted = rig.session.trader.risk.halted
    assert "unknown at Fyers" in halted and order.id in halted
    refused = core.place(B, Side.BUY, 5)
    assert refused.status is OrderStatus.REJECTED and "unknown at Fyers" in refused.reject_reason
    assert order_sim.exchange.counters.snapshot()["kinds"].get("place", 0) == 0
    # a complete orderbook read 30 s (monotonic) after the unknown reply does not show it: it
    # did not reach Fyers
    rig.at(t0 + 45)
    rig.mono.t += 30  # and the next periodic read is due
    rig.wait_for(lambda: order.status is OrderStatus.REJECTED)
    assert "never showed it" in order.reject_reason
    assert rig.session.trader.risk.halted == ""
    assert order_sim.exchange.counters.order_requests == 0  # and it was never sent again


def test_a_fill_the_order_socket_never_told_is_booked_from_the_periodic_read(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = _opened(real_rig, A)
    core = rig.core
    reads = rig.broker.reads
    order_sim.server.faults.set(order_socket_silent=True)  # connected, and says nothing
    order = rig.send(A, Side.BUY, 10)
    rig.wait_for(lambda: order.status is OrderStatus.FILLED)  # each look: 0.2 s of monotonic
    assert rig.broker.reads > reads
    assert core.portfolio.quantity(A) == rig.sim_net(A) == 10
    (fill,) = [f for f in paper_fills(rig.settings) if f[0] == A]
    assert fill[3] == 10


def test_a_position_fyers_shows_and_we_do_not_stops_trading_and_flattens_the_account(
    real_rig: Callable[..., RealRig], order_sim: OrderSim
) -> None:
    rig = _opened(real_rig, *PAPER_SYMBOLS)
    core = rig.core
    mine = rig.send(A, Side.BUY, 10)
    rig.settle()
    assert mine.status is OrderStatus.FILLED
    # someone trades on the account by hand, in a symbol this setup trades
    reply = order_sim.client.place_order(data=order_payload(B, qty=5, orderTag="byhand"))
    assert reply["s"] == "ok", reply
    # two complete reads in a row show it: trading stops, says why, and Fyers' view is closed
    rig.wait_for(lambda: rig.engine.kill_switch.state().active)
    state = rig.engine.kill_switch.state()
    assert state.source == "engine" and f"{B}: ours +0, Fyers +5" in state.reason
    assert "reconciliation" in rig.session.trader.risk.halted
    rig.wait_for(
        lambda: (
            not order_sim.exchange.open_orders()
            and not any(order_sim.exchange.net_positions().values())
        )
    )
    refused = core.place(A, Side.BUY, 10)
    assert refused.status is OrderStatus.REJECTED
