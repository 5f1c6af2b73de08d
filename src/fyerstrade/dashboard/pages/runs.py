"""The Runs page: saved backtests, a side-by-side comparison, one run in detail, and deletion.

Runs come from the journal (``trading_log.sqlite``). Picking several runs draws their equity
curves on one chart as percent return (so runs with different capital compare fairly) and puts
their metrics side by side; picking exactly one also shows its full results. Deleting asks for
confirmation first.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from fyerstrade.backtest.journal import RunSummary, StoredRun, delete_run
from fyerstrade.config import Settings
from fyerstrade.dashboard import store_reads
from fyerstrade.dashboard.results_view import ResultView, render, run_notes
from fyerstrade.domain import Resolution
from fyerstrade.errors import FyersTradeError
from fyerstrade.reporting.charts import comparison_figure
from fyerstrade.reporting.html import format_metric, metric_label
from fyerstrade.reporting.plots import strategy_indicators
from fyerstrade.store.db import connect

TABLE_METRICS = ("total_return", "sharpe", "max_drawdown", "trades", "cagr", "win_rate")
COMPARE_METRICS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "profit_factor",
    "expectancy",
    "trades",
    "exposure",
    "total_costs",
    "final_equity",
)
SELECT_KEY = "runs-selected"
CONFIRM_KEY = "runs-confirm-delete"
FLASH_KEY = "runs-flash"


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def runs_frame(runs: list[RunSummary]) -> pd.DataFrame:
    """One row per run: its id and strategy, then the key metrics (so they are visible without
    scrolling), then parameters, symbols, period and the rest."""
    rows = []
    for r in runs:
        row: dict[str, Any] = {"run": r.run_id, "strategy": r.strategy}
        for key in TABLE_METRICS:
            row[metric_label(key)] = format_metric(key, r.metrics.get(key))
        row.update(
            {
                "parameters": _params_text(r.params),
                "symbols": ", ".join(r.symbols),
                "resolution": r.resolution,
                "period": f"{r.start} → {r.end}",
                "mode": r.mode,
                "capital": r.capital,
                "status": r.status,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def label(r: RunSummary) -> str:
    """How a run is named in pickers."""
    return f"{r.run_id} · {r.strategy} · {', '.join(r.symbols)}"


def legend(run: StoredRun) -> str:
    """How a run is named in a comparison chart's legend: strategy and parameters first (what
    differs between the runs compared), then the run id's time."""
    params = _params_text(run.params)
    return f"{run.strategy}({params}) · {run.run_id[:15]}"


def comparison_frame(runs: list[StoredRun]) -> pd.DataFrame:
    """Metrics (rows) × runs (columns), formatted, plus each run's parameters."""
    data: dict[str, list[str]] = {}
    index = ["strategy", "parameters", "symbols", "period"] + [
        metric_label(k) for k in COMPARE_METRICS
    ]
    for run in runs:
        data[run.run_id] = [
            run.strategy,
            _params_text(run.params),
            ", ".join(run.symbols),
            f"{run.start} → {run.end}",
        ] + [format_metric(k, run.metrics.get(k)) for k in COMPARE_METRICS]
    return pd.DataFrame(data, index=index)


def _bars_for(settings: Settings, run: StoredRun) -> dict[str, Any]:
    """The run's candles per symbol (for its price charts) through the bar loader; empty when
    gone."""
    out: dict[str, Any] = {}
    try:
        resolution = Resolution(run.resolution)
    except ValueError:
        return out
    for symbol in run.symbols:
        out[symbol] = store_reads.candles(settings, symbol, resolution, run.start, run.end)
    return out


def _delete(settings: Settings, run_id: str) -> None:
    conn = connect(settings.trading_db)
    try:
        delete_run(conn, run_id)
    finally:
        conn.close()
    store_reads.clear()


def _delete_section(settings: Settings, runs: list[RunSummary]) -> None:
    st.subheader("Delete a run")
    ids = [r.run_id for r in runs]
    target = st.selectbox("Run to delete", ids, index=None, key="runs-delete-target")
    pending = st.session_state.get(CONFIRM_KEY)
    if pending is None or pending not in ids:
        if st.button("Delete…", disabled=target is None, key="runs-delete"):
            st.session_state[CONFIRM_KEY] = target
            st.rerun()
        return
    st.warning(f"Delete run {pending} with its trades and equity curve? This cannot be undone.")
    yes, no = st.columns(2)
    if yes.button("Yes, delete it", type="primary", key="runs-delete-yes"):
        _delete(settings, pending)
        st.session_state.pop(CONFIRM_KEY, None)
        st.session_state[FLASH_KEY] = f"Deleted run {pending}."
        st.rerun()
    if no.button("Cancel", key="runs-delete-no"):
        st.session_state.pop(CONFIRM_KEY, None)
        st.rerun()


def render_page() -> None:
    """Draw the Runs page."""
    st.title("Runs")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash)
    settings = store_reads.dashboard_settings()
    runs = store_reads.runs(settings)
    if not runs:
        st.info(
            "No backtests saved yet. Run one on the Backtest page, or from the command line: "
            "`fyerstrade backtest run --strategy sma_crossover --symbol NSE:SBIN-EQ`."
        )
        return
    st.caption(f"{len(runs)} saved run(s), newest first. Click a column header to sort.")
    st.dataframe(
        runs_frame(runs),
        hide_index=True,
        width="stretch",
        key="runs-table",
        column_config={"run": st.column_config.TextColumn("run", pinned=True)},
    )

    by_id = {r.run_id: r for r in runs}
    st.session_state[SELECT_KEY] = [s for s in st.session_state.get(SELECT_KEY, []) if s in by_id]
    chosen: list[str] = st.multiselect(
        "Runs to compare (pick one to see it in detail)",
        list(by_id),
        format_func=lambda rid: label(by_id[rid]),
        key=SELECT_KEY,
    )
    if chosen:
        try:
            stored = [store_reads.run(settings, rid) for rid in chosen]
        except FyersTradeError as exc:
            st.error(str(exc))
            stored = []
        if len(stored) >= 2:
            st.subheader("Comparison")
            curves = {legend(run): (run.equity_ts, run.equity) for run in stored}
            st.plotly_chart(comparison_figure(curves), key="runs-compare-chart", width="stretch")
            st.dataframe(comparison_frame(stored), width="stretch", key="runs-compare-table")
        elif len(stored) == 1:
            run = stored[0]
            st.subheader(f"Run {run.run_id}: {run.strategy}")
            st.caption(
                f"{_params_text(run.params)} · {', '.join(run.symbols)} · "
                f"{run.resolution} · {run.start} → {run.end} · {run.mode}"
            )
            with st.expander("Full configuration (enough to repeat the run)"):
                st.json(json.loads(json.dumps(run.config, default=str)))
            bars = _bars_for(settings, run)
            indicators, plots = strategy_indicators(settings, run.strategy, run.params, bars)
            render(
                ResultView(
                    key=f"run-{run.run_id}",
                    capital=run.capital,
                    metrics=run.metrics,
                    trades=run.trades,
                    equity_ts=run.equity_ts,
                    equity=run.equity,
                    bars=bars,
                    indicators=indicators,
                    notes=run_notes(run.config.get("used") or {}),
                    plots=plots,
                )
            )
    _delete_section(settings, runs)
