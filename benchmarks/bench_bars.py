"""Bar builder throughput: ticks per second into 1-minute bars, single thread; and the feed's
per-tick parse of an SDK message (the work done on the SDK callback thread).

Target (issue 6 C): at least 50,000 ticks/s. Two figures: ``on_tick`` with ``Tick`` objects as the
feed delivers them, and the allocation-free ``update`` path; plus a naive pandas resample of the
same ticks as the peer ratio (what a per-minute ``DataFrame`` approach would cost).
"""

from __future__ import annotations

import random
import time

import pandas as pd

from fyerstrade.domain import Tick
from fyerstrade.fyers.feed import tick_from_message
from fyerstrade.live.bars import BarBuilder

_N_TICKS = 300_000
_SYMBOLS = [f"NSE:SYM{i:03d}-EQ" for i in range(50)]
_T0 = 1_773_114_300  # 2026-03-10 09:15 IST


def _ticks() -> list[Tick]:
    rng = random.Random(7)
    cum = dict.fromkeys(_SYMBOLS, 0)
    price = dict.fromkeys(_SYMBOLS, 100.0)
    out: list[Tick] = []
    for i in range(_N_TICKS):
        sym = _SYMBOLS[i % len(_SYMBOLS)]
        qty = rng.randint(1, 50)
        cum[sym] += qty
        price[sym] = round(price[sym] + rng.choice((-0.05, 0.0, 0.05)), 2)
        out.append(Tick(sym, _T0 + i // 200, price[sym], cum[sym], last_qty=qty))
    return out


def run() -> None:
    ticks = _ticks()

    builder = BarBuilder()
    t0 = time.perf_counter()
    bars = 0
    for t in ticks:
        if builder.on_tick(t) is not None:
            bars += 1
    bars += len(builder.flush())
    dt_tick = time.perf_counter() - t0

    raw = [(t.symbol, t.ts, t.ltp, t.volume, t.last_qty) for t in ticks]
    builder = BarBuilder()
    update = builder.update
    t0 = time.perf_counter()
    for sym, ts, ltp, vol, qty in raw:
        update(sym, ts, ltp, vol, qty)
    builder.flush()
    dt_update = time.perf_counter() - t0

    frame = pd.DataFrame(raw, columns=["symbol", "ts", "ltp", "cum", "qty"])
    t0 = time.perf_counter()
    frame["minute"] = frame["ts"] - frame["ts"] % 60
    g = frame.groupby(["symbol", "minute"])
    ohlc = g["ltp"].agg(["first", "max", "min", "last"])
    ohlc["cum"] = g["cum"].max()
    dt_pandas = time.perf_counter() - t0

    messages = [
        {
            "ltp": t.ltp,
            "vol_traded_today": t.volume,
            "last_traded_time": t.ts,
            "exch_feed_time": t.ts,
            "bid_size": 100,
            "ask_size": 100,
            "bid_price": t.ltp - 0.05,
            "ask_price": t.ltp + 0.05,
            "last_traded_qty": t.last_qty,
            "type": "sf",
            "symbol": t.symbol,
        }
        for t in ticks
    ]
    t0 = time.perf_counter()
    for m in messages:
        tick_from_message(m, recv_ns=1)
    dt_parse = time.perf_counter() - t0

    n = len(ticks)
    print(f"ticks: {n:,} over {len(_SYMBOLS)} symbols -> {bars:,} one-minute bars")
    print(f"feed.tick_from_message (SDK dict -> Tick, callback thread): {n / dt_parse:12,.0f}/s")
    print(f"BarBuilder.on_tick : {n / dt_tick:12,.0f} ticks/s  (target >= 50,000)")
    print(f"BarBuilder.update  : {n / dt_update:12,.0f} ticks/s")
    print(
        f"pandas groupby (batch, not incremental; {len(ohlc):,} groups): "
        f"{n / dt_pandas:12,.0f} ticks/s; on_tick runs at {dt_pandas / dt_tick:.2f}x its speed"
    )
