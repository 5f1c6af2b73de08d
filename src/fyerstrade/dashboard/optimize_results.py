"""The Optimize page's results: a sweep's trials, heatmap, objective per parameter, top N and
"open as backtest"; a walk-forward's folds, equity, parameters per fold, PBO and DSR."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from fyerstrade.config import Settings
from fyerstrade.reporting.html import format_metric, metric_label
from fyerstrade.reporting.optimization_charts import (
    Aggregate,
    folds_figure,
    heatmap_figure,
    heatmap_table,
    objective_figures,
    trials_frame,
    walkforward_equity_figure,
)

__all__ = ["render_sweep", "render_walkforward"]

PBO_MEANS = (
    "PBO is the probability of backtest overfitting: across many in-sample/out-of-sample splits, "
    "how often the best in-sample combination does no better than the median out-of-sample. "
    "Around 0.5 or more means the winner is most likely luck."
)
DSR_MEANS = (
    "The Deflated Sharpe Ratio is the probability that the best trial's Sharpe ratio is real "
    "once you account for how many combinations were tried; 0.95 or more is convincing."
)


def _overfitting(pbo: float | None, dsr: float | None) -> None:
    c1, c2 = st.columns(2)
    c1.metric("PBO", "n/a" if pbo is None else f"{pbo:.2f}", help=PBO_MEANS)
    c2.metric("Deflated Sharpe", "n/a" if dsr is None else f"{dsr:.2f}", help=DSR_MEANS)
    st.caption(f"{PBO_MEANS} {DSR_MEANS}")


def render_sweep(settings: Settings, report: dict[str, Any], polling: bool = False) -> None:
    """A stored sweep's results (``polling``: a job's progress timer is running on this page)."""
    objective = report["objective"]
    names = [a["name"] for a in report["space"]["axes"]]
    trials = report["trials"]
    qualified = [t for t in trials if t["score"] is not None]
    best = report.get("best")
    m1, m2, m3 = st.columns(3)
    m1.metric("Trials", f"{len(trials):,}")
    m2.metric("Qualified", f"{len(qualified):,}", help=f"at least {report['min_trades']} trades")
    m3.metric(
        f"Best {metric_label(objective)}",
        format_metric(objective, best["metrics"].get(objective)) if best else "n/a",
    )
    _overfitting(report.get("pbo"), report.get("deflated_sharpe"))
    st.subheader("Trials")
    frame = trials_frame(trials, names, objective)
    st.dataframe(frame, hide_index=True, width="stretch", key=f"opt-trials-{report['id']}")
    if not qualified:
        st.info("No trial qualified: lower the minimum trades or widen the ranges.")
        return
    if len(names) >= 2:
        st.subheader("Heatmap")
        h1, h2, h3 = st.columns(3)
        x = h1.selectbox("Across", names, index=0, key="opt-heat-x")
        y = h2.selectbox("Down", [n for n in names if n != x], index=0, key="opt-heat-y")
        how = h3.radio("Other parameters", ("best", "mean", "max"), horizontal=True,
                       key="opt-heat-how", help="held at the best trial's values, or "
                       "averaged / maximised over")  # fmt: skip
        agg: Aggregate = "mean" if how == "mean" else "max" if how == "max" else "best"
        table = heatmap_table(trials, x, y, objective, agg, best["params"] if best else None)
        if table.empty:
            st.caption("No qualifying trials for this pair.")
        else:
            st.plotly_chart(heatmap_figure(table, x, y, objective), key="opt-heatmap")
    st.subheader(f"{metric_label(objective)} against each parameter")
    figs = objective_figures(trials, names, objective)
    cols = st.columns(min(3, len(figs)) or 1)
    for i, fig in enumerate(figs):
        with cols[i % len(cols)]:
            st.plotly_chart(fig, key=f"opt-param-{i}")
    _top(settings, report, qualified, names, objective, polling)


def _top(
    settings: Settings,
    report: dict[str, Any],
    qualified: list[dict[str, Any]],
    names: list[str],
    objective: str,
    polling: bool,
) -> None:
    st.subheader("Top trials")
    n = int(st.number_input("How many", value=5, min_value=1, max_value=100, key="opt-top-n"))
    ranked = sorted(qualified, key=lambda t: -t["score"])[:n]
    st.dataframe(trials_frame(ranked, names, objective), hide_index=True, width="stretch",
                 key="opt-top-table")  # fmt: skip
    labels = {
        f"trial {t['trial']}: " + ", ".join(f"{k}={t['params'][k]}" for k in names): t
        for t in ranked
    }
    pick = st.selectbox("Open as backtest", list(labels), key="opt-open-pick")
    if st.button("Open as backtest", key="opt-open"):
        _open_as_backtest(settings, report, labels[pick], polling)


def _open_as_backtest(
    settings: Settings, report: dict[str, Any], trial: dict[str, Any], polling: bool
) -> None:
    """Run the trial's parameters as an ordinary backtest (event engine, the sweep's options),
    save it, and show it on the Backtest page: straight away, or, while a job's progress timer
    ticks in the browser, through a link. A tick sent before a server-side switch reached the
    browser would rerun this page in the Backtest page's place (a blank page); a link the user
    clicks stops the browser's timers before it changes page."""
    from datetime import date, time

    from fyerstrade.dashboard.pages.backtest import keep_result, prefill, run_and_save
    from fyerstrade.domain import Resolution
    from fyerstrade.errors import FyersTradeError

    cfg = report["config"]

    def clock(text: str) -> time:
        h, m = text.split(":")
        return time(int(h), int(m))

    kwargs = {
        "strategy": report["strategy"], "params": dict(trial["params"]),
        "symbols": list(cfg["symbols"]), "resolution": Resolution(cfg["resolution"]),
        "start": date.fromisoformat(cfg["start"]), "end": date.fromisoformat(cfg["end"]),
        "mode": cfg["mode"], "capital": float(cfg["capital"]), "quantity": cfg.get("quantity"),
        "costs": bool(cfg["costs"]), "slippage_ticks": float(cfg["slippage_ticks"]),
        "slippage_bps": float(cfg["slippage_bps"]), "entry_start": clock(cfg["entry_start"]),
        "entry_end": clock(cfg["entry_end"]), "square_off": clock(cfg["square_off"]),
    }  # fmt: skip
    with st.spinner("running the backtest…"):
        try:
            run_id, result, metrics = run_and_save(settings, kwargs)
        except FyersTradeError as exc:
            st.error(str(exc))
            return
    from fyerstrade.strategies.registry import get_strategy

    message = keep_result(
        run_id, result, metrics, kwargs["capital"], get_strategy(report["strategy"], settings)
    )
    widgets: dict[str, Any] = {
        "bt-strategy": report["strategy"], "bt-symbols": list(cfg["symbols"]),
        "bt-resolution": kwargs["resolution"], "bt-mode": cfg["mode"],
        "bt-start": kwargs["start"], "bt-end": kwargs["end"],
        "bt-entry-start": kwargs["entry_start"], "bt-entry-end": kwargs["entry_end"],
        "bt-square-off": kwargs["square_off"], "bt-capital": kwargs["capital"],
        "bt-costs": kwargs["costs"], "bt-slip-ticks": kwargs["slippage_ticks"],
        "bt-slip-bps": kwargs["slippage_bps"],
        "bt-sizing": "by capital" if kwargs["quantity"] is None else "fixed quantity",
    }  # fmt: skip
    if kwargs["quantity"] is not None:
        widgets["bt-quantity"] = kwargs["quantity"]
    for k, v in trial["params"].items():
        widgets[f"bt-param-{report['strategy']}-{k}"] = v
    prefill(widgets, f"From optimization {report['id']}, trial {trial['trial']}. {message}")
    st.session_state["opt-opened"] = run_id
    page = st.Page(_backtest_page, title="Backtest", url_path="backtest")
    try:
        if polling:
            st.success(f"{message} It is on the Backtest page, with its form filled in.")
            st.page_link(
                page, label="Show it on the Backtest page", icon=":material/arrow_forward:"
            )
        else:
            st.switch_page(page)
    except st.errors.StreamlitAPIException:  # this page runs alone (no navigation)
        st.success(f"{message} Open the Backtest page to see it.")


def _backtest_page() -> None:  # pragma: no cover - only its url_path is used, to switch pages
    from fyerstrade.dashboard.pages import backtest

    backtest.render_page()


def render_walkforward(report: dict[str, Any]) -> None:
    """A stored walk-forward's results."""
    folds = report["folds"]
    summary = report.get("summary")
    if not summary:
        st.info(f"Walk-forward {report['id']} is {report['status']}; its report comes at the end.")
        if folds:
            st.plotly_chart(folds_figure(folds), key="wf-chart-plan")
        return
    m = summary["metrics"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("OOS Sharpe", format_metric("sharpe", m.get("sharpe")))
    c2.metric("OOS return", format_metric("total_return", m.get("total_return")))
    c3.metric("OOS max drawdown", format_metric("max_drawdown", m.get("max_drawdown")))
    worst = summary["worst_fold"]
    worst_return = format_metric("total_return", worst.get("total_return"))
    c4.metric(f"Worst fold ({worst['fold']})", worst_return)
    wfe = summary.get("walk_forward_efficiency")
    st.caption(
        f"Walk-forward efficiency: {'n/a' if wfe is None else f'{wfe:.2f}'} — "
        f"{summary.get('walk_forward_efficiency_note', '')}"
    )
    _overfitting(summary.get("pbo"), summary.get("deflated_sharpe"))
    st.plotly_chart(folds_figure(folds), key="wf-chart-folds")
    st.plotly_chart(
        walkforward_equity_figure(summary.get("equity", []), folds), key="wf-chart-equity"
    )
    st.subheader("Parameters per fold")
    rows = []
    objective = report["objective"]
    for f in folds:
        row: dict[str, Any] = {"fold": f["fold"], "in-sample": " → ".join(f["in_sample"]),
                               "out-of-sample": " → ".join(f["out_of_sample"])}  # fmt: skip
        row.update(f.get("params") or {})
        row[f"IS {objective}"] = f["in_sample_metrics"].get(objective)
        row["OOS return"] = f["out_of_sample_metrics"].get("total_return")
        row["OOS sharpe"] = f["out_of_sample_metrics"].get("sharpe")
        row["PBO"] = f.get("pbo")
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="wf-chart-table")
