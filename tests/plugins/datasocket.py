"""Fixtures for the data socket: a simulator on the wall clock (the SDK checks token expiry
against the real time) whose market clock plays a trading session at high speed.

* ``live_sim``: a started :class:`~fyerstrade.sim.SimServer` (seed 42, wall clock, free port),
  the SDK's REST config and ``FYERSTRADE_FYERS_URL``/``FYERS_APP_ID`` pointing at it, and its
  market clock at :data:`MARKET_START` (Friday 2026-11-20 10:00 IST) running at
  :data:`MARKET_SPEED` (four market minutes per wall second).
* ``live_token``: ``"SIM-100:<jwt>"``, the form the SDK's data socket wants, from the SDK login.
* ``private_sdk_socket(...)``: a context manager giving an official ``FyersDataSocket`` that is
  not the process-wide singleton, redirected to the simulator, closed on a background thread at
  exit (its ``close_connection`` blocks up to 10 s on its ping thread).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fyerstrade.config import Settings, load_settings
from fyerstrade.sim import DEFAULT_APP_ID, DEFAULT_SECRET, SimConfig, SimServer
from fyerstrade.sim.datasocket import hub_for

MARKET_START = int(datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp())
MARKET_SPEED = 240.0


@pytest.fixture
def live_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    from fyers_apiv3 import fyersModel

    server = SimServer(SimConfig(port=0, seed=42))
    server.start()
    hub_for(server.state).clock.set(MARKET_START, MARKET_SPEED)
    monkeypatch.setattr(fyersModel.Config, "API", f"{server.url}/api/v3")
    monkeypatch.setattr(fyersModel.Config, "DATA_API", f"{server.url}/data")
    monkeypatch.setenv("FYERSTRADE_FYERS_URL", server.url)
    monkeypatch.setenv("FYERS_APP_ID", DEFAULT_APP_ID)
    monkeypatch.setenv("FYERS_SECRET_KEY", DEFAULT_SECRET)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_token(live_sim: SimServer) -> str:
    from plugins.sim import sdk_login  # imported late: plugins load in name order

    return f"{DEFAULT_APP_ID}:{sdk_login(live_sim)}"


@pytest.fixture
def live_settings(live_sim: SimServer) -> Settings:
    return load_settings(env_file=None)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds (no fixed sleeps)."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or predicate}")
        pause.wait(0.02)


@contextlib.contextmanager
def private_sdk_socket(token: str, settings: Settings, **kwargs: Any) -> Iterator[Any]:
    from fyers_apiv3.FyersWebsocket.data_ws import FyersDataSocket

    from fyerstrade.fyers import endpoints

    settings.log_dir.mkdir(parents=True, exist_ok=True)
    sdk = object.__new__(FyersDataSocket)
    sdk.__init__(access_token=token, log_path=str(settings.log_dir), reconnect=False, **kwargs)
    endpoints.redirect_data_socket(sdk, settings)
    try:
        yield sdk
    finally:

        def close() -> None:
            with contextlib.suppress(Exception):
                sdk.close_connection()
            handler = sdk.data_logger.logger_handler
            sdk.data_logger._logger.removeHandler(handler)
            handler.close()

        threading.Thread(target=close, daemon=True).start()
