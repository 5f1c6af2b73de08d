"""Tables and plotly figures of an optimization: trials, heatmaps, objective per parameter, and a
walk-forward's folds and equity. Pure functions of stored data (trial dicts as ``optimize show
--json`` prints them, the walk-forward report), shared by the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "folds_figure",
    "heatmap_figure",
    "heatmap_table",
    "objective_figures",
    "trials_frame",
    "walkforward_equity_figure",
]

Aggregate = Literal["best", "mean", "max"]
_TEMPLATE = "plotly_white"


def trials_frame(
    trials: Sequence[Mapping[str, Any]], names: Sequence[str], objective: str
) -> pd.DataFrame:
    """One row per trial: its number, the searched parameters, the objective, the headline
    metrics and its status (sortable numbers, not text)."""
    rows = []
    for t in trials:
        m = t.get("metrics") or {}
        row: dict[str, Any] = {"trial": t["trial"]}
        for n in names:
            row[n] = t["params"].get(n)
        row[objective] = m.get(objective)
        for key in ("total_return", "sharpe", "max_drawdown", "profit_factor", "trades"):
            if key != objective:
                row[key] = m.get(key) if key != "trades" else t.get("trades")
        row["qualified"] = t.get("score") is not None
        row["note"] = t.get("error") or ""
        rows.append(row)
    return pd.DataFrame(rows)


def heatmap_table(
    trials: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    objective: str,
    how: Aggregate = "best",
    best_params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The objective over two parameters (rows ``y``, columns ``x``). The other parameters are
    held at the best trial's values (``best``) or aggregated over (``mean``, ``max``); only
    qualifying trials count, a cell without one is NaN."""
    rows = []
    for t in trials:
        if t.get("score") is None:
            continue
        p = t["params"]
        if how == "best" and best_params is not None:
            others = [k for k in p if k not in (x, y)]
            if any(p[k] != best_params.get(k) for k in others):
                continue
        rows.append({x: p[x], y: p[y], "value": (t.get("metrics") or {}).get(objective)})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows).dropna(subset=["value"])
    if frame.empty:
        return pd.DataFrame()
    grouped = frame.groupby([y, x])["value"]
    cells = grouped.max() if how in ("best", "max") else grouped.mean()
    return cells.unstack(x).sort_index()


def heatmap_figure(table: pd.DataFrame, x: str, y: str, objective: str) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(dtype=float),
            x=[str(c) for c in table.columns],
            y=[str(i) for i in table.index],
            colorscale="RdYlGn",
            colorbar={"title": objective},
            hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{objective}=%{{z:.4g}}<extra></extra>",
        )
    )
    fig.update_layout(
        template=_TEMPLATE,
        title=f"{objective} by {x} and {y}",
        xaxis_title=x,
        yaxis_title=y,
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig


def objective_figures(
    trials: Sequence[Mapping[str, Any]], names: Sequence[str], objective: str
) -> list[go.Figure]:
    """Per parameter: every qualifying trial's objective against the parameter's value, with the
    best value per parameter value joined by a line."""
    figs = []
    ok = [t for t in trials if t.get("score") is not None]
    for n in names:
        xs = [t["params"][n] for t in ok]
        ys = [(t.get("metrics") or {}).get(objective) for t in ok]
        fig = go.Figure(
            go.Scatter(x=xs, y=ys, mode="markers", name="trials", opacity=0.6,
                       marker={"size": 6, "color": "#4575b4"})
        )  # fmt: skip
        best: dict[Any, float] = {}
        for xv, yv in zip(xs, ys, strict=True):
            if yv is not None and np.isfinite(yv) and (xv not in best or yv > best[xv]):
                best[xv] = yv
        if best:
            keys = sorted(best, key=lambda v: (isinstance(v, str), v))
            fig.add_trace(
                go.Scatter(x=keys, y=[best[k] for k in keys], mode="lines", name="best",
                           line={"color": "#d73027"})
            )  # fmt: skip
        fig.update_layout(
            template=_TEMPLATE, title=f"{objective} against {n}", xaxis_title=n,
            yaxis_title=objective, height=300, showlegend=False,
            margin={"l": 50, "r": 10, "t": 40, "b": 40},
        )  # fmt: skip
        figs.append(fig)
    return figs


def folds_figure(folds: Sequence[Mapping[str, Any]]) -> go.Figure:
    """The folds on a timeline: each fold's in-sample and out-of-sample windows as bars."""
    fig = go.Figure()
    for which, colour, label in (
        ("in_sample", "#91bfdb", "in-sample"),
        ("out_of_sample", "#fc8d59", "out-of-sample"),
    ):
        starts = [pd.Timestamp(f[which][0]) for f in folds]
        ends = [pd.Timestamp(f[which][1]) + pd.Timedelta(days=1) for f in folds]
        fig.add_trace(
            go.Bar(
                y=[f"fold {f['fold']}" for f in folds],
                x=[(e - s).total_seconds() * 1000 for s, e in zip(starts, ends, strict=True)],
                base=starts,
                orientation="h",
                name=label,
                marker_color=colour,
                hovertext=[f"{f[which][0]} → {f[which][1]}" for f in folds],
            )
        )
    fig.update_layout(
        template=_TEMPLATE, barmode="overlay", title="Folds", xaxis={"type": "date"},
        yaxis={"autorange": "reversed"}, height=120 + 40 * len(folds),
        margin={"l": 60, "r": 10, "t": 40, "b": 30},
    )  # fmt: skip
    return fig


def walkforward_equity_figure(
    stitched: Sequence[Sequence[Any]], folds: Sequence[Mapping[str, Any]]
) -> go.Figure:
    """The stitched out-of-sample equity, and each fold's chosen trial in-sample (its equity
    from its stored daily returns) for comparison."""
    fig = go.Figure()
    for f in folds:
        points = f.get("in_sample_equity") or []
        if points:
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in points], y=[p[1] for p in points], mode="lines",
                    name=f"in-sample {f['fold']}", line={"color": "#91bfdb", "width": 1},
                    opacity=0.8,
                )
            )  # fmt: skip
    if stitched:
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in stitched], y=[p[1] for p in stitched], mode="lines",
                name="out-of-sample (stitched)", line={"color": "#d73027", "width": 2},
            )
        )  # fmt: skip
    fig.update_layout(
        template=_TEMPLATE, title="Equity: stitched out-of-sample against in-sample",
        yaxis_title="₹", height=380, margin={"l": 60, "r": 10, "t": 50, "b": 40},
    )  # fmt: skip
    return fig
