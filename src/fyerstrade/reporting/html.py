"""A backtest as one self-contained HTML file: metrics, equity, drawdown, price with trades and
indicators, and the trade list.

The file opens offline and can be mailed or archived as it is: plotly.js's "finance" bundle
(`reporting/assets/`, 1.3 MB) is embedded once, gzip-compressed (about 0.57 MB as base64) and
unpacked by the browser (``DecompressionStream``); the figures are embedded as JSON and drawn
once it is loaded. Long series are thinned for display (:mod:`fyerstrade.reporting.charts`: every
extreme and every trade kept), so six months of 1-minute bars make a file under 1.5 MB. Each
indicator is drawn as its strategy declares (``Strategy.plots``: over the price, in a panel, or
not at all). Every piece of text from the run (strategy name, parameters, exit reasons) is
HTML-escaped. The metric labels and formats here are shared with the CLI's tables.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go

from fyerstrade.backtest.journal import StoredRun, format_ist
from fyerstrade.reporting.charts import drawdown_figure, equity_figure, price_figure
from fyerstrade.reporting.metrics import drawdown_series

if TYPE_CHECKING:
    from fyerstrade.candles import CandleArrays

# key → (label, kind); kind picks the format: pct (fraction shown as %), ratio, money, int,
# days, minutes.
METRICS: dict[str, tuple[str, str]] = {
    "total_return": ("Total return", "pct"),
    "cagr": ("CAGR", "pct"),
    "volatility": ("Volatility (annual)", "pct"),
    "sharpe": ("Sharpe", "ratio"),
    "sortino": ("Sortino", "ratio"),
    "max_drawdown": ("Max drawdown", "pct"),
    "max_drawdown_amount": ("Max drawdown (₹)", "money"),
    "max_drawdown_duration_days": ("Max drawdown duration", "days"),
    "calmar": ("Calmar", "ratio"),
    "win_rate": ("Win rate", "pct"),
    "profit_factor": ("Profit factor", "ratio"),
    "expectancy": ("Expectancy (₹/trade)", "money"),
    "avg_win": ("Average win (₹)", "money"),
    "avg_loss": ("Average loss (₹)", "money"),
    "largest_win": ("Largest win (₹)", "money"),
    "largest_loss": ("Largest loss (₹)", "money"),
    "trades": ("Trades", "int"),
    "avg_holding_minutes": ("Average holding", "minutes"),
    "exposure": ("Exposure (time in market)", "pct"),
    "total_costs": ("Total costs (₹)", "money"),
    "final_equity": ("Final equity (₹)", "money"),
    "start_equity": ("Starting equity (₹)", "money"),
}


def metric_label(key: str) -> str:
    """The human label of a metric key (the key itself for one this module does not know)."""
    return METRICS.get(key, (key.replace("_", " ").capitalize(), ""))[0]


def format_metric(key: str, value: Any) -> str:
    """A metric value as a reader wants it: fractions as ``12.34%``, rupees as ``123,456.00``,
    ratios to three decimals, ``∞`` for an infinite ratio, ``–`` for a missing or NaN value."""
    if value is None:
        return "–"
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    kind = METRICS.get(key, ("", ""))[1]
    v = float(value)
    if kind == "pct":
        return f"{v * 100:.2f}%"
    if kind == "money":
        return f"{v:,.2f}"
    if kind == "int":
        return f"{int(v):d}"
    if kind == "days":
        return f"{v:.1f} days"
    if kind == "minutes":
        return _duration(v)
    return f"{v:.3f}" if kind == "ratio" else f"{v:,.4g}"


def _duration(minutes: float) -> str:
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 60 * 24 * 2:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def ordered_metrics(metrics: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Metrics in the report's order, then any other keys alphabetically."""
    known = [(k, metrics[k]) for k in METRICS if k in metrics]
    extra = sorted((k, v) for k, v in metrics.items() if k not in METRICS)
    return known + extra


def _ist(ts: int) -> str:
    return format_ist(ts).replace("T", " ").removesuffix("+05:30")


def _drawdown(equity: npt.NDArray[np.float64], initial_capital: float) -> npt.NDArray[np.float64]:
    return np.asarray(drawdown_series(equity, initial_capital), dtype=np.float64)


def _table(headers: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if i >= numeric_from else ""}">{html.escape(c)}</td>'
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


PLOTLY_JS = Path(__file__).with_name("assets") / "plotly-finance.min.js"


@functools.cache
def _plotly_gz_b64() -> str:
    """The embedded plotly.js bundle, gzip-compressed and base64-encoded (built once)."""
    raw = PLOTLY_JS.read_bytes()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def _figure_html(fig: go.Figure, key: str, height: int = 420) -> str:
    """A placeholder div and the figure as JSON (drawn by the loader at the end of the file);
    the section's ``<h2>`` is the title, so the figure carries none."""
    fig.update_layout(title=None, margin={"t": 30}, height=height)
    spec = fig.to_json().replace("</", "<\\/")
    return (
        f'<div id="{key}" class="fig" style="height:{height}px"></div>'
        f'<script type="application/json" class="figure" data-target="{key}">{spec}</script>'
    )


# Unpacks plotly.js, then draws every figure; says so on the page if the browser cannot.
_LOADER = """
<p id="chart-error" class="meta"></p>
<script>
(async () => {
  const b64 = document.getElementById("plotly-js").textContent.trim();
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const code = await new Response(stream).text();
  const tag = document.createElement("script");
  tag.textContent = code;
  document.head.appendChild(tag);
  for (const el of document.querySelectorAll("script.figure")) {
    const fig = JSON.parse(el.textContent);
    await Plotly.newPlot(document.getElementById(el.dataset.target), fig.data, fig.layout,
                         {displaylogo: false, responsive: true});
  }
  document.body.dataset.charts = "ready";
})().catch((e) => {
  document.getElementById("chart-error").textContent = "The charts could not be drawn: " + e;
});
</script>
"""


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: #555; font-size: .9rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e3e3e3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""


REPORT_CANDLES = 1_500  # candles per price chart (merged, every extreme kept)
REPORT_POINTS = 3_000  # points per equity or drawdown curve


def render_html_report(
    run: StoredRun,
    *,
    bars: Mapping[str, CandleArrays] | None = None,
    indicators: Mapping[str, Mapping[str, npt.ArrayLike]] | None = None,
    plots: Mapping[str, str] | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The report as an HTML string. ``bars`` (per symbol, the run's candles) enables the price
    charts; ``indicators`` (per symbol, name → array aligned with those bars) adds their lines,
    drawn as ``plots`` (the strategy's declared kinds) says."""
    title = f"Backtest {run.run_id or '(unsaved)'}: {run.strategy}"
    params = ", ".join(f"{k}={v}" for k, v in sorted(run.params.items())) or "defaults"
    meta = [
        f"symbols {', '.join(run.symbols)} · resolution {run.resolution} · "
        f"{run.start.isoformat()} → {run.end.isoformat()} · {run.mode}",
        f"parameters: {params}",
        f"capital ₹{run.capital:,.0f} · quantity {run.quantity or 'sized by strategy'} · "
        f"costs {'on' if run.costs_enabled else 'off'} · slippage "
        + (", ".join(f"{k} {v}" for k, v in sorted(run.slippage.items())) or "none"),
        f"code {run.code_version or '?'} · run took {run.duration_seconds:.2f} s"
        + (f" · generated {generated_at.isoformat(timespec='seconds')}" if generated_at else ""),
    ]
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f'<script id="plotly-js" type="application/octet-stream">{_plotly_gz_b64()}</script>'
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *(f"<p class='meta'>{html.escape(m)}</p>" for m in meta),
        "<h2>Metrics</h2>",
        _table(
            ["metric", "value"],
            [[metric_label(k), format_metric(k, v)] for k, v in ordered_metrics(run.metrics)],
        ),
    ]
    if run.equity.size:
        parts.append("<h2>Equity</h2>")
        eq = equity_figure(
            run.equity_ts, run.equity, initial_capital=run.capital, max_points=REPORT_POINTS
        )
        parts.append(_figure_html(eq, "fig-equity"))
        parts.append("<h2>Drawdown</h2>")
        dd = drawdown_figure(
            run.equity_ts, _drawdown(run.equity, run.capital), max_points=REPORT_POINTS
        )
        parts.append(_figure_html(dd, "fig-drawdown", height=300))
    for k, symbol in enumerate(run.symbols):
        candles = (bars or {}).get(symbol)
        if candles is None or len(candles) == 0:
            continue
        parts.append(f"<h2>{html.escape(symbol)}: price and trades</h2>")
        fig = price_figure(
            symbol,
            candles.ts,
            candles.open,
            candles.high,
            candles.low,
            candles.close,
            trades=run.trades,
            indicators=(indicators or {}).get(symbol),
            plots=plots,
            max_bars=REPORT_CANDLES,
        )
        parts.append(_figure_html(fig, f"fig-price-{k}", height=520))
    parts.append(f"<h2>Trades ({len(run.trades)})</h2>")
    parts.append(
        _table(
            [
                "symbol",
                "side",
                "qty",
                "entry (IST)",
                "entry ₹",
                "exit (IST)",
                "exit ₹",
                "P&L ₹",
                "costs ₹",
                "exit reason",
            ],
            [
                [
                    t.symbol,
                    "long" if t.side.value == "BUY" else "short",
                    str(t.quantity),
                    _ist(t.entry_ts),
                    f"{t.entry_price:,.2f}",
                    _ist(t.exit_ts),
                    f"{t.exit_price:,.2f}",
                    f"{t.pnl:,.2f}",
                    f"{t.costs:,.2f}",
                    t.exit_reason,
                ]
                for t in run.trades
            ],
            numeric_from=2,
        )
    )
    parts.append(_LOADER)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html_report(
    run: StoredRun,
    path: Path | str,
    *,
    bars: Mapping[str, CandleArrays] | None = None,
    indicators: Mapping[str, Mapping[str, npt.ArrayLike]] | None = None,
    plots: Mapping[str, str] | None = None,
    generated_at: datetime | None = None,
) -> Path:
    """Write :func:`render_html_report` to ``path`` (parent folders created); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = render_html_report(
        run, bars=bars, indicators=indicators, plots=plots, generated_at=generated_at
    )
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
