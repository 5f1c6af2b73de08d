"""The Data page: what the store holds and lacks, fetching more, the symbol master, the login.

- Coverage: every stored symbol × resolution with first/last candle, stored, expected, missing
  and the largest holes; below it a symbol × day heatmap of missing bars for one resolution.
- Fetch: symbols, resolutions and dates, fetched incrementally (only what is missing) with a
  live progress bar.
- Symbol master search: lot size, tick size, expiry.
- Login status: who is logged in and until when, or the command to log in. Never the token.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fyerstrade.calendar import ist_date, to_ist
from fyerstrade.config import Settings
from fyerstrade.dashboard import store_reads
from fyerstrade.dashboard.backtest_form import resolution_label
from fyerstrade.dashboard.fetch_panel import render_fetch_form
from fyerstrade.data.coverage import CoverageRow
from fyerstrade.domain import Resolution
from fyerstrade.errors import FyersTradeError
from fyerstrade.fyers.tokens import LOGIN_HINT, ist_text, read_token

HEATMAP_DAYS = 90
SEARCH_LIMIT = 50


def _ist_text(ts: int) -> str:
    return to_ist(ts).strftime("%Y-%m-%d %H:%M")


def coverage_frame(rows: list[CoverageRow]) -> pd.DataFrame:
    """The coverage report as a table (times in IST)."""
    return pd.DataFrame(
        {
            "symbol": [r.symbol for r in rows],
            "resolution": [resolution_label(r.resolution) for r in rows],
            "first (IST)": [_ist_text(r.first) for r in rows],
            "last (IST)": [_ist_text(r.last) for r in rows],
            "candles": [r.candles for r in rows],
            "expected": [r.expected for r in rows],
            "missing": [r.missing for r in rows],
            "complete %": [round(r.complete_pct, 2) for r in rows],
            "largest holes": [
                "; ".join(
                    f"{_ist_text(h.start)} → {_ist_text(h.end)} ({h.bars} bars)" for h in r.holes
                )
                for r in rows
            ],
        }
    )


def heatmap_figure(missing: dict[str, dict[date, int]], resolution: Resolution) -> go.Figure:
    """Symbols (rows) × trading days (columns), coloured by missing bars."""
    days = sorted({d for per_day in missing.values() for d in per_day})
    symbols = sorted(missing)
    z = [[missing[s].get(d, 0) for d in days] for s in symbols]
    top = max((v for row in z for v in row), default=0)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[d.isoformat() for d in days],
            y=symbols,
            colorscale=[[0.0, "#e8f5e9"], [0.001, "#fdd49e"], [1.0, "#b30000"]],
            zmin=0,
            zmax=max(1, top),
            colorbar={"title": "missing bars"},
            hovertemplate="%{y}<br>%{x}<br>missing: %{z}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        title=f"Missing {resolution_label(resolution)} bars per trading day",
        template="plotly_white",
        height=120 + 28 * max(1, len(symbols)),
        margin={"l": 60, "r": 30, "t": 50, "b": 40},
        xaxis={"type": "category", "showticklabels": len(days) <= 120},
    )
    return fig


def _coverage_section(settings: Settings) -> None:
    st.header("Coverage")
    try:
        rows = store_reads.coverage(settings)
    except FyersTradeError as exc:
        st.error(str(exc))
        return
    if not rows:
        st.info(
            "The store holds no candles yet. Fetch some below, or run `fyerstrade demo` for a "
            "store filled from the simulator."
        )
        return
    st.dataframe(coverage_frame(rows), hide_index=True, width="stretch", key="coverage-table")

    resolutions = sorted({r.resolution for r in rows}, key=lambda r: r.seconds)
    res = st.selectbox(
        "Heatmap resolution", resolutions, format_func=resolution_label, key="heatmap-res"
    )
    series = [r for r in rows if r.resolution is res]
    last = max(ist_date(r.last) for r in series)
    first = min(ist_date(r.first) for r in series)
    start = max(first, last - timedelta(days=HEATMAP_DAYS))
    try:
        missing = {
            r.symbol: store_reads.missing_days(settings, r.symbol, res, start, last) for r in series
        }
    except FyersTradeError as exc:
        st.error(str(exc))
        return
    st.caption(f"Last {HEATMAP_DAYS} days of the stored range ({start} → {last}).")
    st.plotly_chart(heatmap_figure(missing, res), key="coverage-heatmap", width="stretch")


def _symbol_section(settings: Settings) -> None:
    st.header("Symbol master")
    try:
        count = store_reads.instrument_count(settings)
    except FyersTradeError as exc:
        st.error(str(exc))
        return
    if count == 0:
        st.info("The symbol master is empty; load it with `fyerstrade data symbols`.")
        return
    text = st.text_input(
        f"Search {count:,} instruments (symbol, name or underlying)", key="symbol-search"
    )
    if not text.strip():
        return
    found = store_reads.find_instruments(settings, text, SEARCH_LIMIT)
    if not found:
        st.warning(f"no instrument matches {text!r}")
        return
    if len(found) == SEARCH_LIMIT:
        st.caption(f"Showing the first {SEARCH_LIMIT} matches; type more to narrow the search.")
    st.dataframe(
        pd.DataFrame(
            {
                "symbol": [i.symbol for i in found],
                "name": [i.name for i in found],
                "kind": [str(i.kind) for i in found],
                "segment": [str(i.segment) for i in found],
                "lot size": [i.lot_size for i in found],
                "tick size": [i.tick_size for i in found],
                "expiry": [
                    "" if i.expiry is None else to_ist(i.expiry).date().isoformat() for i in found
                ],
            }
        ),
        hide_index=True,
        width="stretch",
        key="symbol-results",
    )


def _login_section(settings: Settings) -> None:
    st.header("Login")
    where = (
        f"simulator at {settings.fyers_url}" if settings.uses_simulator else "Fyers (real account)"
    )
    try:
        record = read_token(settings.token_file)
    except FyersTradeError as exc:
        st.error(str(exc))
        return
    if record is None:
        st.warning(f"Not logged in to {where}; {LOGIN_HINT}.")
        return

    who = record.name or record.fy_id or record.app_id
    if record.expired(time.time()):
        st.warning(
            f"The token of {who} expired at {ist_text(record.expires_at)}; {LOGIN_HINT} "
            "(Fyers requires a daily login)."
        )
    else:
        st.success(f"Logged in to {where} as {who}, valid until {ist_text(record.expires_at)}.")


def render_page() -> None:
    """Draw the Data page."""
    st.title("Data")
    settings = store_reads.dashboard_settings()
    st.caption(f"Data directory: {settings.data_dir.resolve()}")
    _coverage_section(settings)
    render_fetch_form(settings)
    _symbol_section(settings)
    _login_section(settings)
