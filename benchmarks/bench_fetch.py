"""History fetch against the simulator at its default limits (10/s, 200/min): wall time of a plan of
N requests divided by the rate-limit floor, and the simulator's 429 count (target: ratio <= 1.15,
zero 429s).

The plan is N one-day 5-minute requests (small answers, so the figure measures pacing and
commits, not the simulator's candle generation). ``FYERSTRADE_BENCH_FETCH_N`` sets N (default 60;
above 200 the per-minute floor applies and the run takes minutes).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.data.fetch_plan import FetchPlan, FetchRequest, SeriesPlan
from fyerstrade.data.history import FetchSummary, execute_plan
from fyerstrade.demo import DemoOptions, demo_settings, login_to_simulator
from fyerstrade.domain import Resolution
from fyerstrade.fyers.client import FyersClient
from fyerstrade.fyers.ratelimit import PER_MINUTE, PER_SECOND, RateLimiter
from fyerstrade.sim import SimConfig, SimServer
from fyerstrade.store.db import open_historical

SIM_PER_SECOND, SIM_PER_MINUTE = 10, 200
NOW = ist_epoch(date(2026, 11, 20)) + 16 * 3600  # 16:00 IST, after close


def floor_seconds(n: int, per_second: int, per_minute: int) -> tuple[float, float]:
    """Least time for n requests under each window: (per-second floor, per-minute floor)."""
    per_s = n / per_second
    per_m = 60.0 * math.floor((n - 1) / per_minute) if n > per_minute else 0.0
    return per_s, per_m


def _timed_fetch(plan: FetchPlan, per_second: int | None) -> tuple[float, FetchSummary, int]:
    """Execute ``plan`` against a fresh simulator; ``per_second`` replaces our limiter's rate."""
    cal = get_calendar()
    server = SimServer(SimConfig(port=0, seed=42, clock=lambda: NOW))
    server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            options = DemoOptions(data_dir=Path(tmp) / "data", log_dir=Path(tmp) / "logs")
            settings = demo_settings(options, server.url)
            login_to_simulator(settings)
            limiter = None if per_second is None else RateLimiter(per_second=per_second)
            client = FyersClient.from_settings(settings, rate_limiter=limiter)
            conn = open_historical(settings)
            time.sleep(1.1)  # let the login requests leave the simulator's 1-second window
            t0 = time.perf_counter()
            summary = execute_plan(conn, client, plan, calendar=cal, now=NOW)
            wall = time.perf_counter() - t0
            conn.close()
            return wall, summary, server.stats.rejected_429
    finally:
        server.stop()


def run() -> None:
    n = int(os.environ.get("FYERSTRADE_BENCH_FETCH_N", "60"))
    cal = get_calendar()
    days = cal.trading_days(date(2024, 1, 1), date(2026, 11, 20))[-n:]
    requests_ = tuple(
        FetchRequest(
            "NSE:SBIN-EQ",
            Resolution.M5,
            int(cal.bar_times(d, Resolution.M5)[0]),
            int(cal.bar_times(d, Resolution.M5)[-1]) + 299,
            75,
            0,
        )
        for d in days
    )
    plan = FetchPlan((SeriesPlan("NSE:SBIN-EQ", Resolution.M5, requests_, n * 75, n * 75, 0),))

    wall, summary, rejected = _timed_fetch(plan, None)
    per_s, per_m = floor_seconds(n, SIM_PER_SECOND, SIM_PER_MINUTE)
    floor = max(per_s, per_m)
    own_s, own_m = floor_seconds(n, PER_SECOND, PER_MINUTE)
    print(f"plan: {n} requests (one day of 5-minute bars each); simulator limits 10/s, 200/min")
    print(f"sent {summary.requests} HTTP requests, {summary.candles_added:,} candles added")
    print(f"wall time                      {wall:8.2f} s")
    print(f"floor N/10 (per second)        {per_s:8.2f} s")
    if n > SIM_PER_MINUTE:
        print(f"floor per minute (200/min)     {per_m:8.2f} s")
    print(f"wall / floor                   {wall / floor:8.2f}   (target <= 1.15)")
    print(f"simulator 429 rejections       {rejected:8d}   (target 0)")
    own_floor = max(own_s, own_m)
    print(
        f"our limiter runs at {PER_SECOND}/s and {PER_MINUTE}/min (margin under Fyers' limits): "
        f"its own floor {own_floor:.2f} s, wall / that floor {wall / own_floor:.2f}"
    )
    if os.environ.get("FYERSTRADE_BENCH_FETCH_WHATIF", "1") != "0":
        wall9, _, rejected9 = _timed_fetch(plan, 9)
        print(
            f"what-if, limiter at 9/s: wall {wall9:.2f} s, wall / floor {wall9 / floor:.2f}, "
            f"429s {rejected9}"
        )
