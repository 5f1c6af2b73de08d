"""Fixtures for the live engine: a simulator playing the next trading day from before the open
at high speed, a data directory ready for paper trading (token file, symbol master, a previous
day of 1-minute candles for the warm-up), and a small live config.

* ``paper_sim``: a started simulator whose REST and market clocks are one
  :class:`~fyerstrade.sim.datasocket.MarketClock` starting at :data:`PAPER_START` (09:05 IST of
  the next trading day) at :data:`PAPER_SPEED`; ``FYERSTRADE_FYERS_URL`` points at it.
* ``paper_settings``: settings for it, with the token file, the symbol master and the warm-up
  candles of :data:`PAPER_SYMBOLS` stored.
* ``paper_config(**changes)``: a validated :class:`~fyerstrade.live.config.LiveConfig` for
  ``sma_crossover`` 3/8 on :data:`PAPER_SYMBOLS`, intraday, fixed quantity, no slippage.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import time as dtime
from typing import Any

import numpy as np
import pytest

from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings, load_settings
from fyerstrade.data.resample import resample
from fyerstrade.domain import Resolution
from fyerstrade.fyers.feed import FeedStatus
from fyerstrade.live.config import LiveConfig, live_config_from_dict
from fyerstrade.sim import DEFAULT_APP_ID, SimServer
from fyerstrade.sim.datasocket import hub_for
from fyerstrade.store.candles import load_candles
from fyerstrade.store.db import open_historical
from plugins.datasocket import MARKET_DAY, clocked_sim, market_year_calendar

PAPER_START = ist_epoch(MARKET_DAY, dtime(9, 5))
PAPER_SPEED = 480.0  # eight market minutes per wall second
PAPER_SYMBOLS = ("NSE:SBIN-EQ", "NSE:RELIANCE-EQ")


class Mono:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class LiveFeed:
    """What the runner reads of a feed: live, no gap open."""

    status: FeedStatus = FeedStatus.LIVE
    gap_open: bool = False


@pytest.fixture
def paper_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with clocked_sim(
        monkeypatch, PAPER_START, PAPER_SPEED, per_second=50, per_minute=3000
    ) as server:
        yield server


def prepare_data_dir(sim: SimServer, settings: Settings, symbols: tuple[str, ...]) -> None:
    """Token file, symbol master and the previous trading day's 1-minute candles of
    ``symbols`` (none: no candles)."""
    from fyerstrade.candles import CandleArrays
    from fyerstrade.data.symbols import refresh_symbol_master
    from fyerstrade.fyers.client import FyersClient
    from fyerstrade.fyers.tokens import TokenRecord, save_token
    from fyerstrade.store.candles import upsert_candles
    from fyerstrade.store.db import init_all, open_historical
    from plugins.sim import sdk_login

    market_year_calendar(settings.data_dir)
    init_all(settings)
    jwt = sdk_login(sim)
    save_token(
        settings.token_file,
        TokenRecord.from_access_token(jwt, DEFAULT_APP_ID, now=time.time()),
    )
    refresh_symbol_master(settings)
    if not symbols:
        return
    client = FyersClient(settings, app_id=DEFAULT_APP_ID, access_token=jwt)
    prev = get_calendar().previous_trading_day(MARKET_DAY)
    lo, hi = ist_epoch(prev, dtime(9, 15)), ist_epoch(prev, dtime(15, 29))
    conn = open_historical(settings)
    try:
        for sym in symbols:
            rows = client.history(sym, Resolution.M1, lo, hi)
            upsert_candles(conn, sym, Resolution.M1, CandleArrays.from_rows(rows))
    finally:
        conn.close()


@pytest.fixture
def paper_settings(paper_sim: SimServer) -> Settings:
    settings = load_settings(env_file=None)
    prepare_data_dir(paper_sim, settings, PAPER_SYMBOLS)
    hub_for(paper_sim.state).clock.set(PAPER_START)  # the preparation took market time
    return settings


@pytest.fixture
def paper_config() -> Callable[..., LiveConfig]:
    def make(**changes: Any) -> LiveConfig:
        data: dict[str, Any] = {
            "strategy": "sma_crossover",
            "params": {"fast": 3, "slow": 8},
            "symbols": list(PAPER_SYMBOLS),
            "resolution": "1",
            "mode": "intraday",
            "capital": 1_000_000,
            "quantity": 10,
            "costs": True,
            "entry_start": "09:15",
            "entry_end": "10:20",
            "square_off": "10:30",
            "warmup_bars": 200,
        }
        data.update(changes)
        return live_config_from_dict(data).validated()

    return make


FIELDS = ("ts", "open", "high", "low", "close", "volume")


def built_bars(settings: Settings, symbol: str) -> CandleArrays:
    conn = sqlite3.connect(settings.live_db)
    rows = conn.execute(
        "SELECT ts, open, high, low, close, volume FROM live_bars WHERE symbol = ? ORDER BY ts",
        (symbol,),
    ).fetchall()
    conn.close()
    return CandleArrays.from_rows(rows)


def stored_bars(
    settings: Settings, symbol: str, resolution: Resolution = Resolution.M1
) -> CandleArrays:
    conn = open_historical(settings)
    try:
        return load_candles(conn, symbol, resolution, 0, ist_epoch(MARKET_DAY) - 1)
    finally:
        conn.close()


def paper_fills(settings: Settings) -> list[tuple[str, int, str, int, float, str]]:
    conn = sqlite3.connect(settings.trading_db)
    rows = conn.execute(
        "SELECT symbol, ts, side, quantity, price, tag FROM live_paper_trades ORDER BY id"
    ).fetchall()
    conn.close()
    return [(s, int(ts), side, q, p, tag) for s, ts, side, q, p, tag in rows]


FINAL = ("FILLED", "CANCELLED", "REJECTED", "EXPIRED")


def assert_orders_recorded(settings: Settings) -> list[tuple[object, ...]]:
    """Every order of the paper session is in ``live_orders`` with a final status, and its
    events in ``live_order_events`` tell the same story: accepted first, its fills adding up
    to the filled quantity and average price, the last event the final status. Every fill's
    order is there. Returns the orders (symbol, created minute, side, quantity, type, tag,
    status, filled quantity), in the order they were placed."""
    conn = sqlite3.connect(settings.trading_db)
    orders = conn.execute(
        "SELECT order_id, symbol, created_ts, side, quantity, order_type, tag, status,"
        " filled_quantity, avg_fill_price FROM live_orders ORDER BY rowid"
    ).fetchall()
    events: dict[str, list[tuple[object, ...]]] = {}
    for oid, kind, qty, price in conn.execute(
        "SELECT order_id, kind, quantity, price FROM live_order_events ORDER BY order_id, seq"
    ):
        events.setdefault(oid, []).append((kind, qty, price))
    filled: dict[str, int] = {}
    for oid, qty in conn.execute("SELECT order_id, quantity FROM live_paper_trades"):
        filled[oid] = filled.get(oid, 0) + qty
    conn.close()
    assert orders, "no order recorded"
    assert set(filled) <= {o[0] for o in orders}, "a fill without its order in live_orders"
    assert set(events) == {o[0] for o in orders}, "an order without events (or events alone)"
    for oid, *_, status, filled_qty, avg in orders:
        story = events[oid]
        assert status in FINAL, (oid, status)
        assert story[0][0] == "accepted", (oid, story)
        assert story[-1][0] == str(status).lower(), (oid, status, story)
        execs = [(q, p) for k, q, p in story if k in ("partially_filled", "filled")]
        assert sum(q for q, _ in execs) == filled_qty == filled.get(oid, 0), (oid, story)
        if filled_qty:
            vwap = sum(q * p for q, p in execs) / filled_qty
            assert abs(vwap - avg) < 1e-6, (oid, story, avg)
    return [
        (s, ts - ts % 60, side, q, t, tag, st, fq)
        for _, s, ts, side, q, t, tag, st, fq, _ in orders
    ]


def assert_trades_like_a_backtest(
    settings: Settings, config: LiveConfig, *, min_fills: int
) -> None:
    """The live fills recorded in ``settings``' trading log equal those of a backtest of
    ``config`` over the stored warm-up bars plus the 1-minute bars the engine built (resampled
    to the strategy's resolution, as a backtest of stored 1-minute candles would)."""
    live = paper_fills(settings)
    assert len(live) >= min_fills, live
    open_ts = ist_epoch(MARKET_DAY, dtime(9, 15))
    data: dict[str, CandleArrays] = {}
    for sym in PAPER_SYMBOLS:
        built = built_bars(settings, sym)
        # every minute of the session so far, once, 09:15 onwards
        assert built.ts[0] == open_ts and np.all(np.diff(built.ts) == 60), sym
        res = config.resolution
        if res is not Resolution.M1:
            built = resample(built, Resolution.M1, res)
        warm = stored_bars(settings, sym, res)
        data[sym] = CandleArrays(
            *(np.concatenate((getattr(warm, f), getattr(built, f))) for f in FIELDS)
        )
    result = backtest_of(config, data)
    backtest = [
        (f.symbol, f.ts, str(f.side), f.quantity, f.price, f.tag)
        for f in result.fills
        if f.ts >= open_ts
    ]
    # same trades: symbol, minute, side, quantity, price, reason (a live fill is stamped with
    # its tick's time inside the minute the backtest stamps with the bar's open)
    assert [(s, ts - ts % 60, side, q, p, tag) for s, ts, side, q, p, tag in live] == backtest
    # and the same orders, each recorded with its final status and the events that led there
    live_orders = assert_orders_recorded(settings)
    backtest_orders = [
        (o.symbol, o.created_ts - o.created_ts % 60, str(o.side), o.quantity,
         str(o.order_type), o.tag, str(o.status), o.filled_quantity)
        for o in result.orders
        if o.created_ts >= open_ts
    ]  # fmt: skip
    assert live_orders == backtest_orders


def backtest_of(config: LiveConfig, data: dict[str, CandleArrays]) -> BacktestResult:
    """A backtest of the live ``config`` (``sma_crossover`` on :data:`PAPER_SYMBOLS`) over
    ``data``, from the previous trading day to :data:`MARKET_DAY`."""
    cfg = BacktestConfig(
        "sma_crossover",
        dict(config.params),
        list(PAPER_SYMBOLS),
        config.resolution,
        get_calendar().previous_trading_day(MARKET_DAY),
        MARKET_DAY,
        mode="intraday",
        capital=config.capital,
        quantity=config.quantity,
        costs=True,
        entry_start=config.entry_start,
        entry_end=config.entry_end,
        square_off=config.square_off,
        risk=config.risk,
    )
    return run_backtest(cfg, data=data)


def loss_reached_holding(sim: SimServer, config: LiveConfig) -> float:
    """A daily-loss limit that the simulated day's session first reaches at a bar's close while
    it holds a position (so the halt has something to close), before the square-off: from a
    backtest of ``config`` (without risk limits) over the simulator's own 1-minute bars of the
    previous day and :data:`MARKET_DAY`. (A fixed limit is reached while flat on some days:
    right after a losing exit.) Midway between the loss there and the worst loss before it."""
    from fyerstrade.sim.universe import ROOTS

    assert config.resolution is Resolution.M1 and config.risk.max_daily_loss is None
    roots = {r.symbol: r for r in ROOTS}
    market = sim.state.market
    prev = get_calendar().previous_trading_day(MARKET_DAY)
    data = {}
    for sym in PAPER_SYMBOLS:
        days = [market.minute_bars(roots[sym], d) for d in (prev, MARKET_DAY)]
        data[sym] = CandleArrays(*(np.concatenate([getattr(b, f) for b in days]) for f in FIELDS))
    result = backtest_of(config, data)
    open_ts = ist_epoch(MARKET_DAY, dtime(9, 15))
    last = ist_epoch(MARKET_DAY, config.square_off) - 60
    fills = sorted((f.ts, f.symbol, f.quantity if str(f.side) == "BUY" else -f.quantity)
                   for f in result.fills)  # fmt: skip
    start = None
    worst = 0.0
    for ts, equity in zip(result.equity_ts.tolist(), result.equity.tolist(), strict=True):
        if ts < open_ts:
            start = equity
            continue
        if ts >= last or start is None:
            break
        held: dict[str, int] = {}
        for fts, sym, q in fills:  # fills at or before this bar's open: held at its close
            if fts <= ts:
                held[sym] = held.get(sym, 0) + q
        loss = start - equity
        if any(held.values()) and loss >= worst + 1.0:
            return round((worst + loss) / 2, 2)
        worst = max(worst, loss)
    raise AssertionError(f"on {MARKET_DAY} no loss is reached while holding before the square-off")
