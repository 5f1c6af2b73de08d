"""Fixtures for the simulator's order API: a simulator whose market clock a test steps by hand,
the official SDK logged in to it, and the SDK's order socket pointed at it.

* ``SteppedClock``: a :class:`~fyerstrade.sim.datasocket.MarketClock` that stands still until the
  test moves it (``to(ts)``, ``advance(seconds)``), so what an order trades against is fixed.
* ``order_sim`` (module-scoped server, reset for every test): seed 42, clock at :data:`OPEN_AT`
  (10:00 IST of the next trading day, so tokens are in the future of the wall clock); REST and
  market share the stepped clock. Yields an :class:`OrderSim` with ``server``, ``clock``,
  ``token``, ``client`` (an official ``FyersModel``) and helpers.
* A guard on every other test: a simulator it starts must see no call to an order endpoint
  (orders, multi-order, positions, tradebook) unless the test opted in (marker ``orders``, given
  automatically to tests that use ``order_sim``): without the real-trading opt-in nothing may
  place, modify or read orders.
* ``real_account(sim, monkeypatch, config)``: settings for a real-order setup on the simulator
  (``FYERSTRADE_REAL_TRADING=true``, app credentials, the live ``config`` YAML written, logged
  in through the product's simulator login).
* ``sdk_order_socket(token, url, inbox)``: an official ``FyersOrderSocket`` (not the process-wide
  singleton) redirected to the simulator, closed on a background thread at exit (its
  ``close_connection`` joins a ping thread that sleeps 10 s, and fails unless ``keep_running``
  was called).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings, load_settings
from fyerstrade.sim import DEFAULT_APP_ID, DEFAULT_SECRET, SimConfig, SimServer
from fyerstrade.sim.datasocket import MarketClock, hub_for
from fyerstrade.sim.exchange import Exchange
from fyerstrade.sim.universe import SimInstrument
from plugins.datasocket import MARKET_DAY, market_year_calendar
from plugins.sim import close_sdk_client, free_port, sdk_login

OPEN_AT = ist_epoch(MARKET_DAY, dtime(10, 0))
#: Account reads that are not order endpoints (the paper engine may read funds).
ACCOUNT_READS = frozenset({"GET /api/v3/funds", "GET /api/v3/holdings"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "orders: the test calls the simulator's order endpoints on purpose"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "order_sim" in getattr(item, "fixturenames", ()):
            item.add_marker("orders")


@pytest.fixture(autouse=True)
def _no_order_calls_without_opt_in(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if request.node.get_closest_marker("orders") is not None:
        yield
        return
    started: list[SimServer] = []
    original = SimServer.start

    def start(self: SimServer) -> str:
        url = original(self)
        started.append(self)
        return url

    monkeypatch.setattr(SimServer, "start", start)
    yield
    for server in started:
        calls = order_calls(server)
        assert not calls, f"order endpoints were called without the real-trading opt-in: {calls}"


def order_calls(server: SimServer) -> dict[str, int]:
    """The simulator's counted calls of order endpoints (account reads left out)."""
    calls: dict[str, int] = server.exchange.counters.snapshot()["calls"]
    return {k: v for k, v in calls.items() if k not in ACCOUNT_READS}


class SteppedClock(MarketClock):
    """Market time that moves only when told to."""

    def __init__(self, start: float) -> None:
        super().__init__(start, 1.0)
        self._lock2 = threading.Lock()
        self._t = float(start)

    def now(self) -> float:
        with self._lock2:
            return self._t

    def to(self, ts: float) -> None:
        with self._lock2:
            self._t = float(ts)

    def advance(self, seconds: float) -> None:
        with self._lock2:
            self._t += seconds

    def set(
        self, start: float | None = None, speed: float | None = None, *, paused: bool | None = None
    ) -> None:
        if start is not None:
            self.to(start)


def order_payload(symbol: str = "NSE:SBIN-EQ", **fields: Any) -> dict[str, Any]:
    """A complete place-order body (a market buy of 10 intraday), overridden by ``fields``."""
    body: dict[str, Any] = {
        "symbol": symbol,
        "qty": 10,
        "type": 2,
        "side": 1,
        "productType": "INTRADAY",
        "limitPrice": 0,
        "stopPrice": 0,
        "validity": "DAY",
        "disclosedQty": 0,
        "offlineOrder": False,
    }
    body.update(fields)
    return body


@dataclass
class OrderSim:
    server: SimServer
    clock: SteppedClock
    token: str
    client: Any

    @property
    def exchange(self) -> Exchange:
        return self.server.exchange

    @property
    def socket_url(self) -> str:
        return self.server.url.replace("http://", "ws://") + "/trade/v3"

    def inst(self, symbol: str = "NSE:SBIN-EQ") -> SimInstrument:
        inst = self.server.state.instrument(symbol)
        assert inst is not None, symbol
        return inst

    def ltp(self, symbol: str = "NSE:SBIN-EQ", at: int | None = None) -> float:
        t = int(self.clock.now()) if at is None else at
        last = self.exchange.market.ltp(self.inst(symbol), t)
        assert last is not None
        return last.price

    def order(self, order_id: str) -> dict[str, Any]:
        """The orderbook row of one order, read in-process (polling over HTTP would run into
        the 10 requests/s limit)."""
        rows = self.exchange.order_rows(order_id=order_id)
        assert len(rows) == 1, rows
        return dict(rows[0])


@pytest.fixture(scope="module")
def _order_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    from fyers_apiv3 import fyersModel

    clock = SteppedClock(OPEN_AT)
    server = SimServer(SimConfig(port=0, seed=42, clock=clock.now))
    hub_for(server.state).clock = clock
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fyersModel.Config, "API", f"{server.url}/api/v3")
        mp.setattr(fyersModel.Config, "DATA_API", f"{server.url}/data")
        token = sdk_login(server)
        log_dir = tmp_path_factory.mktemp("sdk-logs")
        client = fyersModel.FyersModel(client_id=DEFAULT_APP_ID, token=token, log_path=str(log_dir))
        try:
            yield server, clock, token, client
        finally:
            close_sdk_client(client)
            server.stop()


@pytest.fixture
def order_sim(_order_server: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch) -> OrderSim:
    from fyers_apiv3 import fyersModel

    server, clock, token, client = _order_server
    market_year_calendar()
    monkeypatch.setattr(fyersModel.Config, "API", f"{server.url}/api/v3")
    monkeypatch.setattr(fyersModel.Config, "DATA_API", f"{server.url}/data")
    clock.to(OPEN_AT)
    server.faults.reset()
    server.state.limiter.reset()
    server.exchange.reset()
    return OrderSim(server, clock, token, client)


def real_account(sim: OrderSim, monkeypatch: pytest.MonkeyPatch, config: str) -> Settings:
    """Settings of a real-order setup against ``sim`` (see the module docstring)."""
    from fyerstrade.demo import login_to_simulator

    monkeypatch.setenv("FYERSTRADE_FYERS_URL", sim.server.url)
    monkeypatch.setenv("FYERS_APP_ID", DEFAULT_APP_ID)
    monkeypatch.setenv("FYERS_SECRET_KEY", DEFAULT_SECRET)
    monkeypatch.setenv("FYERS_REDIRECT_URI", f"http://127.0.0.1:{free_port()}/fyers/callback")
    monkeypatch.setenv("FYERSTRADE_REAL_TRADING", "true")
    settings = load_settings(env_file=None)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.live_config_file.write_text(config, encoding="utf-8")
    login_to_simulator(settings)
    return settings


class Inbox:
    """What an order socket delivered, by callback."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[str, Any]] = []

    def __call__(self, kind: str) -> Any:
        def receive(message: Any = None) -> None:
            with self.lock:
                self.items.append((kind, message))

        return receive

    def of(self, kind: str) -> list[Any]:
        with self.lock:
            return [m for k, m in self.items if k == kind]


@contextlib.contextmanager
def sdk_order_socket(
    token: str, url: str, inbox: Inbox, log_dir: Path, *, reconnect: bool = False
) -> Iterator[Any]:
    from fyers_apiv3.FyersWebsocket.order_ws import FyersOrderSocket

    log_dir.mkdir(parents=True, exist_ok=True)
    sock = object.__new__(FyersOrderSocket)
    sock.__init__(
        access_token=f"{DEFAULT_APP_ID}:{token}",
        log_path=str(log_dir),
        reconnect=reconnect,
        on_orders=inbox("orders"),
        on_trades=inbox("trades"),
        on_positions=inbox("positions"),
        on_general=inbox("general"),
        on_error=inbox("error"),
        on_connect=inbox("connect"),
        on_close=inbox("close"),
    )
    sock._FyersOrderSocket__url = url
    try:
        yield sock
    finally:
        sock.restart_flag = False

        def close() -> None:
            ws = sock._FyersOrderSocket__ws_object
            if ws is not None:
                with contextlib.suppress(Exception):
                    ws.close()
            handler = sock.order_logger.logger_handler
            sock.order_logger._logger.removeHandler(handler)
            handler.close()

        threading.Thread(target=close, daemon=True).start()
