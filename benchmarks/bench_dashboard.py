"""Dashboard speed in a real browser (Debian's Chromium through Playwright).

Measured, in wall-clock seconds as a user would feel them:

- first page load: a fresh browser session opening the dashboard until the Backtest form's Run
  button is drawn (the dashboard process is already up, as ``fyerstrade dashboard`` leaves it);
- run to results: clicking Run until the metric cards, the equity, drawdown and price charts and
  the trade table are all drawn, for one symbol × six months of 1-minute bars (about 46,000 bars),
  sma_crossover with its defaults, costs on. Measured twice: the first click also makes the
  browser load plotly.js (the Backtest form has no chart), the second is the steady state.
  The engine's own share (from the page's "saved" message) is printed alongside.

Targets (issue 5): page load < 2 s, results < 3 s on the 2-core machine.
Data: a temporary data dir filled from the simulator (clock pinned to 2026-11-20 16:00 IST).
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fyerstrade.dashboard.launcher import (
    DashboardSpec,
    free_port,
    start_dashboard,
    stop_process,
    wait_until_up,
)
from fyerstrade.demo import DemoOptions, demo_settings, fill_store
from fyerstrade.sim import SimConfig, SimServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SYMBOL = "NSE:SBIN-EQ"
TODAY = date(2026, 11, 20)
SIM_NOW = int(datetime(2026, 11, 20, 16, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp())
PAGE_TARGET = 2.0
RUN_TARGET = 3.0
TIMEOUT_MS = 120_000


def _fill(root: Path) -> Path:
    sim = SimServer(SimConfig(port=0, clock=lambda: SIM_NOW, per_minute=1_000))
    url = sim.start()
    try:
        options = DemoOptions(
            data_dir=root / "data", log_dir=root / "logs", symbols=(SYMBOL,), months=6,
            open_browser=False,
        )  # fmt: skip
        t0 = time.perf_counter()
        fill_store(demo_settings(options, url), options, TODAY, lambda _: None)
        print(
            f"fill from simulator (1 symbol x 6 months x 1m/5m/D): {time.perf_counter() - t0:.1f} s"
        )
    finally:
        sim.stop()
    return options.data_dir


def _measure(url: str) -> tuple[float, list[float], int, list[float]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            t0 = time.perf_counter()
            page.goto(url)
            run_button = page.get_by_role("button", name="Run backtest")
            run_button.wait_for()
            page_load = time.perf_counter() - t0
            page.get_by_text("Stored 1 minute candles").wait_for()
            runs: list[float] = []
            engine: list[float] = []
            bars = 0
            for i in range(2):
                t0 = time.perf_counter()
                run_button.click()
                page.get_by_test_id("stMetric").first.wait_for()
                page.get_by_test_id("stPlotlyChart").nth(2).wait_for()
                page.locator(".js-plotly-plot").nth(2).wait_for()
                page.get_by_test_id("stDataFrame").last.wait_for()
                saved = page.get_by_text("saved:").nth(0)
                saved.wait_for()
                runs.append(time.perf_counter() - t0)
                text = saved.inner_text()
                bars = int(text.split(" over ")[1].split(" bars")[0].replace(",", ""))
                engine.append(float(text.split(" bars in ")[1].split(" s")[0]))
                if i == 0:
                    # the next click must wait for a new result, not find this one
                    page.reload()
                    run_button = page.get_by_role("button", name="Run backtest")
                    run_button.wait_for()
                    page.get_by_text("Stored 1 minute candles").wait_for()
            return page_load, runs, bars, engine
        finally:
            browser.close()


def run() -> None:
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} is not installed (make browser)")
        return
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        root = Path(tmp)
        data_dir = _fill(root)
        spec = DashboardSpec(data_dir=data_dir, port=free_port(), log_dir=root / "logs")
        t0 = time.perf_counter()
        proc = start_dashboard(spec)
        try:
            wait_until_up(spec.url, proc, timeout=120)
            print(f"dashboard process up (imports warmed): {time.perf_counter() - t0:.1f} s")
            page_load, runs, bars, engine = _measure(spec.url)
        finally:
            stop_process(proc)
    print(f"first page load:            {page_load:5.2f} s  (target < {PAGE_TARGET:.0f} s, "
          f"{page_load / PAGE_TARGET:.2f}x of target)")  # fmt: skip
    for i, r in enumerate(runs, 1):
        print(f"click Run -> results drawn #{i}: {r:5.2f} s  (target < {RUN_TARGET:.0f} s, "
              f"{r / RUN_TARGET:.2f}x of target; {bars:,} one-minute bars; "
              f"engine {engine[i - 1]:.2f} s of it)")  # fmt: skip
