"""The HTML report (issue 13.9): one offline file under 1.5 MB for six months of 1-minute bars,
indicators drawn as their strategy declares (the -1/0/+1 ``cross`` signal not at all), every
section title once, and it really draws in Chromium (screenshot in ``artifacts/``)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import plotly.offline
import pytest

from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.journal import stored_from_result
from fyerstrade.calendar import get_calendar
from fyerstrade.domain import Resolution
from fyerstrade.reporting.html import PLOTLY_JS, write_html_report
from fyerstrade.reporting.metrics import compute_metrics
from fyerstrade.reporting.plots import plot_kinds
from fyerstrade.strategies.sma_crossover import SmaCrossover
from plugins.dashboard import random_walk

SYMBOL = "NSE:SBIN-EQ"
START, END = date(2026, 5, 18), date(2026, 11, 20)  # six months
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def six_month_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    ts = get_calendar().expected_bars(START, END, Resolution.M1)
    bars = random_walk(ts, seed=5, start_price=800.0)
    config = BacktestConfig("sma_crossover", {"fast": 20, "slow": 60}, [SYMBOL], Resolution.M1,
                            START, END, mode="intraday")  # fmt: skip
    result = run_backtest(config, data={SYMBOL: bars})
    metrics = compute_metrics(result.trades, result.equity_ts, result.equity, config.capital)
    run = stored_from_result(result, metrics)
    run.run_id = "20261120-160000-abcdef"
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_html_report(run, path, bars=result.bars, indicators=result.indicators,
                      plots=SmaCrossover.plots)  # fmt: skip
    return path, path.read_text(encoding="utf-8")


def _figures(text: str) -> list[dict[str, object]]:
    specs = re.findall(r'<script type="application/json" class="figure"[^>]*>(.*?)</script>',
                       text, flags=re.S)  # fmt: skip
    return [json.loads(s) for s in specs]


def test_six_months_of_minute_bars_fit_in_one_small_offline_file(
    six_month_report: tuple[Path, str],
) -> None:
    path, text = six_month_report
    assert len(np.asarray(get_calendar().expected_bars(START, END, Resolution.M1))) > 45_000
    size = path.stat().st_size
    assert size < 1_500_000, f"{size / 1e6:.2f} MB"
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']?https?:""", text)  # nothing remote
    assert "fonts.googleapis" not in text and "cdn." not in text


def test_indicators_are_drawn_as_declared_and_titles_are_not_repeated(
    six_month_report: tuple[Path, str],
) -> None:
    _, text = six_month_report
    figures = _figures(text)
    assert len(figures) == 3
    names = [t.get("name") for t in figures[2]["data"]]  # type: ignore[union-attr]
    assert "sma_fast" in names and "sma_slow" in names and "cross" not in names
    for fig in figures:
        assert fig["layout"].get("title") in (None, {}), fig["layout"].get("title")  # type: ignore[union-attr]
    titles = re.findall(r"<h2>(.*?)</h2>", text)
    assert len(titles) == len(set(titles)), titles
    # thinned for display: far fewer points than the 46,000+ bars, every one of them real
    candles = next(t for t in figures[2]["data"] if t["type"] == "candlestick")  # type: ignore[union-attr,index]
    assert 100 < len(candles["x"]) <= 1_500


def test_plot_kinds_follow_the_declaration_then_the_values() -> None:
    price = (90.0, 110.0)
    ind = {
        "sma": np.linspace(95, 105, 50),
        "rsi": np.linspace(20, 80, 50),
        "cross": np.tile([0.0, 1.0, -1.0, 0.0, 0.0], 10),
        "warm": np.full(50, np.nan),
    }
    assert plot_kinds(ind, None, price) == {"sma": "overlay", "rsi": "panel", "cross": "none",
                                            "warm": "none"}  # fmt: skip
    assert plot_kinds(ind, {"sma": "panel", "cross": "overlay"}, price)["cross"] == "overlay"
    with pytest.raises(ValueError, match="use one of overlay, panel, none"):
        plot_kinds(ind, {"sma": "hidden"}, price)


def test_a_panel_indicator_gets_its_own_axis() -> None:
    from fyerstrade.reporting.charts import price_figure

    ts = get_calendar().expected_bars(date(2026, 11, 16), date(2026, 11, 20), Resolution.M5)
    bars = random_walk(ts, seed=3, start_price=500.0)
    rsi = np.linspace(30, 70, len(ts))
    fig = price_figure(
        SYMBOL, bars.ts, bars.open, bars.high, bars.low, bars.close,
        indicators={"rsi": rsi, "sma": bars.close}, plots={"rsi": "panel"},
    )  # fmt: skip
    by_name = {t.name: t for t in fig.data}
    assert by_name["rsi"].yaxis == "y2" and by_name["sma"].yaxis == "y"
    assert fig.layout.yaxis2.title.text == "rsi"
    assert fig.layout.legend.y > 1  # the legend sits above the plot, clear of the axis titles


def test_the_embedded_plotly_matches_the_python_packages_version() -> None:
    head = PLOTLY_JS.read_text(encoding="utf-8")[:300]
    bundled = re.search(r"v(\d+)\.(\d+)\.\d+", head)
    assert bundled is not None
    python_side = plotly.offline.get_plotlyjs_version().split(".")[:2]
    assert [bundled.group(1), bundled.group(2)] == python_side


@pytest.mark.e2e
def test_the_report_draws_in_chromium(six_month_report: tuple[Path, str]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Debian's chromium is not installed (run `make browser`)")
    path, _ = six_month_report
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.set_default_timeout(60_000)
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-charts=ready]")
            assert page.locator(".js-plotly-plot").count() == 3
            assert page.locator("#chart-error").inner_text() == ""
            assert [u for u in requests if not u.startswith("file:")] == []  # fully offline
            page.screenshot(path=str(ARTIFACTS / "report-html.png"), full_page=True)
        finally:
            browser.close()
