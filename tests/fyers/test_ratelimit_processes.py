"""One Fyers rate budget for the whole data directory: three ``data fetch`` processes at once
against the simulator (10/s, 200/min like Fyers) draw no 429 and the shared daily count is
exactly the number of requests the simulator received."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from fyerstrade.config import Settings
from fyerstrade.fyers.ratelimit import BUDGET_FILE
from fyerstrade.sim import SimServer

pytestmark = pytest.mark.e2e

CLI = "from fyerstrade.cli import run; run()"
# Each process fetches daily candles of two symbols since 2017: ten 366-day requests a symbol.
SYMBOLS = (
    ("NSE:SBIN-EQ", "NSE:TCS-EQ"),
    ("NSE:INFY-EQ", "NSE:RELIANCE-EQ"),
    ("NSE:ITC-EQ", "NSE:HDFCBANK-EQ"),
)


def test_three_fetchers_share_one_pacer_and_one_daily_count(
    sim: SimServer, fetch_login: Callable[[str], Settings]
) -> None:
    settings = fetch_login(sim.url)
    sim.stats.reset()
    procs = []
    for pair in SYMBOLS:
        argv = [sys.executable, "-c", CLI, "data", "fetch", "-r", "D", "--from", "2017-07-03"]
        argv += ["--to", "2026-11-20"]  # (not today: a year past the holiday lists is refused)
        for symbol in pair:
            argv += ["-s", symbol]
        pipe = subprocess.PIPE
        proc = subprocess.Popen([*argv, "--json"], stdout=pipe, stderr=pipe, text=True)
        procs.append(proc)
    summaries = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        summaries.append(json.loads(out.strip().splitlines()[-1]))

    sent = sum(s["requests"] for s in summaries)
    assert sent >= 50  # enough that three unshared pacers (27 a second) would be refused
    assert sim.stats.rejected_429 == 0
    assert len(sim.stats.history) == sent
    budget = json.loads((settings.data_dir / BUDGET_FILE).read_text())
    assert budget["count"] == sent  # one exact daily count across the processes
    assert budget["in_flight"] == {}
    leftovers = [p.name for p in settings.data_dir.iterdir() if p.name.startswith(".budget-")]
    assert leftovers == []
