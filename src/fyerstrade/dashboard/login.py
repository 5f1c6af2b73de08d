"""The dashboard's login page, and the rule for binding beyond 127.0.0.1.

The dashboard can start and stop the live engine (and, with real trading switched on, place
orders), so it is never open to the network by accident:

- :func:`check_bind` (``fyerstrade dashboard`` and ``demo``, before anything starts): an address
  other than loopback needs ``FYERSTRADE_DASHBOARD_PASSWORD`` (at least
  :data:`MIN_PASSWORD_LENGTH` characters); without one the command refuses, naming the setting
  and the SSH-tunnel alternative (README, "Remote access").
- :func:`logged_in` / :func:`login_form` (first thing on every run of the app): when a password
  is configured, each browser session gets a navigation of one page, the login form, until the
  password is entered (every page's address leads there; Streamlit's own page discovery never
  runs, because the app always declares its navigation). The comparison is
  constant-time (``hmac.compare_digest`` of SHA-256 digests, so neither content nor length
  leaks through timing); the password is never logged, shown or kept in the session (only a
  "logged in" flag is).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import TYPE_CHECKING

from fyerstrade.errors import ConfigError, InputError

if TYPE_CHECKING:
    from fyerstrade.config import Settings

MIN_PASSWORD_LENGTH = 12
PASSWORD_SETTING = "FYERSTRADE_DASHBOARD_PASSWORD"  # noqa: S105 (a setting's name)
_SESSION_FLAG = "fyerstrade-logged-in"


def is_loopback(host: str) -> bool:
    """Whether ``host`` reaches only this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to bind ``host`` beyond loopback without a (long enough) dashboard password."""
    if is_loopback(host):
        return
    password = settings.dashboard_password
    if password is None:
        raise InputError(
            f"--host {host} would open the dashboard (which starts the engine and can place "
            f"orders) to the network without a login; set {PASSWORD_SETTING} in .env to "
            "require one, or keep 127.0.0.1 and reach it through an SSH tunnel "
            "(README: Remote access)"
        )
    if len(password.get_secret_value()) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"{PASSWORD_SETTING} must have at least {MIN_PASSWORD_LENGTH} characters to open "
            f"the dashboard on {host}"
        )


def password_matches(entered: str, expected: str) -> bool:
    """Constant-time comparison (digests first, so the length does not leak either)."""
    a = hashlib.sha256(entered.encode("utf-8")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def logged_in(settings: Settings) -> bool:
    """Whether this browser session may see the dashboard (always, without a password)."""
    if settings.dashboard_password is None:
        return True
    import streamlit as st

    return st.session_state.get(_SESSION_FLAG) is True


def login_form(settings: Settings) -> None:
    """The login page: a password form; the right password marks the session and reruns."""
    import streamlit as st

    password = settings.dashboard_password
    if password is None:
        return
    st.title("fyerstrade")
    with st.form("login", clear_on_submit=True):
        entered = st.text_input("Dashboard password", type="password", key="login-password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        if password_matches(entered, password.get_secret_value()):
            st.session_state[_SESSION_FLAG] = True
            st.rerun()
        st.error("Wrong password.")
    st.caption(f"The password is the {PASSWORD_SETTING} setting of the machine running it.")


def require_login(settings: Settings) -> bool:
    """True when this session may see the dashboard; otherwise draws the login form and returns
    False (the caller renders nothing else)."""
    if logged_in(settings):
        return True
    login_form(settings)
    return False
