"""One trading core: the live engine trades a simulated session through the official SDK's data
socket, and a backtest over the bars it built makes the same trades."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import time as dtime

import numpy as np

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.live.clock import market_clock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.live.status import read_status
from fyerstrade.store.candles import CandleArrays, load_candles
from fyerstrade.store.db import open_historical
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import PAPER_SYMBOLS

FIELDS = ("ts", "open", "high", "low", "close", "volume")


def built_bars(settings: Settings, symbol: str) -> CandleArrays:
    conn = sqlite3.connect(settings.live_db)
    rows = conn.execute(
        "SELECT ts, open, high, low, close, volume FROM live_bars WHERE symbol = ? ORDER BY ts",
        (symbol,),
    ).fetchall()
    conn.close()
    cols = list(zip(*rows, strict=True))
    return CandleArrays(
        np.array(cols[0], np.int64),
        *(np.array(c, np.float64) for c in cols[1:5]),
        np.array(cols[5], np.int64),
    )


def stored_bars(settings: Settings, symbol: str) -> CandleArrays:
    conn = open_historical(settings)
    try:
        return load_candles(conn, symbol, Resolution.M1, 0, ist_epoch(MARKET_DAY) - 1)
    finally:
        conn.close()


def paper_fills(settings: Settings) -> list[tuple[str, int, str, int, float, str]]:
    conn = sqlite3.connect(settings.trading_db)
    rows = conn.execute(
        "SELECT symbol, ts, side, quantity, price, tag FROM live_paper_trades ORDER BY id"
    ).fetchall()
    conn.close()
    return [(s, int(ts), side, q, p, tag) for s, ts, side, q, p, tag in rows]


def test_live_session_trades_like_a_backtest_of_the_bars_it_built(
    paper_settings: Settings, paper_config: Callable[..., LiveConfig]
) -> None:
    config = paper_config()
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

    live = paper_fills(paper_settings)
    assert len(live) >= 4, live
    open_ts = ist_epoch(MARKET_DAY, dtime(9, 15))
    data: dict[str, CandleArrays] = {}
    for sym in PAPER_SYMBOLS:
        built = built_bars(paper_settings, sym)
        # every minute of the session so far, once, 09:15 onwards
        assert built.ts[0] == open_ts and np.all(np.diff(built.ts) == 60), sym
        warm = stored_bars(paper_settings, sym)
        data[sym] = CandleArrays(
            *(np.concatenate((getattr(warm, f), getattr(built, f))) for f in FIELDS)
        )
    prev = get_calendar().previous_trading_day(MARKET_DAY)
    cfg = BacktestConfig(
        "sma_crossover",
        dict(config.params),
        list(PAPER_SYMBOLS),
        Resolution.M1,
        prev,
        MARKET_DAY,
        mode="intraday",
        capital=config.capital,
        quantity=config.quantity,
        costs=True,
        entry_start=config.entry_start,
        entry_end=config.entry_end,
        square_off=config.square_off,
    )
    result = run_backtest(cfg, data=data)
    backtest = [
        (f.symbol, f.ts, str(f.side), f.quantity, f.price, f.tag)
        for f in result.fills
        if f.ts >= open_ts
    ]
    # same trades: symbol, minute, side, quantity, price, reason (a live fill is stamped with
    # its tick's time inside the minute the backtest stamps with the bar's open)
    assert [(s, ts - ts % 60, side, q, p, tag) for s, ts, side, q, p, tag in live] == backtest
