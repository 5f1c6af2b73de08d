"""What the live views show about money at risk: a PAPER or REAL banner, the kill switch (pull
it; unlock it by typing ``UNLOCK``), the confirmation a REAL start needs (the account id typed
after seeing the account, funds, symbols and limits), and the session's orders with their
statuses.

The same rules as the command line, through the same functions
(:mod:`fyerstrade.live.kill`, :mod:`fyerstrade.live.killswitch`,
:mod:`fyerstrade.live.real_gate`): the dashboard adds no path of its own to the broker.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fyerstrade.calendar import to_ist
from fyerstrade.config import Settings
from fyerstrade.dashboard.paper_reads import LiveOrder
from fyerstrade.errors import FyersTradeError
from fyerstrade.live.kill import real_configured
from fyerstrade.live.killswitch import UNLOCK_PHRASE, KillSwitch
from fyerstrade.logs import redact

__all__ = ["is_real", "kill_panel", "mode_banner", "orders_frame", "real_start_form"]

MESSAGE_KEY = "ks-message"


def is_real(settings: Settings) -> bool:
    """Whether the saved live config places real orders on this machine."""
    return real_configured(settings)


def mode_banner(settings: Settings) -> bool:
    """The unmistakable PAPER / REAL line at the top of every live view; returns ``is_real``."""
    real = is_real(settings)
    if real:
        st.error(
            "**REAL ORDERS** — this live setup sends orders to Fyers with real money "
            "(broker: fyers, FYERSTRADE_REAL_TRADING=true).",
            icon="🔴",
        )
    else:
        st.info("**PAPER** — simulated fills on live prices; no order reaches Fyers.", icon="📝")
    return real


def _ist(ts: float) -> str:
    return to_ist(int(ts)).strftime("%Y-%m-%d %H:%M:%S") if ts else "—"


def kill_panel(settings: Settings) -> None:
    """The kill switch: its state, the button, and the unlock form while it is on."""
    switch = KillSwitch(settings.data_dir)
    state = switch.state()
    shown = st.session_state.pop(MESSAGE_KEY, None)
    if shown:
        kind, text = shown
        (st.error if kind == "error" else st.success)(redact(text))
    if state.active:
        st.error(
            f"**KILL SWITCH ON** since {_ist(state.since)} IST ({state.source}): "
            f"{redact(state.reason)}. No new order is sent."
        )
        if state.flattened:
            st.caption(f"Flattened: {redact(state.flattened)}")
        typed = st.text_input(f"Type {UNLOCK_PHRASE} to allow orders again", key="ks-unlock-text")
        if st.button("Unlock", key="ks-unlock"):
            try:
                switch.unlock(typed, "dashboard")
            except FyersTradeError as exc:
                st.session_state[MESSAGE_KEY] = ("error", str(exc))
            else:
                st.session_state[MESSAGE_KEY] = ("success", "Kill switch off: orders allowed.")
            st.rerun()
        return
    cols = st.columns([3, 2])
    reason = cols[0].text_input(
        "Kill switch reason", value="", placeholder="why (recorded)", key="ks-reason"
    )
    if cols[1].button(
        "Kill switch: cancel all, exit all", type="primary", key="ks-pull", width="stretch"
    ):
        from fyerstrade.live.kill import pull

        with st.spinner("kill switch: cancelling resting orders and exiting positions…"):
            try:
                outcome = pull(settings, reason or "pressed on the dashboard", "dashboard")
            except FyersTradeError as exc:
                st.session_state[MESSAGE_KEY] = ("error", f"kill switch: {exc}")
            else:
                kind = "success" if outcome.flat else "error"
                st.session_state[MESSAGE_KEY] = (kind, " · ".join(outcome.lines))
        st.rerun()


def real_start_form(settings: Settings) -> bool:
    """For a REAL setup: the account, funds, symbols and limits, and the account id to type.
    Returns True when the start was confirmed (the confirmation is written; start the engine
    right after)."""
    from fyerstrade.fyers.order_gateway import OrderGateway
    from fyerstrade.live.config import load_live_config
    from fyerstrade.live.real_gate import check_typed_account, start_summary, write_confirmation

    try:
        config = load_live_config(settings.live_config_file, settings)
        gateway = OrderGateway.from_settings(settings)
        funds = gateway.funds()
        summary = start_summary(config, gateway.profile(), funds.available, funds.total)
    except FyersTradeError as exc:
        st.error(f"Cannot prepare a real start: {exc}")
        return False
    st.warning(summary.render().replace("\n", "  \n"))
    typed = st.text_input(
        f"Type the account id ({summary.fy_id}) to start REAL trading", key="real-account"
    )
    if not st.button("Start REAL trading", type="primary", key="real-start"):
        return False
    try:
        check_typed_account(typed, summary.fy_id)
    except FyersTradeError as exc:
        st.error(str(exc))
        return False
    write_confirmation(settings, config, summary.fy_id)
    return True


def orders_frame(orders: list[LiveOrder]) -> pd.DataFrame:
    """A session's orders with their statuses, newest first."""
    ordered = list(reversed(orders))
    return pd.DataFrame(
        {
            "time (IST)": [_ist(o.created_ts) for o in ordered],
            "symbol": [o.symbol for o in ordered],
            "side": [o.side for o in ordered],
            "quantity": [o.quantity for o in ordered],
            "type": [o.order_type for o in ordered],
            "limit": [o.limit_price for o in ordered],
            "stop": [o.stop_price for o in ordered],
            "status": [o.status for o in ordered],
            "filled": [o.filled_quantity for o in ordered],
            "avg price": [o.avg_fill_price for o in ordered],
            "reason": [redact(o.reject_reason) for o in ordered],
            "broker id": [o.broker_id for o in ordered],
            "order": [o.order_id for o in ordered],
        }
    )
