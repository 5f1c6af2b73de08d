"""Drawing one backtest's results: metric cards, equity and drawdown, price per symbol, trades.

Shared by the Backtest page (right after a run) and the Runs page (a saved run). Charts come from
:mod:`fyerstrade.reporting.charts`, which thins long series for display; the CSV downloads hold
the exact trades and the exact equity curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import streamlit as st

from fyerstrade.backtest.columns import columns_of
from fyerstrade.candles import CandleArrays
from fyerstrade.domain import RoundTrip, Side
from fyerstrade.reporting.charts import drawdown_figure, equity_figure, price_figure
from fyerstrade.reporting.html import format_metric, metric_label
from fyerstrade.reporting.metrics import drawdown_series
from fyerstrade.reporting.plots import is_signal as plots_is_signal
from fyerstrade.reporting.plots import plot_kinds
from fyerstrade.reporting.refusals import refusal_line

#: The metric cards, in order (the full table is below them).
CARD_METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "trades",
    "final_equity",
)
IST_OFFSET = pd.Timedelta(hours=5, minutes=30)
#: Display budgets: about one point per screen pixel for a curve, a candle per three (each
#: candle, and each trade marker merged per candle, is a node the browser draws; the CSV downloads
#: keep every point and every trade).
EQUITY_POINTS = 1_000
PRICE_CANDLES = 400


@dataclass(slots=True)
class ResultView:
    """Everything the results section draws."""

    key: str
    capital: float
    metrics: Mapping[str, Any]
    trades: Sequence[RoundTrip]
    equity_ts: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    bars: Mapping[str, CandleArrays] = field(default_factory=dict)
    indicators: Mapping[str, Mapping[str, npt.NDArray[np.float64]]] = field(default_factory=dict)
    #: what the trader must know about the run (refused orders, a shortened period), shown first
    notes: Sequence[str] = ()
    #: how the strategy draws its indicators (``Strategy.plots``)
    plots: Mapping[str, str] = field(default_factory=dict)


def run_notes(used: Mapping[str, Any]) -> list[str]:
    """The notes of a run from what it really used (``StoredRun.config["used"]``)."""
    notes = [str(n) for n in used.get("notes", [])]
    refused = refusal_line(used.get("refused_orders", {}))
    if refused:
        notes.append(refused)
    return notes


def _ist(ts: pd.Series) -> pd.Series:
    """Epoch seconds → naive IST wall-clock timestamps (for display and CSV)."""
    return pd.to_datetime(ts, unit="s") + IST_OFFSET


def trades_frame(trades: Sequence[RoundTrip]) -> pd.DataFrame:
    """The round trips as a table (times in IST), in the order they closed (read from their
    columns: a saved or vectorized run's trades build no object here)."""
    cols = columns_of("round_trip", trades)
    df = pd.DataFrame(
        {
            "symbol": cols["symbol"],
            "side": ["long" if side is Side.BUY else "short" for side in cols["side"]],
            "quantity": cols["quantity"],
            "entry_time": cols["entry_ts"],
            "entry_price": cols["entry_price"],
            "exit_time": cols["exit_ts"],
            "exit_price": cols["exit_price"],
            "pnl": cols["pnl"],
            "costs": cols["costs"],
            "exit_reason": cols["exit_reason"],
            "product": list(map(str, cols["product"])),
        }
    )
    df["entry_time"] = _ist(df["entry_time"].astype("int64"))
    df["exit_time"] = _ist(df["exit_time"].astype("int64"))
    return df


def equity_frame(ts: npt.NDArray[np.int64], equity: npt.NDArray[np.float64]) -> pd.DataFrame:
    """The exact equity curve (every point), with IST times, for download."""
    return pd.DataFrame({"time_ist": _ist(pd.Series(ts, dtype="int64")), "equity": equity})


def equity_csv(ts: npt.NDArray[np.int64], equity: npt.NDArray[np.float64]) -> bytes:
    """:func:`equity_frame` as CSV, byte for byte what pandas' ``to_csv(index=False)`` writes,
    in a third of its time (0.15 s of a six-month run's results pass): times formatted by numpy
    at once, values by ``repr`` (the shortest text that reads back as the same float, as pandas
    writes them). A curve with a NaN or an infinity goes through pandas (it writes those its
    own way)."""
    values = np.asarray(equity, dtype=np.float64)
    if not np.isfinite(values).all():
        return equity_frame(ts, values).to_csv(index=False).encode()
    if values.size == 0:
        return b"time_ist,equity\n"
    shifted = np.asarray(ts, dtype=np.int64) + int(IST_OFFSET.total_seconds())
    when = np.datetime_as_string(shifted.astype("datetime64[s]"), unit="s")
    times = "\n".join(when.tolist()).replace("T", " ").split("\n")
    rows = "\n".join(map(",".join, zip(times, map(repr, values.tolist()), strict=True)))
    return f"time_ist,equity\n{rows}\n".encode()


def is_signal(values: npt.NDArray[np.float64]) -> bool:
    """Whether an indicator is a -1/0/+1 signal (a crossing marker) rather than a level."""
    return plots_is_signal(values)


def chart_indicators(
    indicators: Mapping[str, npt.NDArray[np.float64]],
    plots: Mapping[str, str] | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """The indicators that are drawn at all (see :func:`fyerstrade.reporting.plots.plot_kinds`)."""
    kinds = plot_kinds(indicators, plots)
    return {n: np.asarray(v, dtype=np.float64) for n, v in indicators.items() if kinds[n] != "none"}


PROFIT_COLOUR = "#1a9850"
#: printf format of a P&L column drawn without colours.
SIGNED_FORMAT = "%+.2f"
LOSS_COLOUR = "#d73027"


def pnl_colour(value: object) -> str:
    """CSS for a P&L cell: green for a profit, red for a loss, nothing for zero."""
    v = float(value) if isinstance(value, int | float) else 0.0
    if v > 0:
        return f"color: {PROFIT_COLOUR}"
    if v < 0:
        return f"color: {LOSS_COLOUR}"
    return ""


def pnl_styled(frame: pd.DataFrame, column: str = "pnl") -> Any:
    """``frame`` with its P&L column coloured (a pandas Styler for ``st.dataframe``)."""
    return frame.style.map(pnl_colour, subset=[column])


def ist_minutes(label: str) -> Any:
    """A table column of IST wall-clock times, shown to the minute."""
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")


def two_decimals(label: str) -> Any:
    """A table column of numbers shown with two decimals (rupees, percent)."""
    return st.column_config.NumberColumn(label, format="%.2f")


def signed_two_decimals(label: str) -> Any:
    """A table column of profits and losses: two decimals, a profit with its ``+`` sign."""
    return st.column_config.NumberColumn(label, format=SIGNED_FORMAT)


def metric_cards(metrics: Mapping[str, Any]) -> None:
    """The headline metrics as cards, four to a row."""
    keys = [k for k in CARD_METRICS if k in metrics]
    for row in range(0, len(keys), 4):
        cols = st.columns(4)
        for col, key in zip(cols, keys[row : row + 4], strict=False):
            col.metric(metric_label(key), format_metric(key, metrics[key]))


def metrics_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Every metric with its label and formatted value."""
    return pd.DataFrame(
        {
            "metric": [metric_label(k) for k in metrics],
            "value": [format_metric(k, v) for k, v in metrics.items()],
        }
    )


def render(view: ResultView) -> None:
    """Draw the whole results section for one run."""
    for note in view.notes:
        st.warning(note)
    metric_cards(view.metrics)
    with st.expander("All metrics"):
        st.dataframe(metrics_table(view.metrics), hide_index=True, width="stretch")
    left, right = st.columns(2)
    left.plotly_chart(
        equity_figure(
            view.equity_ts, view.equity, initial_capital=view.capital, max_points=EQUITY_POINTS
        ),
        key=f"{view.key}-equity",
        width="stretch",
    )
    dd = drawdown_series(view.equity, view.capital)
    right.plotly_chart(
        drawdown_figure(view.equity_ts, dd, max_points=EQUITY_POINTS),
        key=f"{view.key}-drawdown",
        width="stretch",
    )
    for symbol, bars in view.bars.items():
        if len(bars) == 0:
            continue
        st.plotly_chart(
            price_figure(
                symbol,
                bars.ts,
                bars.open,
                bars.high,
                bars.low,
                bars.close,
                trades=view.trades,
                indicators=chart_indicators(view.indicators.get(symbol, {}), view.plots),
                plots=view.plots,
                max_bars=PRICE_CANDLES,
            ),
            key=f"{view.key}-price-{symbol}",
            width="stretch",
        )
    st.subheader(f"Trades ({len(view.trades)})")
    table = trades_frame(view.trades)
    # Not a pandas Styler (green and red P&L): a Styler's table travels with a display string and
    # a style for every cell, and cost a six-month run's results 0.2 s on the server and 0.3-0.5 s
    # in the browser (its first Run 2.38/2.29 -> 1.72/2.05 s at load 3-4); the sign says it.
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "entry_time": ist_minutes("entry (IST)"),
            "exit_time": ist_minutes("exit (IST)"),
            "pnl": signed_two_decimals("P&L (₹)"),
            "costs": two_decimals("costs (₹)"),
        },
        key=f"{view.key}-trades",
    )
    # The CSVs are passed as data, not as callables written on click (Streamlit's deferred
    # downloads): with callables, the second button clicked right after the first (whose click
    # reruns the page) once downloaded nothing (tests/e2e/test_dashboard_browser.py, under load).
    c1, c2 = st.columns(2)
    c1.download_button(
        "Download trades (CSV)",
        table.to_csv(index=False).encode(),
        file_name=f"{view.key}-trades.csv",
        mime="text/csv",
        key=f"{view.key}-dl-trades",
    )
    c2.download_button(
        "Download equity curve (CSV)",
        equity_csv(view.equity_ts, view.equity),
        file_name=f"{view.key}-equity.csv",
        mime="text/csv",
        key=f"{view.key}-dl-equity",
    )
