"""The Paper trading page in a real browser: Chromium (Debian's, through Playwright) against
``fyerstrade dashboard`` in a subprocess, the live engine in another, the simulator in this one.

The simulator's market stands at 10:00 IST of the next trading day until the engine the
dashboard started is running, then plays at 240× (four market minutes per wall second). The
test logs in through the SDK (token file), writes a live config (``sma_crossover``
with short averages and a fixed quantity, so it trades within a few simulated minutes), clicks
Start, waits until a trade row appears, clicks Stop and sees the engine stopped. A screenshot goes
to ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fyerstrade.config import Settings, load_settings
from fyerstrade.data.symbols import refresh_symbol_master
from fyerstrade.fyers.tokens import TokenRecord, save_token
from fyerstrade.live.config import LiveConfig, save_live_config
from fyerstrade.live.control import engine_pid, stop_engine
from fyerstrade.live.status import read_status
from fyerstrade.sim import DEFAULT_APP_ID, SimServer
from fyerstrade.sim.datasocket import hub_for
from plugins.datasocket import MARKET_START, clocked_sim, wait_for

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")

TIMEOUT_MS = 60_000
#: Market seconds per wall second once the engine runs: a trade within seconds, and 10:00 →
#: 14:30 (the end of the entry window) still takes over a minute.
MARKET_SPEED = 240.0


@pytest.fixture
def paper_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    """Like ``live_sim``, but the market stands still at :data:`MARKET_START` (the test lets it
    run once the engine is running): a slow start of the dashboard or of the engine on a busy
    machine cannot push the market past the entry window (14:30)."""
    with clocked_sim(monkeypatch, MARKET_START, MARKET_SPEED) as server:
        hub_for(server.state).clock.pause()
        yield server


@pytest.fixture
def paper_dashboard(paper_sim: SimServer) -> Iterator[tuple[str, str]]:
    """The dashboard's URL and the access token, with the symbol master, a token file and a live
    config in the data dir; any engine still running at the end is stopped."""
    from e2e.browser import CHROMIUM, dashboard_process
    from plugins.sim import sdk_login

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (run `make browser`)")
    live_settings = load_settings(env_file=None)  # now pointing at the simulator
    refresh_symbol_master(live_settings)  # the engine looks its symbols up there
    token = sdk_login(paper_sim)
    save_token(
        live_settings.token_file,
        TokenRecord.from_access_token(token, DEFAULT_APP_ID, now=time.time()),
    )
    save_live_config(
        live_settings.live_config_file,
        LiveConfig(
            strategy="sma_crossover",
            params={"fast": 2, "slow": 5},
            symbols=["NSE:SBIN-EQ", "NSE:RELIANCE-EQ"],
            quantity=10,
            warmup_bars=0,
            on_stop="square_off",
        ),
    )
    try:
        with dashboard_process(live_settings.data_dir) as url:
            yield url, token
    finally:
        if engine_pid(live_settings) is not None:
            stop_engine(live_settings, timeout=10)


def _trades_recorded(settings: Settings) -> int:
    conn = sqlite3.connect(f"file:{settings.trading_db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM live_paper_trades").fetchone()[0])
    finally:
        conn.close()


def test_start_the_engine_see_a_trade_stop_it(
    paper_sim: SimServer, paper_dashboard: tuple[str, str]
) -> None:
    from e2e.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    live_settings = load_settings(env_file=None)
    url, token = paper_dashboard
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)  # (a deep link would hit Streamlit's legacy pages/ folder mode)
            page.get_by_role("link", name="Paper trading").click()
            page.get_by_role("heading", name="Paper trading").wait_for()
            start = page.get_by_role("button", name="Start")
            start.wait_for()
            start.click()
            page.get_by_text(re.compile(r"Started the live engine \(pid \d+\)")).wait_for()

            def running() -> bool:
                status = read_status(live_settings.live_status_file)
                return status is not None and status.state == "running"

            wait_for(running, timeout=TIMEOUT_MS / 1000, what="the engine to run")
            hub_for(paper_sim.state).clock.set(speed=MARKET_SPEED, paused=False)

            # the monitor refreshes itself: a trade row appears without reloading the page
            try:
                page.get_by_role("heading", name=re.compile(r"Trades \([1-9]\d*\)")).wait_for()
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "dashboard-paper-fail.png"), full_page=True)
                raise
            assert _trades_recorded(live_settings) >= 1
            page.get_by_text("running", exact=True).first.wait_for()
            assert page.get_by_test_id("stDataFrame").count() >= 2  # positions/trades, log
            page.screenshot(path=str(ARTIFACTS / "dashboard-paper.png"), full_page=True)

            page.get_by_role("button", name="Stop").click()
            page.get_by_text("Stopped the live engine.").wait_for()
            page.get_by_text("stopped", exact=True).first.wait_for()
            assert engine_pid(live_settings) is None
            page.get_by_text("No open positions.").wait_for()  # on_stop: square_off
            assert page.get_by_text("Traceback").count() == 0
            assert token not in page.content()
        finally:
            browser.close()
