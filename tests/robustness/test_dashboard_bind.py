"""Binding the dashboard beyond 127.0.0.1 needs a password (else one line naming the setting and
the SSH tunnel, and nothing starts); the login compares in constant time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from fyerstrade.dashboard.launcher import port_in_use
from fyerstrade.dashboard.login import is_loopback, password_matches
from plugins.robustness import CliResult
from plugins.sim import free_port

PASSWORD = "a long dashboard password"


@pytest.mark.parametrize("command", ["dashboard", "demo"])
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com"])
def test_binding_beyond_loopback_without_a_password_is_refused(
    run_cli: Callable[..., CliResult], command: str, host: str
) -> None:
    port = free_port()
    result = run_cli(command, "--host", host, "--port", str(port), *(
        ["--no-browser"] if command == "demo" else []
    ))  # fmt: skip
    assert result.code == 2
    line = result.one_line
    assert f"--host {host} would open the dashboard" in line
    assert "FYERSTRADE_DASHBOARD_PASSWORD" in line and "SSH tunnel" in line
    assert not port_in_use("127.0.0.1", port)
    assert "simulator" not in result.out


def test_a_short_password_is_refused(
    run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FYERSTRADE_DASHBOARD_PASSWORD", "short")
    result = run_cli("dashboard", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.code == 2 and "at least 12 characters" in result.one_line
    assert "short" not in result.one_line


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
     ("[::1]", True), ("0.0.0.0", False), ("10.0.0.5", False), ("myhost", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_password_comparison() -> None:
    assert password_matches(PASSWORD, PASSWORD)
    assert not password_matches(PASSWORD[:-1], PASSWORD)
    assert not password_matches("", PASSWORD)


def _gated_page() -> None:
    import streamlit as st

    from fyerstrade.config import load_settings
    from fyerstrade.dashboard.login import require_login

    if require_login(load_settings(env_file=None)):
        st.write("inside the dashboard")


def test_the_login_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FYERSTRADE_DASHBOARD_PASSWORD", PASSWORD)
    at = AppTest.from_function(_gated_page, default_timeout=30)
    at.run()
    assert not at.exception
    assert [m.value for m in at.markdown if "inside" in m.value] == []
    at.text_input(key="login-password").set_value("nope")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert not [m for m in at.markdown if "inside" in m.value]
    at.text_input(key="login-password").set_value(PASSWORD)
    at.button[0].click().run()
    assert any("inside the dashboard" in m.value for m in at.markdown)
    assert not at.text_input  # the form is gone
    assert at.session_state["fyerstrade-logged-in"] is True  # only a flag is kept
    try:
        kept = at.session_state["login-password"]
    except KeyError:
        kept = ""
    assert kept != PASSWORD  # the form was cleared on submit


def test_without_a_password_there_is_no_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FYERSTRADE_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_function(_gated_page, default_timeout=30)
    at.run()
    assert any("inside the dashboard" in m.value for m in at.markdown)
