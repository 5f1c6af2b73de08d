"""Order updates from Fyers' order WebSocket, kept connected (:class:`OrderStream`).

Life of an update: Fyers (or the simulator) → the SDK's ``FyersOrderSocket`` thread → the pure
parsers of :mod:`fyerstrade.fyers.orders` → ``OrderStream.updates`` (a queue of
:class:`~fyerstrade.fyers.orders.BrokerOrder`, :class:`~fyerstrade.fyers.orders.BrokerTrade`,
:class:`~fyerstrade.fyers.orders.BrokerPosition` and :class:`Connected` markers) → the broker's
own thread. The SDK thread does nothing else.

What the stream adds to the SDK (fyers-api.md §10, real-trading.md A5):

* **A private socket per connection**, not the process-wide singleton, closed on a background
  thread (the SDK's ``close_connection`` raises unless ``keep_running`` was called), whose
  threads end with it (:mod:`fyerstrade.fyers.sdk_threads`: the SDK's own ping thread, not a
  daemon, slept 10 s and kept a finished real-trading engine alive that long).
* **Connected means subscribed**: the SDK calls ``on_connect`` whether or not the handshake
  worked; the stream waits for the server's subscription acknowledgement (code 1605). A refused
  handshake (HTTP 403: the token) is an :class:`~fyerstrade.errors.AuthError` and stops the
  stream.
* **Its own reconnects** (the SDK's wait 5 s and more, and do not re-subscribe), with backoff.
* **Every (re)connection is announced** with a :class:`Connected` marker in the queue: the socket
  never replays what was missed, so the consumer must read the orderbook, the tradebook and the
  positions over REST each time it sees one (and at a fixed interval anyway: a silent socket
  cannot be told from a quiet one).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fyerstrade.config import Settings
from fyerstrade.errors import AuthError, DataError, FyersTradeError, RetryableError
from fyerstrade.fyers import endpoints
from fyerstrade.fyers.orders import (
    BrokerOrder,
    BrokerPosition,
    BrokerTrade,
    parse_order,
    parse_position,
    parse_trade,
)
from fyerstrade.fyers.sdk_threads import end_with_connection
from fyerstrade.logs import register_secret

__all__ = ["Connected", "OrderStream", "Update"]

log = logging.getLogger(__name__)

SUBSCRIBE = "OnOrders,OnTrades,OnPositions,OnGeneral"
ACK_CODE = 1605
ACK_TIMEOUT = 10.0
LOGIN_HINT = "log in again with `fyerstrade auth login`"
PING_TEXT = "ping"  # the SDK's keep-alive frame, sent every sdk_threads.PING_SECONDS


@dataclass(frozen=True, slots=True)
class Connected:
    """The stream is (again) subscribed; ``count`` is 1 for the first connection. Everything
    before it that the socket did not deliver is lost: reconcile over REST now."""

    count: int


Update = BrokerOrder | BrokerTrade | BrokerPosition | Connected


class _Connection:
    def __init__(self) -> None:
        self.sdk: Any = None
        self.subscribed = threading.Event()
        self.closed = threading.Event()
        self.retired = threading.Event()  # we are done with it (closing or closed)
        self.forbidden = False


class OrderStream:
    """Parsed order-socket updates for ``access_token`` (``"APP_ID:JWT"``), reconnecting."""

    def __init__(
        self,
        settings: Settings,
        access_token: str,
        *,
        reconnect_delays: Sequence[float] = (1.0, 2.0, 5.0, 10.0, 30.0),
    ) -> None:
        if ":" not in access_token:
            raise AuthError(f"the order socket needs the token as APP_ID:TOKEN; {LOGIN_HINT}")
        register_secret(access_token.partition(":")[2])
        self.settings = settings
        self.reconnect_delays = tuple(reconnect_delays) or (1.0,)
        self.updates: queue.SimpleQueue[Update] = queue.SimpleQueue()
        self.error: FyersTradeError | None = None
        self.connects = 0
        self.parse_errors = 0
        self._token = access_token
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._live = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: _Connection | None = None
        self._deliver = threading.Lock()
        self._closers: list[threading.Thread] = []

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fyers-orders", daemon=True)
        self._thread.start()

    def stop(self, *, wait: bool = False) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=ACK_TIMEOUT + 5)
            self._thread = None
        with self._deliver:
            conn, self._conn = self._conn, None
        self._retire(conn)
        if wait:
            for t in self._closers:
                t.join()

    @property
    def live(self) -> bool:
        return self._live.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_live(self, timeout: float) -> bool:
        return self._live.wait(timeout)

    # ------------------------------------------------------------------ supervisor

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            if self._conn is None:
                if self.connects:
                    delay = self.reconnect_delays[min(attempt, len(self.reconnect_delays) - 1)]
                    if self._stop.wait(delay):
                        break
                attempt += 1
                try:
                    self._conn = self._connect()
                except AuthError as exc:
                    self.error = exc
                    log.error("order stream stopped: %s", exc)
                    return
                except RetryableError as exc:
                    log.warning("order stream: %s; retrying", exc)
                    continue
                attempt = 0
            conn = self._conn
            self._wake.wait(0.2)
            self._wake.clear()
            if conn.closed.is_set():
                log.warning("order stream: the connection closed; reconnecting")
                self._live.clear()
                self._retire(conn)
                self._conn = None

    def _connect(self) -> _Connection:
        from fyers_apiv3.FyersWebsocket.order_ws import FyersOrderSocket

        self.connects += 1
        conn = _Connection()
        log_dir = self.settings.log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        sdk = object.__new__(FyersOrderSocket)  # FyersOrderSocket() is a process-wide singleton
        sdk.__init__(
            access_token=self._token,
            log_path=str(log_dir),
            reconnect=False,
            on_orders=lambda m: self._on_update(conn, m, "orders"),
            on_trades=lambda m: self._on_update(conn, m, "trades"),
            on_positions=lambda m: self._on_update(conn, m, "positions"),
            on_general=lambda m: self._on_general(conn, m),
            on_error=lambda m: self._on_error(conn, m),
            on_connect=lambda: None,
            on_close=lambda m: self._on_close(conn),
        )
        sdk._FyersOrderSocket__url = endpoints.order_socket_url(self.settings.fyers_url)
        end_with_connection(sdk, conn.retired, sdk_class="FyersOrderSocket", frame=PING_TEXT)
        conn.sdk = sdk
        with self._deliver:
            self._conn = conn
        sdk.connect()  # starts the socket thread, sleeps 2 s, calls on_connect whatever happened
        if conn.forbidden:
            self._retire(conn)
            raise AuthError(f"the order socket refused the access token (HTTP 403); {LOGIN_HINT}")
        if not sdk.is_connected():
            self._retire(conn)
            raise RetryableError("the order socket did not open")
        sdk.subscribe(data_type=SUBSCRIBE)
        deadline = time.monotonic() + ACK_TIMEOUT
        while not conn.subscribed.wait(0.05):
            if time.monotonic() > deadline or conn.closed.is_set() or self._stop.is_set():
                self._retire(conn)
                raise RetryableError("the order socket did not acknowledge the subscription")
        self._live.set()
        self.updates.put(Connected(self.connects))
        log.info("order stream live (connection %d)", self.connects)
        return conn

    def _retire(self, conn: _Connection | None) -> None:
        """Close an SDK socket on a background thread and release its log file."""
        if conn is None or conn.sdk is None:
            return
        sdk, conn.sdk = conn.sdk, None
        conn.retired.set()
        sdk.restart_flag = False

        def close() -> None:
            ws = getattr(sdk, "_FyersOrderSocket__ws_object", None)
            if ws is not None:
                with contextlib.suppress(Exception):
                    ws.close()
            logger = getattr(sdk, "order_logger", None)
            handler = getattr(logger, "logger_handler", None)
            std = getattr(logger, "_logger", None)
            if isinstance(handler, logging.Handler):
                if isinstance(std, logging.Logger):
                    std.removeHandler(handler)
                handler.close()

        t = threading.Thread(target=close, name="fyers-orders-close", daemon=True)
        t.start()
        self._closers = [c for c in self._closers if c.is_alive()] + [t]

    # ------------------------------------------------------------------ SDK callbacks

    def _on_update(self, conn: _Connection, msg: object, key: str) -> None:
        body = msg.get(key) if isinstance(msg, Mapping) else None
        try:
            if not isinstance(body, Mapping):
                raise DataError(f"an order-socket {key} message without its object")
            update: Update = (
                parse_order(body)
                if key == "orders"
                else parse_trade(body)
                if key == "trades"
                else parse_position(body)
            )
        except DataError as exc:
            self.parse_errors += 1
            log.warning("order stream: %s; the next reconciliation will cover it", exc)
            return
        with self._deliver:
            if conn is self._conn:
                self.updates.put(update)

    def _on_general(self, conn: _Connection, msg: object) -> None:
        if isinstance(msg, Mapping) and msg.get("code") == ACK_CODE and msg.get("s") == "ok":
            conn.subscribed.set()

    def _on_error(self, conn: _Connection, msg: object) -> None:
        text = str(msg)
        if "403" in text:
            conn.forbidden = True
        log.warning("order stream error: %s", text)

    def _on_close(self, conn: _Connection) -> None:
        conn.closed.set()
        self._wake.set()
