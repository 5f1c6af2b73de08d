"""The dashboard in a real browser: Chromium (Debian's, through Playwright) against
``fyerstrade dashboard`` running as a subprocess on a data dir filled from the simulator.

Pick a strategy, symbols, a resolution and dates on the Backtest page, click Run, and see the
metric cards, the equity chart and the trade table; the run is then listed on the Runs page.
A screenshot of each page goes to ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from fyerstrade.dashboard.static_preload import FIRST_PAGE_WIDGETS
from fyerstrade.sim import SimServer

from .browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, dashboard_process, fill_from_sim

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")

TODAY = date(2026, 11, 20)  # the sim fixture's clock
TIMEOUT_MS = 60_000
#: Records every loading placeholder (Streamlit's Suspense skeleton, shown while an element's
#: code loads) that appears in a keyed element of the Backtest page's results.
WATCH_CHART_PLACEHOLDERS = """() => {
  window.__chartPlaceholders = [];
  new MutationObserver(() => {
    for (const s of document.querySelectorAll("[data-testid=stSkeleton]")) {
      const box = s.closest("[class*='st-key-bt-']");
      const key = box && [...box.classList].find((c) => c.startsWith("st-key-bt-"));
      if (key && /^st-key-bt-\\d{8}-\\d{6}-[0-9a-f]{6}-(equity|drawdown|price-.+)$/.test(key)) {
        window.__chartPlaceholders.push(key);
      }
    }
  }).observe(document.body, {subtree: true, childList: true});
}"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def dashboard_url(sim: SimServer, tmp_path: Path, data_dir: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (run `make browser`)")
    fill_from_sim(sim, data_dir, tmp_path / "logs", ("NSE:SBIN-EQ", "NSE:TCS-EQ"), 1, TODAY)
    with dashboard_process(data_dir) as url:
        yield url


def _pick(page: object, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()  # type: ignore[attr-defined]
    page.get_by_role("option", name=option, exact=True).click()  # type: ignore[attr-defined]


def _set_date(page: object, field: str, day: date) -> None:
    for part, text in (
        ("year", f"{day.year}"),
        ("month", f"{day.month:02d}"),
        ("day", f"{day.day:02d}"),
    ):
        segment = page.get_by_role("spinbutton", name=f"{part}, {field}")  # type: ignore[attr-defined]
        segment.click()
        segment.press_sequentially(text)
    page.keyboard.press("Tab")  # type: ignore[attr-defined]


def _screenshot(page: object, name: str) -> None:
    """The whole page: Streamlit scrolls inside its own container, so grow the viewport to the
    content's height first, then restore it."""
    height = page.evaluate(  # type: ignore[attr-defined]
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section')]"
        ".map(e => e.scrollHeight), document.body.scrollHeight)"
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 8000)})  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / name))  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1400, "height": 1000})  # type: ignore[attr-defined]


def test_backtest_in_the_browser_then_listed_on_runs(dashboard_url: str, data_dir: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(dashboard_url)
            run_button = page.get_by_role("button", name="Run backtest")
            run_button.wait_for()
            # the page shell had the browser fetch the form's widget code with Streamlit's own
            # (dashboard/static_preload.py): each widget type's chunk is in it and was asked for
            shell = urlopen(dashboard_url).read().decode()
            for widget in FIRST_PAGE_WIDGETS:
                link = re.search(
                    rf'rel="modulepreload" crossorigin href="\./(static/js/{widget}\.[\w-]+\.js)"',
                    shell,
                )
                assert link is not None, widget
                assert f"{dashboard_url}/{link.group(1)}" in requested

            _pick(page, "Strategy", "sma_crossover")
            page.get_by_role("spinbutton", name="fast").fill("5")
            page.get_by_role("spinbutton", name="slow").fill("20")
            page.get_by_role("spinbutton", name="slow").press("Tab")
            _pick(page, "Symbols (type to search)", "NSE:TCS-EQ")
            page.keyboard.press("Escape")
            _pick(page, "Resolution", "5 minutes")
            _set_date(page, "Start", date(2026, 11, 2))
            _set_date(page, "End", date(2026, 11, 19))
            page.get_by_text("Stored 5 minutes candles").wait_for()

            # the form's buy-and-hold preview is drawn before any run, so the browser has its
            # charting library when the results come: from here on, no chart of the results may
            # show Streamlit's grey loading placeholder (a skeleton in the chart's place)
            page.locator(".st-key-bt-preview .js-plotly-plot").wait_for()
            page.evaluate(WATCH_CHART_PLACEHOLDERS)
            run_button.click()
            saved = page.get_by_text(re.compile(r"Run \d{8}-\d{6}-[0-9a-f]{6} saved"))
            saved.wait_for()
            saved_text = saved.inner_text()
            run_id = re.search(r"\d{8}-\d{6}-[0-9a-f]{6}", saved_text).group(0)  # type: ignore[union-attr]
            # each card waited for by its label (the first card found can still be drawing its
            # text: read at once, its label was missing once with two test workers busy)
            cards = page.get_by_test_id("stMetric")
            cards.filter(has_text=re.compile(r"^Total return")).first.wait_for()
            cards.filter(has_text=re.compile(r"^Sharpe")).first.wait_for()
            # equity, drawdown, and one price chart per symbol: each drawn by plotly, and none
            # of them ever a placeholder (they came in the same pass as the results)
            results = page.locator(f"[class*='st-key-bt-{run_id}-']")
            drawn = results.locator(".js-plotly-plot")
            drawn.nth(3).wait_for()
            assert drawn.count() == 4
            assert results.get_by_test_id("stPlotlyChart").count() == 4
            assert page.evaluate("window.__chartPlaceholders") == []
            assert page.get_by_text("Equity", exact=True).count() >= 1
            page.get_by_role("heading", name=re.compile(r"Trades \(\d+\)")).wait_for()
            assert page.get_by_test_id("stDataFrame").count() >= 1
            assert page.get_by_text("Traceback").count() == 0
            _screenshot(page, "dashboard-backtest.png")
            # the CSV downloads hold every trade and every point of the equity curve
            with page.expect_download() as trades_csv:
                page.get_by_role("button", name="Download trades (CSV)").click()
            text = Path(trades_csv.value.path()).read_text(encoding="utf-8")
            assert text.startswith("symbol,side,quantity,entry_time,entry_price,exit_time")
            with page.expect_download() as equity_csv:
                page.get_by_role("button", name="Download equity curve (CSV)").click()
            lines = Path(equity_csv.value.path()).read_text(encoding="utf-8").splitlines()
            bars = re.search(r"over ([\d,]+) bars", saved_text)
            assert bars is not None
            assert lines[0] == "time_ist,equity"
            # every step of the run, not the chart's thinned points (two symbols, same bar times)
            assert len(lines) == 1 + int(bars.group(1).replace(",", "")) // 2

            page.get_by_role("link", name="Runs").click()
            page.get_by_role("heading", name="Runs").wait_for()
            page.get_by_text("1 saved run(s)").wait_for()
            picker = page.get_by_role("combobox", name=re.compile("Runs to compare"))
            picker.click()
            option = page.get_by_role("option", name=re.compile(run_id))
            option.wait_for()
            option.click()
            page.keyboard.press("Escape")
            page.get_by_role("heading", name=re.compile(f"Run {run_id}: sma_crossover")).wait_for()
            _screenshot(page, "dashboard-runs.png")

            page.get_by_role("link", name="Data").click()
            page.get_by_role("heading", name="Coverage").wait_for()
            page.get_by_role("heading", name="Login").wait_for()
            _screenshot(page, "dashboard-data.png")
            # the sim's token expired at 06:00 IST after its pinned day: either state is shown
            status = page.get_by_text(re.compile(r"(valid until|expired at) \d{4}-\d\d-\d\d"))
            assert status.count() == 1
            token = json.loads((data_dir / "fyers_tokens.json").read_text())["access_token"]
            assert token not in page.content()

            page.get_by_role("link", name="Paper trading").click()
            page.get_by_role("heading", name="Paper trading").wait_for()
            _screenshot(page, "dashboard-paper-monitor.png")
            # nothing is fetched from outside (a font or icon host fails offline)
            local = (None, "127.0.0.1", "localhost")
            outside = [u for u in requested if urlsplit(u).hostname not in local]
            assert outside == [], outside
        finally:
            browser.close()
