"""Fixtures for anything that talks to Fyers: a running simulator and the environment pointing
the platform at it.

* ``sim``: a started :class:`~fyerstrade.sim.SimServer` on a free 127.0.0.1 port, seed 42, clock
  pinned to :data:`SIM_NOW` (Friday 2026-11-20 16:00 IST, after that session's close, so every
  bar of that day is complete). ``sim.now``, ``sim.url``, ``sim.stats``, ``sim.faults``.
* ``sim_env``: ``sim`` plus, set with monkeypatch, ``FYERSTRADE_FYERS_URL``,
  ``FYERS_APP_ID=SIM-100``, ``FYERS_SECRET_KEY=sim-secret`` and
  ``FYERS_REDIRECT_URI=http://127.0.0.1:<free port>/fyers/callback``; yields the sim.
* ``sdk_at_sim``: the official SDK's ``Config.API``/``DATA_API`` pointed at ``sim`` for one test
  (for tests that drive ``fyers_apiv3`` directly rather than through ``fyerstrade.fyers``).
* ``sim_token``: an access token obtained from ``sim`` through the SDK's own login flow.
* ``sdk_client(token, log_dir)``: a context manager giving an official ``FyersModel`` and closing
  the log files and HTTP session it leaves open (the SDK never closes them, and unclosed files are
  errors under this project's warning filter).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from fyerstrade.sim import DEFAULT_APP_ID, DEFAULT_SECRET, SimConfig, SimServer

SIM_SEED = 42
SIM_NOW = int(datetime(2026, 11, 20, 16, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sim(seed: int = SIM_SEED, now: int = SIM_NOW, **config: object) -> SimServer:
    """A started simulator with a pinned clock (callers stop it)."""
    server = SimServer(SimConfig(port=0, seed=seed, clock=lambda: now, **config))  # type: ignore[arg-type]
    server.start()
    return server


@pytest.fixture
def sim() -> Iterator[SimServer]:
    server = start_sim()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim_env(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> SimServer:
    monkeypatch.setenv("FYERSTRADE_FYERS_URL", sim.url)
    monkeypatch.setenv("FYERS_APP_ID", DEFAULT_APP_ID)
    monkeypatch.setenv("FYERS_SECRET_KEY", DEFAULT_SECRET)
    monkeypatch.setenv("FYERS_REDIRECT_URI", f"http://127.0.0.1:{free_port()}/fyers/callback")
    return sim


@pytest.fixture
def sdk_at_sim(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> SimServer:
    from fyers_apiv3 import fyersModel

    monkeypatch.setattr(fyersModel.Config, "API", f"{sim.url}/api/v3")
    monkeypatch.setattr(fyersModel.Config, "DATA_API", f"{sim.url}/data")
    return sim


def sdk_login(sim: SimServer, state: str = "st8") -> str:
    """The official SDK's login flow against ``sim`` (Config must already point at it)."""
    from fyers_apiv3 import fyersModel

    session = fyersModel.SessionModel(
        client_id=DEFAULT_APP_ID,
        secret_key=DEFAULT_SECRET,
        redirect_uri="http://127.0.0.1:9/fyers/callback",
        response_type="code",
        grant_type="authorization_code",
        state=state,
    )
    resp = requests.get(session.generate_authcode(), allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["state"] == [state]
    session.set_token(query["auth_code"][0])
    answer = session.generate_token()
    assert answer["s"] == "ok", answer
    return str(answer["access_token"])


@contextlib.contextmanager
def sdk_client(token: str, log_dir: Path) -> Iterator[Any]:
    """An official ``FyersModel`` for ``token`` (Config must already point at the sim)."""
    from fyers_apiv3 import fyersModel

    log_dir.mkdir(parents=True, exist_ok=True)
    client = fyersModel.FyersModel(client_id=DEFAULT_APP_ID, token=token, log_path=str(log_dir))
    try:
        yield client
    finally:
        close_sdk_client(client)


def close_sdk_client(client: Any) -> None:
    """Close what a ``FyersModel`` opened: its two log files and its ``requests`` session."""
    for sdk_logger in (client.api_logger, client.request_logger):
        handler = getattr(sdk_logger, "logger_handler", None)
        if isinstance(handler, logging.Handler):
            handler.close()
        std = getattr(sdk_logger, "_logger", None)
        if isinstance(std, logging.Logger):
            for h in list(std.handlers):
                if isinstance(h, logging.FileHandler):
                    std.removeHandler(h)
                    h.close()
    session = getattr(client.service, "session", None)
    if session is not None:
        session.close()


@pytest.fixture
def sim_token(sdk_at_sim: SimServer) -> str:
    return sdk_login(sdk_at_sim)
