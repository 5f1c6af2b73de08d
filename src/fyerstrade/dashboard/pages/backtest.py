"""The Backtest page: pick a strategy, its parameters, symbols and dates; run; see the results.

The parameter form is generated from the strategy's declared :class:`~fyerstrade.strategies.base.
Param` tuple (type, default, bounds, step, choices, help). Symbols come from the candle store
(the picker searches as you type); the resolution offers what every picked symbol has stored;
the dates are limited to the stored range. Form mistakes appear as messages right under the Run
button. A run shows a progress bar, is saved to the journal (so it is listed on the Runs page),
and its results stay on the page until the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import streamlit as st

from fyerstrade.calendar import ist_date
from fyerstrade.config import Settings
from fyerstrade.dashboard import store_reads
from fyerstrade.dashboard.backtest_form import (
    RESOLUTIONS,
    BacktestRequest,
    FormProblem,
    default_symbols,
    is_index_symbol,
    resolution_label,
    validate,
)
from fyerstrade.dashboard.param_inputs import param_inputs
from fyerstrade.data.bars import resolution_label as bar_label
from fyerstrade.domain import Resolution
from fyerstrade.errors import FyersTradeError
from fyerstrade.logs import redact
from fyerstrade.strategies.base import Strategy
from fyerstrade.strategies.registry import available_strategies, load_errors
from fyerstrade.trading.defaults import MODES, RUN_DEFAULTS

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from fyerstrade.backtest.engine import BacktestResult

# The engine, the journal, metrics and the results view (pandas, plotly) are imported when a run
# starts or results are drawn: the first load of this page shows only the form.

log = logging.getLogger(__name__)
RESULT_KEY = "bt-result"
PREFILL_KEY = "bt-prefill"
FLASH_KEY = "bt-flash"
DEFAULT_STRATEGY = "sma_crossover"
#: Default span of the date range: the most recent this many days of what is stored.
DEFAULT_SPAN_DAYS = 183
#: The buy-and-hold preview under the form: points per symbol, and its height in pixels.
PREVIEW_POINTS = 400
PREVIEW_HEIGHT = 260
#: Session keys of the preview's deferral (see :func:`_preview`), and how long after the page's
#: first pass reaches the browser it asks for the pass that draws it: long enough for the form to
#: be drawn first on a busy machine (with 0.4 s the second pass arrived while the browser was
#: still drawing the form and held it up: Run button drawn 5.5 -> 4.3 s, median of 5, at load 7).
PREVIEW_SHOWN = "bt-preview-shown"
PREVIEW_PENDING = "bt-preview-pending"
PREVIEW_DELAY_SECONDS = 1.0
#: The run options kept while their inputs are hidden (widget key: starting value), and the key of
#: the switch that shows them.
OPTION_DEFAULTS: dict[str, Any] = {
    "bt-costs": RUN_DEFAULTS.costs,
    "bt-slip-ticks": RUN_DEFAULTS.slippage_ticks,
    "bt-slip-bps": RUN_DEFAULTS.slippage_bps,
    "bt-max-loss": None,
    "bt-max-positions": None,
}
OPTIONS_SHOWN = "bt-options"
#: The run's progress bar moves in this many steps (the engine reports every 1 %).
PROGRESS_STEPS = 10


def _resolutions_for(settings: Settings, symbols: list[str]) -> list[Resolution]:
    """Resolutions every picked symbol has stored or can build from finer stored bars."""
    common = set(RESOLUTIONS)
    for sym in symbols:
        common &= store_reads.buildable(settings, sym)
    return [r for r in RESOLUTIONS if r in common]


def _problems_box(problems: list[FormProblem]) -> None:
    for p in problems:
        st.error(f"{p.field.replace('_', ' ')}: {p.message}")


def _use_stored_range(lo: date, hi: date) -> None:
    """The "use the stored range" button's action (runs before the next rerun draws the form)."""
    st.session_state["bt-start"] = lo
    st.session_state["bt-end"] = hi


def _dates(settings: Settings, symbols: list[str], resolution: Resolution) -> tuple[
    date | None, date | None, tuple[date, date] | None
]:  # fmt: skip
    """The date inputs, with what is stored (or buildable) for the picked symbols."""
    first_ts, last_ts = store_reads.stored_range(settings, symbols, resolution)
    d1, d2 = st.columns(2)
    if not (first_ts and last_ts):
        if symbols:
            st.warning(
                f"No {resolution_label(resolution)} candles (or finer ones to build them from) "
                f"stored for all of {', '.join(symbols)}; fetch them on the Data page."
            )
        d1.date_input("Start", value=None, key="bt-start-none", disabled=True)
        d2.date_input("End", value=None, key="bt-end-none", disabled=True)
        return None, None, None
    lo, hi = ist_date(first_ts), ist_date(last_ts)
    built = {s.resolution for s in store_reads.sources(settings, symbols, resolution).values()} - {
        resolution
    }
    finer = ", ".join(bar_label(r) for r in sorted(built, key=lambda r: r.seconds))
    source = f" (built from {finer} bars)" if built else ""
    st.caption(f"Stored {resolution_label(resolution)} candles: {lo} → {hi}{source}")
    if "bt-start" not in st.session_state:
        st.session_state["bt-start"] = max(lo, hi - timedelta(days=DEFAULT_SPAN_DAYS))
    if "bt-end" not in st.session_state:
        st.session_state["bt-end"] = hi
    start = d1.date_input("Start", key="bt-start")
    end = d2.date_input("End", key="bt-end")
    start = start if isinstance(start, date) else None
    end = end if isinstance(end, date) else None
    if start is not None and end is not None and (start < lo or end > hi):
        st.button(
            f"Use the stored range {lo} → {hi}",
            key="bt-use-stored",
            on_click=_use_stored_range,
            args=(lo, hi),
        )
    return start, end, (lo, hi)


def _form(
    settings: Settings, strategies: dict[str, type[Strategy]]
) -> tuple[BacktestRequest, type[Strategy]] | None:
    """Draw the form; return the request when Run was clicked (Run is disabled, with the
    reasons shown, while the form has problems)."""
    names = sorted(strategies)
    first = names.index(DEFAULT_STRATEGY) if DEFAULT_STRATEGY in names else 0
    name = st.selectbox("Strategy", names, index=first, key="bt-strategy")
    cls = strategies[name]
    if cls.description:
        st.caption(cls.description)
    st.markdown("**Parameters**")
    raw = param_inputs(cls, key_prefix="bt-param")

    stored = store_reads.stored_symbols(settings)
    c1, c2 = st.columns([3, 1])
    symbols: list[str] = c1.multiselect(
        "Symbols (type to search)", stored, default=default_symbols(stored), key="bt-symbols"
    )
    indices = [s for s in symbols if is_index_symbol(s)]
    if indices and len(indices) < len(symbols):
        st.info(
            f"{', '.join(indices)}: an index cannot be traded; the strategy can read its bars, "
            "orders on it are refused."
        )
    resolutions = _resolutions_for(settings, symbols) if symbols else list(RESOLUTIONS)
    resolution: Resolution = c2.selectbox(
        "Resolution", resolutions or list(RESOLUTIONS), format_func=resolution_label,
        key="bt-resolution",
    )  # fmt: skip
    start, end, available = _dates(settings, symbols, resolution)

    m1, m2, m3, m4 = st.columns(4)
    mode = m1.radio(
        "Mode", MODES, index=MODES.index(RUN_DEFAULTS.mode), horizontal=True, key="bt-mode"
    )
    entry_start, entry_end = RUN_DEFAULTS.entry_start, RUN_DEFAULTS.entry_end
    square_off = RUN_DEFAULTS.square_off
    if mode == "intraday":
        entry_start = m2.time_input("Entries from", value=entry_start, key="bt-entry-start")
        entry_end = m3.time_input("Entries until", value=entry_end, key="bt-entry-end")
        square_off = m4.time_input("Square off at", value=square_off, key="bt-square-off")

    s1, s2, s3 = st.columns(3)
    capital = s1.number_input(
        "Capital (₹)", value=RUN_DEFAULTS.capital, step=10_000.0, min_value=0.0, key="bt-capital"
    )
    sizing = s2.radio(
        "Position size", ("by capital", "fixed quantity"), horizontal=True, key="bt-sizing"
    )
    quantity: int | None = None
    if sizing == "fixed quantity":
        quantity = int(s3.number_input("Quantity", value=1, step=1, key="bt-quantity"))
    costs, slip_ticks, slip_bps, max_loss, max_positions = _run_options()
    req = BacktestRequest(
        strategy=name,
        params=raw,
        symbols=symbols,
        resolution=resolution,
        start=start,
        end=end,
        mode=str(mode),
        capital=float(capital),
        quantity=quantity,
        costs=costs,
        slippage_ticks=slip_ticks,
        slippage_bps=slip_bps,
        entry_start=entry_start or RUN_DEFAULTS.entry_start,
        entry_end=entry_end or RUN_DEFAULTS.entry_end,
        square_off=square_off or RUN_DEFAULTS.square_off,
        max_daily_loss=max_loss,
        max_positions=max_positions,
        available=available,
    )
    _, problems = validate(req, cls)
    clicked = st.button("Run backtest", type="primary", key="bt-run", disabled=bool(problems))
    _problems_box(problems)
    _preview(settings, symbols, resolution, start, end)
    if not clicked:
        return None
    return req, cls


def _keep_options() -> None:
    """Keep the values of the run options' inputs across passes that do not draw them (Streamlit
    forgets a widget's value in a pass without the widget): each is set by this code, starting
    at the run defaults; the Optimize page's "open as backtest" sets them the same way."""
    for key, default in OPTION_DEFAULTS.items():
        st.session_state[key] = st.session_state.get(key, default)


def options_summary(
    costs: bool,
    slip_ticks: float,
    slip_bps: float,
    max_loss: float | None,
    max_positions: int | None,
) -> str:
    """One line of the run options as they stand (shown while their inputs are hidden)."""

    def num(x: float) -> str:
        return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}".rstrip("0")

    parts = [
        "Indian trading costs on" if costs else "no trading costs",
        f"slippage {num(slip_ticks)} ticks + {num(slip_bps)} bps"
        if slip_ticks or slip_bps
        else "no slippage",
        "no daily loss limit" if max_loss is None else f"max daily loss ₹{num(max_loss)}",
        "no limit on open positions"
        if max_positions is None
        else f"at most {max_positions} open position{'s' if max_positions != 1 else ''}",
    ]
    return " · ".join(parts)


def _run_options() -> tuple[bool, float, float, float | None, int | None]:
    """Trading costs, slippage and the risk limits: one line saying what they are, their inputs
    one switch away (not drawn until asked: the page's first pass draws a third fewer inputs).
    The inputs keep their values in the session, so the values are known before they are drawn."""
    _keep_options()
    state = st.session_state
    max_loss, max_positions = state["bt-max-loss"], state["bt-max-positions"]
    values = (
        bool(state["bt-costs"]),
        float(state["bt-slip-ticks"]),
        float(state["bt-slip-bps"]),
        None if max_loss is None else float(max_loss),
        None if max_positions is None else int(max_positions),
    )
    if not state.get(OPTIONS_SHOWN):
        st.caption(options_summary(*values))
    if not st.toggle("Change costs, slippage and risk limits", key=OPTIONS_SHOWN):
        return values
    k1, k2, k3 = st.columns(3)
    k1.checkbox("Indian trading costs", key="bt-costs")
    k2.number_input("Slippage (ticks)", step=0.5, key="bt-slip-ticks")
    k3.number_input("Slippage (bps)", step=1.0, key="bt-slip-bps")
    r1, r2, _ = st.columns(3)
    r1.number_input(
        "Max daily loss (₹)", min_value=0.0, step=500.0, key="bt-max-loss",
        placeholder="no limit",
        help="Reached: orders cancelled, positions closed at the next bar's open, no new entry "
        "until the next day. Empty: no limit.",
    )  # fmt: skip
    r2.number_input(
        "Max open positions", min_value=1, step=1, key="bt-max-positions",
        placeholder="no limit",
        help="No new entry while this many symbols hold a position. Empty: no limit.",
    )  # fmt: skip
    return values


def _preview(
    settings: Settings,
    symbols: list[str],
    resolution: Resolution,
    start: date | None,
    end: date | None,
) -> None:
    """Buy and hold of each picked symbol over the picked dates (percent from its first close):
    what the run will trade, and the baseline its strategy has to beat.

    Drawn before any run, it also makes the browser load its charting library (plotly.js,
    several MB that Streamlit loads on a page's first chart) while the trader is still choosing:
    Run's results then come with every chart drawn in the same pass, instead of grey
    placeholders for seconds after "saved". But not in the page's first pass: loading plotly.js
    there holds up drawing the form itself (about a second). The first pass leaves the preview
    out and starts a timer in the browser (a fragment with ``run_every``); when it fires (a
    second later, when the browser's main thread is free again) the page runs again, with the
    preview and without the timer (a full run stops a page's fragment timers). Any earlier
    rerun draws it as well.
    """
    if not st.session_state.get(PREVIEW_SHOWN):
        st.session_state[PREVIEW_SHOWN] = True
        st.session_state[PREVIEW_PENDING] = True
        _preview_soon()
        return
    if not symbols or start is None or end is None or start > end:
        return
    from fyerstrade.reporting.charts import comparison_figure

    curves: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
    for sym in symbols:
        ts, close = store_reads.closes(settings, sym, resolution, start, end, PREVIEW_POINTS)
        if len(ts):
            curves[sym] = (ts, close)
    if not curves:
        return
    fig = comparison_figure(
        curves, title="Buy and hold over the picked dates", max_points=PREVIEW_POINTS
    )
    fig.update_layout(height=PREVIEW_HEIGHT, margin={"t": 50, "b": 30})
    st.plotly_chart(fig, key="bt-preview", width="stretch")
    # The same figures as a table. Being a table, it also has the browser load Streamlit's table
    # code (about 1.4 MB of script) before Run, whose results end with the trade table.
    from fyerstrade.dashboard.results_view import ist_minutes, two_decimals

    columns = {
        "from": ist_minutes("from (IST)"),
        "to": ist_minutes("to (IST)"),
        "buy_and_hold": two_decimals("buy and hold (%)"),
    }
    st.dataframe(
        preview_table(curves), hide_index=True, key="bt-preview-table", column_config=columns
    )


def preview_table(
    curves: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]],
) -> pd.DataFrame:
    """Per symbol, from the preview's closes (thinned keeping the first, last, lowest and
    highest): the period, its first and last close, the range of closes and buy and hold."""
    import pandas as pd

    from fyerstrade.dashboard.results_view import IST_OFFSET

    rows = [
        {
            "symbol": sym,
            "from": pd.Timestamp(int(ts[0]), unit="s") + IST_OFFSET,
            "to": pd.Timestamp(int(ts[-1]), unit="s") + IST_OFFSET,
            "first_close": float(close[0]),
            "last_close": float(close[-1]),
            "lowest_close": float(close.min()),
            "highest_close": float(close.max()),
            "buy_and_hold": (float(close[-1]) / float(close[0]) - 1.0) * 100.0
            if close[0]
            else float("nan"),
        }
        for sym, (ts, close) in curves.items()
    ]
    return pd.DataFrame(rows)


@st.fragment(run_every=PREVIEW_DELAY_SECONDS)
def _preview_soon() -> None:
    """The timer of :func:`_preview`: nothing in the page's own pass; then the whole page again."""
    if st.session_state.pop(PREVIEW_PENDING, False):
        return
    st.rerun()


def run_and_save(
    settings: Settings,
    kwargs: dict[str, Any],
    progress: Callable[[float], None] | None = None,
) -> tuple[str, BacktestResult, dict[str, Any]]:
    """Run a validated configuration, save it in the journal; ``(run_id, result, metrics)``."""
    from fyerstrade.backtest.engine import BacktestConfig, run_backtest
    from fyerstrade.backtest.journal import save_run
    from fyerstrade.reporting.metrics import compute_metrics
    from fyerstrade.store.db import connect

    config = BacktestConfig(**kwargs)
    result = run_backtest(config, settings, progress=progress)
    metrics = compute_metrics(
        result.trades,
        result.equity_ts,
        result.equity,
        config.capital,
        settings.risk_free_rate,
        exposure=result.exposure,
    )
    conn = connect(settings.trading_db)
    try:
        run_id = save_run(conn, result, metrics)
    finally:
        conn.close()
    store_reads.clear()
    return run_id, result, metrics.to_dict()


def stepped(
    update: Callable[[float], None], steps: int = PROGRESS_STEPS
) -> Callable[[float], None]:
    """``update`` called with the share done (clamped to 0..1) only when it reaches the next of
    ``steps`` equal steps: the engine reports every 1 %, and each report drawn is a message to
    the browser and a redraw there, while the run and the browser share the machine's cores."""
    last = -1

    def progress(done: float) -> None:
        nonlocal last
        done = min(1.0, max(0.0, done))
        step = int(done * steps)
        if step != last:
            last = step
            update(done)

    return progress


def _run(settings: Settings, req: BacktestRequest, cls: type[Strategy]) -> None:
    kwargs, problems = validate(req, cls)
    if kwargs is None:
        _problems_box(problems)
        return
    bar = st.progress(0.0, text="running the backtest…")

    def progress(done: float) -> None:
        bar.progress(done, text=f"running the backtest… {done:.0%}")

    try:
        run_id, result, metrics = run_and_save(settings, kwargs, stepped(progress))
    except FyersTradeError as exc:
        bar.empty()
        st.error(str(exc))
        st.session_state.pop(RESULT_KEY, None)
        return
    except Exception as exc:  # a bug, not a user mistake: one line here, the traceback in the log
        log.exception("backtest from the dashboard failed")
        bar.empty()
        st.error(f"unexpected {type(exc).__name__}: {redact(str(exc))} (traceback in the log file)")
        st.session_state.pop(RESULT_KEY, None)
        return
    bar.empty()
    st.success(keep_result(run_id, result, metrics, float(kwargs["capital"]), cls))


def keep_result(
    run_id: str,
    result: BacktestResult,
    metrics: dict[str, Any],
    capital: float,
    cls: type[Strategy],
) -> str:
    """Keep a saved run's results for this page to show; returns the line that says so."""
    from fyerstrade.backtest.journal import run_facts
    from fyerstrade.dashboard.results_view import ResultView, run_notes

    st.session_state[RESULT_KEY] = ResultView(
        key=f"bt-{run_id}",
        capital=capital,
        metrics=metrics,
        trades=result.trades,
        equity_ts=result.equity_ts,
        equity=result.equity,
        bars=result.bars,
        indicators=result.indicators,
        notes=run_notes(run_facts(result)),
        plots=dict(cls.plots),
    )
    return (
        f"Run {run_id} saved: {len(result.trades)} trades over {result.bars_processed:,} bars "
        f"in {result.finished_at - result.started_at:.2f} s. It is listed on the Runs page."
    )


def prefill(values: dict[str, Any], message: str) -> None:
    """Another page's request to show a configuration here (the Optimize page's "open as
    backtest"): widget values by key, applied before the form is drawn, and a line to show."""
    st.session_state[PREFILL_KEY] = (values, message)


def _apply_prefill() -> None:
    pending = st.session_state.pop(PREFILL_KEY, None)
    if pending is None:
        return
    values, message = pending
    for key, value in values.items():
        st.session_state[key] = value
    st.session_state[FLASH_KEY] = message


def render_page() -> None:
    """Draw the Backtest page."""
    st.title("Backtest")
    settings = store_reads.dashboard_settings()
    try:
        strategies = available_strategies(settings)
    except FyersTradeError as exc:
        st.error(str(exc))
        return
    for problem in load_errors():  # user strategy files the lookup above failed to import
        st.warning(problem)
    if not store_reads.stored_symbols(settings):
        st.info(
            "The candle store is empty. Fetch candles on the Data page "
            "(or `fyerstrade data fetch`), or run `fyerstrade demo` for a filled demo store."
        )
        return
    _apply_prefill()
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash)
    with st.container(border=True):
        asked = _form(settings, strategies)
        if asked is not None:
            _run(settings, *asked)
    view = st.session_state.get(RESULT_KEY)
    if view is not None:
        from fyerstrade.dashboard.results_view import ResultView, render

        if isinstance(view, ResultView):
            st.header("Results")
            render(view)
