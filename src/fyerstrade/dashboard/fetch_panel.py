"""The Data page's fetch form: symbols, resolutions and dates, with a live progress bar.

The fetch is the same incremental one as ``fyerstrade data fetch`` (only missing bars are asked
for, chunks commit as they arrive). It runs in the page's script thread, which is also the one
SQLite writer; the progress callback moves the bar after every finished request. An expired
login or an unknown symbol shows as one message, never a traceback.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from fyerstrade.calendar import get_calendar
from fyerstrade.config import Settings
from fyerstrade.dashboard import store_reads
from fyerstrade.dashboard.backtest_form import resolution_label
from fyerstrade.data.history import DEFAULT_RESOLUTIONS, FetchSummary, fetch_history
from fyerstrade.domain import Resolution
from fyerstrade.errors import FyersTradeError
from fyerstrade.fyers.client import FyersClient
from fyerstrade.store.db import connect

FETCH_RESOLUTIONS = (Resolution.M1, Resolution.M5, Resolution.M15, Resolution.M60, Resolution.D)


def parse_symbols(text: str) -> list[str]:
    """Symbols from a comma/space/newline separated text, upper-cased, duplicates dropped."""
    out: list[str] = []
    for part in text.replace(",", " ").split():
        sym = part.strip().upper()
        if sym and sym not in out:
            out.append(sym)
    return out


def summary_text(s: FetchSummary) -> str:
    """One line about a finished fetch."""
    text = (
        f"{s.completed} of {s.planned} requests answered, {s.candles_added:,} candles added, "
        f"{s.holes_repaired} holes repaired in {s.seconds:.1f} s"
    )
    return text + (" (interrupted)" if s.interrupted else "")


def render_fetch_form(settings: Settings) -> None:
    """Draw the fetch form and run a fetch when it is submitted."""
    st.header("Fetch candles")
    known = store_reads.stored_symbols(settings)
    with st.form("fetch-form"):
        text = st.text_area(
            "Symbols (comma or newline separated)",
            value=", ".join(known[:6]),
            key="fetch-symbols",
            help="Fyers tickers, e.g. NSE:SBIN-EQ, NSE:NIFTY50-INDEX",
        )
        resolutions = st.multiselect(
            "Resolutions",
            FETCH_RESOLUTIONS,
            key="fetch-resolutions",
            default=list(DEFAULT_RESOLUTIONS),
            format_func=resolution_label,
        )
        c1, c2 = st.columns(2)
        today = datetime.now(ZoneInfo("Asia/Kolkata")).date()
        start = c1.date_input(
            "From", value=today - timedelta(days=30), max_value=today, key="fetch-from"
        )
        end = c2.date_input("To", value=today, max_value=today, key="fetch-to")
        submitted = st.form_submit_button("Fetch", key="fetch-submit")
    if not submitted:
        return
    symbols = parse_symbols(text)
    problems = []
    if not symbols:
        problems.append("name at least one symbol")
    if not resolutions:
        problems.append("pick at least one resolution")
    if not isinstance(start, date) or not isinstance(end, date) or end < start:
        problems.append("the end date must be on or after the start date")
    if problems:
        for p in problems:
            st.error(p)
        return
    assert isinstance(start, date) and isinstance(end, date)
    bar = st.progress(0.0, text="planning the fetch…")

    def progress(s: FetchSummary) -> None:
        done = s.completed / s.planned if s.planned else 1.0
        bar.progress(min(1.0, done), text=f"{s.completed} of {s.planned} requests")

    try:
        client = FyersClient.from_settings(settings)
        conn = connect(settings.historical_db, verify=True)
        try:
            summary = fetch_history(
                conn,
                client,
                symbols,
                list(resolutions),
                calendar=get_calendar(),
                start=start,
                end=end,
                progress=progress,
            )
        finally:
            conn.close()
    except FyersTradeError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.progress(1.0, text="done")
    store_reads.clear()
    st.success(summary_text(summary))
    for err in summary.errors:
        st.warning(err)
