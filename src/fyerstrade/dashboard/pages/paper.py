"""The Paper trading page: start and stop the live engine, watch it, and edit its config.

- Monitor (refreshed every :data:`REFRESH_S` seconds inside an ``st.fragment``, so only this
  part reruns and the page never reloads): Start / Stop, the engine's state, uptime, market
  time, last tick, ticks/bars/trades counts and its message (an expired login says how to log
  in); open positions with their live P&L (from the status file, or the last committed
  ``live_positions`` when the engine is not reporting); the session's trades; its equity curve;
  the debug log, newest first, filtered by level.
- Configuration: the ``live_config.yaml`` editor (:mod:`fyerstrade.dashboard.live_config_form`).
- On every view: PAPER or REAL (:mod:`fyerstrade.dashboard.trading_mode`); the kill switch; a
  REAL start asks for the account id; the session's orders with their statuses.

Reads are short read-only connections (:mod:`fyerstrade.dashboard.paper_reads`); the engine runs
in its own process (``fyerstrade live run``), so closing the dashboard does not stop it. Nothing
here ever shows a token: the status file holds none, and messages pass through ``redact``.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from fyerstrade.calendar import to_ist
from fyerstrade.config import Settings
from fyerstrade.dashboard import paper_reads, store_reads, trading_mode
from fyerstrade.dashboard.live_config_form import render_config_editor
from fyerstrade.errors import FyersTradeError
from fyerstrade.live.status import ACTIVE_STATES, EngineStatus
from fyerstrade.logs import redact
from fyerstrade.reporting.charts import equity_figure
from fyerstrade.strategies.registry import available_strategies, load_errors

#: Seconds between refreshes of the monitor.
REFRESH_S = 2.0
#: A running engine rewrites its status about once a second; older than this is worth a word.
STALE_AFTER_S = 15.0
LOG_LIMIT = 200
CONTROL_KEY = "pt-control-message"
STATE_COLOURS = {
    "running": "green",
    "warming_up": "blue",
    "starting": "blue",
    "waiting": "gray",
    "reconnecting": "orange",
    "halted": "orange",
    "auth_failed": "red",
    "error": "red",
    "stopped": "gray",
}
LOGIN_HINT = (
    "Log in again with `fyerstrade auth login` (the Data page shows the login status), "
    "then press Start."
)


def _ist_time(ts: int) -> str:
    return to_ist(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "—"


def _clock_text(ts: int) -> str:
    return to_ist(ts).strftime("%H:%M:%S") if ts else "—"


def duration_text(seconds: float) -> str:
    """``42 s``, ``5 min 07 s``, ``3 h 04 min``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def _rupees(x: float) -> str:
    return f"₹{x:,.2f}"


# ---- control -----------------------------------------------------------------------------


def _start(settings: Settings) -> None:
    from fyerstrade.live.control import start_engine

    try:
        with st.spinner("starting the engine…"):
            pid = start_engine(settings)
    except FyersTradeError as exc:
        st.session_state[CONTROL_KEY] = ("error", str(exc))
        return
    st.session_state[CONTROL_KEY] = ("success", f"Started the live engine (pid {pid}).")


def _stop(settings: Settings) -> None:
    from fyerstrade.live.control import stop_engine

    try:
        with st.spinner("stopping the engine (open positions handled as configured)…"):
            was_running = stop_engine(settings)
    except FyersTradeError as exc:
        st.session_state[CONTROL_KEY] = ("error", str(exc))
        return
    text = "Stopped the live engine." if was_running else "The engine was not running."
    st.session_state[CONTROL_KEY] = ("success", text)


def _process_up(status: EngineStatus) -> bool:
    return status.pid > 0 or status.state in ACTIVE_STATES


def _controls(settings: Settings, status: EngineStatus) -> bool:
    """Start / Stop and the outcome of the last click; True when a button was clicked now.

    The engine process may outlive an auth failure or an error (the scheduler waits for the
    next session), so what enables Stop is a live process, not the state. A REAL setup starts
    only through the confirmation form (the account id typed)."""
    active = _process_up(status)
    b1, b2, _ = st.columns([1, 1, 10])
    clicked = False
    if trading_mode.is_real(settings):
        if not active:
            with st.expander("Start REAL trading", expanded=False):
                if trading_mode.real_start_form(settings):
                    _start(settings)
                    clicked = True
    elif b1.button("Start", type="primary", disabled=active, key="pt-start"):
        _start(settings)
        clicked = True
    if b2.button("Stop", disabled=not active, key="pt-stop"):
        _stop(settings)
        clicked = True
    shown = st.session_state.get(CONTROL_KEY)
    if shown:
        kind, text = shown
        (st.error if kind == "error" else st.success)(redact(text))
    return clicked


# ---- status ------------------------------------------------------------------------------


def _status_header(status: EngineStatus) -> None:
    colour = STATE_COLOURS.get(status.state, "gray")
    label = status.state.replace("_", " ")
    head = f":{colour}-badge[{label}]"
    if status.pid:
        head += f" &nbsp; pid {status.pid}"
    if status.session_id:
        head += f" &nbsp; session {status.session_id}"
    if status.strategy:
        head += f" &nbsp; {status.strategy} on {', '.join(status.symbols)}"
    st.markdown(head)
    message = redact(status.message)
    if status.state == "auth_failed":
        st.error(f"{message or 'The Fyers login is missing or expired.'} {LOGIN_HINT}")
    elif status.state == "error":
        st.error(message or "The engine stopped on an error; see the log file.")
    elif status.state == "halted":
        st.warning(message or "A risk limit was breached: no new entries today.")
    elif message:
        st.caption(message)
    now = time.time()
    if (
        status.state in ACTIVE_STATES
        and status.updated_at
        and now - status.updated_at > STALE_AFTER_S
    ):
        st.warning(
            f"The engine has not updated its status for {duration_text(now - status.updated_at)}."
        )  # fmt: skip


def margin_figures(status: EngineStatus, leverage: float) -> tuple[float, float]:
    """(margin used, margin available) as the trading core counts them: each open position
    blocks quantity × average price / leverage (1 for CNC, the intraday leverage otherwise);
    what is available is equity minus that."""
    used = 0.0
    for p in status.positions:
        qty = int(p.get("quantity", 0) or 0)
        if not qty:
            continue
        lev = 1.0 if str(p.get("product", "")) == "CNC" else max(leverage, 1.0)
        used += abs(qty) * float(p.get("avg_price", 0.0) or 0.0) / lev
    return used, status.equity - used


def _leverage(settings: Settings) -> float:
    """The intraday leverage of the saved live config (the default when there is none)."""
    from fyerstrade.live.config import load_live_config
    from fyerstrade.trading.defaults import RUN_DEFAULTS

    try:
        return float(load_live_config(settings.live_config_file).intraday_leverage)
    except FyersTradeError:
        return RUN_DEFAULTS.intraday_leverage


def _metrics(status: EngineStatus, leverage: float) -> None:
    active = _process_up(status)
    uptime = duration_text(time.time() - status.started_at) if active and status.started_at else "—"
    tick_age = None
    if status.last_tick_ts and status.market_time:
        lag = duration_text(status.market_time - status.last_tick_ts)
        tick_age = f"{lag} before the market time; {_ist_time(status.last_tick_ts)} IST"
    cols = st.columns(6)
    cols[0].metric("Uptime", uptime)
    cols[1].metric("Market time (IST)", _clock_text(status.market_time))
    cols[2].metric("Last tick (IST)", _clock_text(status.last_tick_ts), help=tick_age)
    cols[3].metric("Ticks", f"{status.ticks:,}")
    cols[4].metric("Bars", f"{status.bars:,}")
    cols[5].metric("Trades", f"{status.trades:,}")
    if status.equity or status.cash:
        used, available = margin_figures(status, leverage)
        c = st.columns(5)
        c[0].metric("Equity", _rupees(status.equity))
        c[1].metric(
            "Margin used", _rupees(used),
            help=f"margin blocked by open positions: CNC at 1×, intraday at {leverage:g}×",
        )  # fmt: skip
        c[2].metric(
            "Margin available", _rupees(available),
            help=f"equity minus margin used; cash {_rupees(status.cash)} (it goes negative "
            "when leverage buys more than the cash, and up with short-sale proceeds)",
        )  # fmt: skip
        c[3].metric("Day P&L", _rupees(status.day_pnl))
        c[4].metric("Open positions", len([p for p in status.positions if p.get("quantity")]))


# ---- tables ------------------------------------------------------------------------------


def positions_frame(settings: Settings, status: EngineStatus) -> tuple[pd.DataFrame, str]:
    """Open positions with their P&L, and where they come from: the engine's status (live prices)
    while it reports, else the last committed ``live_positions``."""
    if status.state in ACTIVE_STATES and status.updated_at:
        rows: list[dict[str, Any]] = [p for p in status.positions if p.get("quantity")]
        frame = pd.DataFrame(
            {
                "symbol": [str(p.get("symbol", "")) for p in rows],
                "quantity": [int(p.get("quantity", 0)) for p in rows],
                "avg price": [float(p.get("avg_price", 0.0)) for p in rows],
                "last price": [float(p.get("last_price", 0.0)) for p in rows],
                "unrealized P&L": [round(float(p.get("unrealized_pnl", 0.0)), 2) for p in rows],
                "product": [str(p.get("product", "")) for p in rows],
            }
        )
        return frame, f"live prices at {_ist_time(status.market_time)} IST"
    stored = paper_reads.stored_positions(settings)
    frame = pd.DataFrame(
        {
            "symbol": [p.symbol for p in stored],
            "quantity": [p.quantity for p in stored],
            "avg price": [p.avg_price for p in stored],
            "realized P&L": [round(p.realized_pnl, 2) for p in stored],
            "product": [p.product for p in stored],
            "session": [p.session_id for p in stored],
            "updated (IST)": [_ist_time(p.updated_ts) for p in stored],
        }
    )
    return frame, "as last recorded by the engine (it is not reporting now)"


def trades_frame(trades: list[paper_reads.PaperTrade]) -> pd.DataFrame:
    """A session's fills as a table, newest first."""
    ordered = list(reversed(trades))
    return pd.DataFrame(
        {
            "time (IST)": [_ist_time(t.ts) for t in ordered],
            "symbol": [t.symbol for t in ordered],
            "side": [str(t.side).lower() for t in ordered],  # buy / sell: these are fills
            "quantity": [t.quantity for t in ordered],
            "price": [t.price for t in ordered],
            "costs": [round(t.costs, 2) for t in ordered],
            "realized P&L": [round(t.realized_pnl, 2) for t in ordered],
            "product": [t.product for t in ordered],
            "tag": [t.tag for t in ordered],
        }
    )


def log_frame(lines: list[paper_reads.DebugLine]) -> pd.DataFrame:
    """Debug log lines as a table (already newest first)."""
    return pd.DataFrame(
        {
            "time (IST)": [_ist_time(d.ts) for d in lines],
            "level": [d.level for d in lines],
            "source": [d.source for d in lines],
            "symbol": [d.symbol for d in lines],
            "message": [redact(d.message) for d in lines],
        }
    )


def _session_choice(settings: Settings, status: EngineStatus) -> str | None:
    known = paper_reads.sessions(settings)
    today = paper_reads.trading_day(status.session_id)
    if today and today not in known:
        known = [today, *known]
    if not known:
        return None
    current = known.index(today) if today in known else 0
    choice: str = st.selectbox("Session", known, index=current, key="pt-session")
    return choice


def _session_sections(settings: Settings, status: EngineStatus) -> None:
    st.subheader("Positions")
    frame, source = positions_frame(settings, status)
    if frame.empty:
        st.caption("No open positions.")
    else:
        st.caption(source)
        st.dataframe(frame, hide_index=True, width="stretch")

    session = _session_choice(settings, status)
    if session is None:
        st.caption("No paper session recorded yet: trades and equity appear once the engine runs.")
        return
    orders = paper_reads.session_orders(settings, session)
    st.subheader(f"Orders ({len(orders)})")
    if orders:
        st.dataframe(trading_mode.orders_frame(orders), hide_index=True, width="stretch")
    else:
        st.caption(f"No orders in session {session} yet.")

    trades = paper_reads.session_trades(settings, session)
    st.subheader(f"Trades ({len(trades)})")
    if trades:
        from fyerstrade.dashboard.results_view import pnl_styled

        st.dataframe(pnl_styled(trades_frame(trades), "realized P&L"), hide_index=True,
                     width="stretch")  # fmt: skip
    else:
        st.caption(f"No trades in session {session} yet.")

    curve = paper_reads.equity_curve(settings, session)
    st.subheader("Equity")
    if len(curve):
        fig = equity_figure(
            curve.ts,
            curve.equity,
            title=f"Equity, session {session}",
            initial_capital=float(curve.equity[0]),
        )
        st.plotly_chart(fig, width="stretch", key="pt-equity")
    else:
        st.caption(f"No equity recorded in session {session} yet.")


def _debug_section(settings: Settings) -> None:
    st.subheader("Debug log")
    levels: list[str] = st.multiselect(
        "Levels",
        paper_reads.DEBUG_LEVELS,
        default=[lv for lv in paper_reads.DEBUG_LEVELS if lv != "DEBUG"],
        key="pt-log-levels",
    )
    lines = paper_reads.debug_log(settings, levels, limit=LOG_LIMIT)
    if lines:
        st.dataframe(log_frame(lines), hide_index=True, width="stretch")
        if len(lines) == LOG_LIMIT:
            st.caption(f"The newest {LOG_LIMIT} lines; the full log is in trading_log.sqlite.")
    else:
        st.caption("No log lines at these levels.")


@st.fragment(run_every=REFRESH_S)
def monitor(settings: Settings) -> None:
    """The engine's controls and state; reruns on its own every :data:`REFRESH_S` seconds."""
    try:
        status = paper_reads.engine_state(settings)
        trading_mode.kill_panel(settings)
        if _controls(settings, status):  # a click changed the state: show the new one
            status = paper_reads.engine_state(settings)
        _status_header(status)
        _metrics(status, _leverage(settings))
        _session_sections(settings, status)
        _debug_section(settings)
    except FyersTradeError as exc:
        st.error(str(exc))


def render_page() -> None:
    """Draw the Paper trading page."""
    settings = store_reads.dashboard_settings()
    st.title("Live trading — REAL orders" if trading_mode.is_real(settings) else "Paper trading")
    trading_mode.mode_banner(settings)
    tab_monitor, tab_config = st.tabs(["Monitor", "Configuration"])
    with tab_monitor:
        monitor(settings)
    with tab_config:
        try:
            strategies = available_strategies(settings)
        except FyersTradeError as exc:
            st.error(str(exc))
            return
        for problem in load_errors():
            st.warning(problem)
        status = read_state_quietly(settings)
        if status is not None and status.state in ACTIVE_STATES:
            st.info(
                "The running engine keeps the config it started with: "
                "stop and start it to apply a saved change."
            )
        render_config_editor(settings, strategies)


def read_state_quietly(settings: Settings) -> EngineStatus | None:
    """The engine state, or None when it cannot be read (the monitor shows why)."""
    try:
        return paper_reads.engine_state(settings)
    except FyersTradeError:
        return None
