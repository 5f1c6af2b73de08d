"""The HTML report: one self-contained file with metrics, equity, drawdown, price charts with the
trades, and the trade table; text from the run is escaped."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np

from fyerstrade.backtest.journal import StoredRun
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import ProductType, RoundTrip, Side
from fyerstrade.reporting.html import format_metric, ordered_metrics, write_html_report

T0 = 1_704_167_100  # 2024-01-02 09:15 IST


def _run() -> tuple[StoredRun, CandleArrays]:
    n = 300
    ts = T0 + 60 * np.arange(n, dtype=np.int64)
    close = 600.0 + np.cumsum(np.random.default_rng(5).normal(0, 0.5, n))
    candles = CandleArrays(ts, close - 0.1, close + 0.4, close - 0.4, close,
                           np.full(n, 1_000, dtype=np.int64))  # fmt: skip
    trades = [
        RoundTrip("NSE:SBIN-EQ", Side.BUY, 10, T0 + 300, 601.25, T0 + 1500, 604.5, 30.1, 2.4,
                  "target", ProductType.INTRADAY),
        RoundTrip("NSE:SBIN-EQ", Side.SELL, 10, T0 + 3000, 603.0, T0 + 3600, 604.0, -12.3,
                  2.3, "stop", ProductType.INTRADAY),
    ]  # fmt: skip
    equity = 100_000.0 + np.cumsum(np.random.default_rng(6).normal(0, 5, n))
    run = StoredRun(
        strategy="<script>alert(1)</script>",
        params={"fast": 5},
        symbols=("NSE:SBIN-EQ",),
        resolution="1",
        start=date(2024, 1, 2),
        end=date(2024, 1, 2),
        mode="intraday",
        capital=100_000.0,
        metrics={"total_return": 0.0178, "profit_factor": math.inf, "sharpe": None, "trades": 2,
                 "final_equity": 101_780.0},
        trades=trades,
        equity_ts=ts,
        equity=equity,
        cash=equity,
        exposure=np.zeros(n),
        run_id="20240102-153000-abcdef",
    )  # fmt: skip
    return run, candles


def test_report_is_one_offline_file_with_every_section(tmp_path: Path) -> None:
    run, candles = _run()
    sma = np.convolve(candles.close, np.ones(10) / 10)[: len(candles)]
    out = write_html_report(
        run,
        tmp_path / "reports" / "run.html",
        bars={"NSE:SBIN-EQ": candles},
        indicators={"NSE:SBIN-EQ": {"sma10": sma}},
    )
    text = out.read_text(encoding="utf-8")
    assert out == tmp_path / "reports" / "run.html"
    assert '<script src="http' not in text and "<script src='http" not in text
    assert "Plotly.newPlot" in text and len(text) > 500_000  # plotly.js embedded (gzipped)
    assert text.count('class="figure"') == 3  # equity, drawdown, price
    assert "<script>alert(1)</script>" not in text  # run text is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for needle in (
        "Total return",
        "1.78%",
        "∞",
        "Sharpe",
        "Trades (2)",
        "2024-01-02 09:20:00",
        "604.50",
        "-12.30",
        "stop",
        "target",
        "sma10",
        "long entry",
        "short entry",
    ):
        assert needle in text, needle  # fmt: skip


def test_report_without_bars_or_trades_still_renders(tmp_path: Path) -> None:
    run, _ = _run()
    run.trades = []
    out = write_html_report(run, tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    assert text.count('class="figure"') == 2
    assert "Trades (0)" in text


def test_metric_formats() -> None:
    assert format_metric("total_return", 0.1234) == "12.34%"
    assert format_metric("profit_factor", math.inf) == "∞"
    assert format_metric("sharpe", None) == "–"
    assert format_metric("sharpe", 1.23456) == "1.235"
    assert format_metric("final_equity", 123456.789) == "123,456.79"
    assert format_metric("trades", 7) == "7"
    assert format_metric("avg_holding_minutes", 45.0) == "45 min"
    assert format_metric("avg_holding_minutes", 600.0) == "10.0 h"
    assert [k for k, _ in ordered_metrics({"zeta": 1, "trades": 2, "cagr": 3})] == [
        "cagr", "trades", "zeta"]  # fmt: skip
