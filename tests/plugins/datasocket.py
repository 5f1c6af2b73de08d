"""Fixtures for the data socket: a simulator whose whole clock (REST and market) plays the next
trading day from 10:00 IST at high speed.

The SDK checks token expiry against the real time, so the simulated day must lie in the future:
tokens issued "at 10:00 IST next trading day" expire the morning after, still ahead of the wall
clock. REST (symbol-token, history) and ticks then agree on the date and on which bars are
complete.

* ``live_sim``: a started :class:`~fyerstrade.sim.SimServer` (seed 42, free port) on a
  :class:`~fyerstrade.sim.datasocket.MarketClock` starting at :data:`MARKET_START` and running at
  :data:`MARKET_SPEED` (four market minutes per wall second); the SDK's REST config and
  ``FYERSTRADE_FYERS_URL``/``FYERS_APP_ID`` point at it.
* ``live_token``: ``"SIM-100:<jwt>"``, the form the SDK's data socket wants, from the SDK login.
* ``private_sdk_socket(...)``: a context manager giving an official ``FyersDataSocket`` that is
  not the process-wide singleton, redirected to the simulator, closed on a background thread at
  exit (its ``close_connection`` blocks up to 10 s on its ping thread).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest

from fyerstrade.calendar import get_calendar, ist_date, ist_epoch
from fyerstrade.config import Settings, load_settings
from fyerstrade.sim import DEFAULT_APP_ID, DEFAULT_SECRET, SimConfig, SimServer
from fyerstrade.sim.datasocket import MarketClock, hub_for


def _market_day() -> date:
    """The next trading day after today (IST), or ``FYERSTRADE_TEST_MARKET_DAY`` (ISO date, a
    trading day still ahead of the wall clock): the simulated market's data are drawn for its
    day, so a failure seen on one day is played again by naming it."""
    named = os.environ.get("FYERSTRADE_TEST_MARKET_DAY", "")
    if named:
        day = date.fromisoformat(named)
        if day <= ist_date(int(time.time())) or not get_calendar(
            assume_weekdays=True
        ).is_trading_day(day):
            raise pytest.UsageError(
                f"FYERSTRADE_TEST_MARKET_DAY={named} must be a trading day after today (IST): "
                "the SDK checks the simulator's tokens against the real time"
            )
        return day
    return get_calendar(assume_weekdays=True).next_trading_day(ist_date(int(time.time())))


MARKET_DAY = _market_day()


def market_year_calendar(data_dir: Path | None = None) -> None:
    """In a year's last days the simulated day, or the session after it, can fall in a year
    whose NSE holiday list the calendar library does not have yet, and the engine would refuse
    to trade (or wait for) it. The simulator trades every weekday: the data directory (default:
    this test's) gets an ``nse_calendar.yaml`` that says so for those years, as a user adds a
    newly published year."""
    weekdays = get_calendar(assume_weekdays=True)
    end = weekdays.library_end.year
    days = (MARKET_DAY, weekdays.next_trading_day(MARKET_DAY))
    years = sorted({day.year for day in days if day.year > end})
    if not years:
        return
    path = (data_dir or Path(os.environ["FYERSTRADE_DATA_DIR"])) / "nse_calendar.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"years: [{', '.join(map(str, years))}]\n")


MARKET_START = ist_epoch(MARKET_DAY, dtime(10, 0))
MARKET_SPEED = 240.0


@contextlib.contextmanager
def clocked_sim(
    monkeypatch: pytest.MonkeyPatch, start: float, speed: float, **config: Any
) -> Iterator[SimServer]:
    """A started simulator whose REST and data-socket clocks are one
    :class:`~fyerstrade.sim.datasocket.MarketClock` from ``start`` at ``speed``, with the SDK's
    REST config, ``FYERSTRADE_FYERS_URL`` and the app credentials pointing at it."""
    from fyers_apiv3 import fyersModel

    market_year_calendar()
    clock = MarketClock(start, speed)
    server = SimServer(SimConfig(port=0, seed=42, clock=clock.now, **config))
    hub_for(server.state).clock = clock
    server.start()
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
def live_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with clocked_sim(monkeypatch, MARKET_START, MARKET_SPEED) as server:
        yield server


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


def pytest_report_header() -> str:
    return (
        f"simulated market day: {MARKET_DAY.isoformat()} (FYERSTRADE_TEST_MARKET_DAY plays another)"
    )
