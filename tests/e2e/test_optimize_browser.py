"""The Optimize page in a real browser: Chromium against ``fyerstrade dashboard`` on a data dir
filled from the simulator. Run a small grid in the background, see the progress end, the trials
and the heatmap, then open the best combination as a backtest: the Backtest page shows the saved
run. A screenshot goes to ``artifacts/`` (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from fyerstrade.backtest.journal import list_runs
from fyerstrade.backtest.optimize.trials import list_optimizations
from fyerstrade.dashboard.pages.optimize import POLL_SECONDS
from fyerstrade.sim import SimServer
from fyerstrade.store.db import connect

from .browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, dashboard_process, fill_from_sim
from .test_dashboard_browser import _pick, _screenshot

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")

TODAY = date(2026, 11, 20)  # the sim fixture's clock
TIMEOUT_MS = 120_000


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def dashboard_url(sim: SimServer, tmp_path: Path, data_dir: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (run `make browser`)")
    fill_from_sim(sim, data_dir, tmp_path / "logs", ("NSE:SBIN-EQ",), 1, TODAY)
    with dashboard_process(data_dir) as url:
        yield url


def _fill(page: object, label: str, text: str) -> None:
    box = page.get_by_role("textbox", name=label, exact=True)  # type: ignore[attr-defined]
    box.fill(text)
    box.press("Tab")


def _reruns(frames: list[bytes | str]) -> list[str]:
    """The script reruns among the messages the browser sent (by fragment id, "" for a page)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    out = []
    for frame in frames:
        if isinstance(frame, bytes):
            msg = BackMsg()
            msg.ParseFromString(frame)
            if msg.WhichOneof("type") == "rerun_script":
                out.append(msg.rerun_script.fragment_id)
    return out


def test_sweep_heatmap_and_open_the_best_as_a_backtest(dashboard_url: str, data_dir: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.clock.install()  # the browser's timers run on, and the test can move them on
            sent: list[bytes | str] = []
            page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
            page.goto(dashboard_url)
            page.get_by_role("button", name="Run backtest").wait_for()
            page.get_by_role("link", name="Optimize").click()
            page.get_by_role("heading", name="Optimize").wait_for()
            run = page.get_by_role("button", name="Run optimization")
            run.wait_for()
            _fill(page, "fast", "5:15:5")
            _fill(page, "slow", "20,40")
            _fill(page, "allow_short", "false")
            _pick(page, "Method", "grid")
            _pick(page, "Resolution", "5 minutes")
            min_trades = page.get_by_role("spinbutton", name="Min trades")
            min_trades.fill("1")
            min_trades.press("Tab")
            run.click()
            page.get_by_text(re.compile(r"Optimization opt-\S+ finished: 6 trials")).wait_for()
            page.get_by_role("heading", name="Heatmap").wait_for()
            page.get_by_text("sharpe by fast and slow").first.wait_for()
            assert page.get_by_text("Traceback").count() == 0
            _screenshot(page, "dashboard-optimize.png")

            # Nothing polls once the sweep is over: a timer's tick that reaches the server after
            # "Open as backtest" switched pages reran the page the browser was leaving (blank).
            before = len(sent)
            page.clock.run_for(int(POLL_SECONDS * 1000 * 3))
            page.evaluate("0")  # a round trip: what the timers sent is reported before it
            assert _reruns(sent[before:]) == []

            page.get_by_role("button", name="Open as backtest").click()
            page.get_by_role("heading", name="Backtest", exact=True).wait_for()
            flash = page.get_by_text(re.compile(r"From optimization opt-\S+, trial \d+\. Run"))
            flash.wait_for()
            page.get_by_test_id("stMetric").first.wait_for()
            page.get_by_role("heading", name="Results").wait_for()
            _screenshot(page, "dashboard-optimize-opened.png")
        finally:
            browser.close()
    trading = data_dir / "trading_log.sqlite"
    conn = connect(trading)
    try:
        (opt,) = list_optimizations(conn)
        runs = list_runs(conn)
    finally:
        conn.close()
    assert opt.trials == 6 and opt.status == "completed"
    assert runs and runs[0].strategy == "sma_crossover" and runs[0].params["fast"] in (5, 10, 15)
