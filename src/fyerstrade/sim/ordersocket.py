"""The simulator's order WebSocket (``/trade/v3``), as SDK 3.2.0's ``FyersOrderSocket`` expects
it (fyers-api.md §10, real-trading.md A5).

* Handshake: the ``authorization`` header carries ``<app_id>:<access_token>``; a missing,
  invalid or expired token is refused with HTTP 403 (the SDK then retries with its backoff).
* Client text ``ping`` is answered ``pong`` (the SDK drops it).
* ``{"T":"SUB_ORD","SLIST":[...],"SUB_T":1}`` subscribes to ``orders``, ``trades``,
  ``positions`` (and the general lists ``edis``, ``pricealerts``, ``login``, which the simulator
  never fills); ``SUB_T: -1`` unsubscribes. The answer is
  ``{"code":1605,"message":"Successfully subscribed","s":"ok"}`` (the SDK hands it to
  ``on_general``).
* Events: one JSON text per change, ``{"orders": {...raw...}, "s": "ok"}`` (likewise
  ``trades``, ``positions``) in the snake_case keys of :mod:`.orderviews`, to every connection
  subscribed to that list. Nothing is replayed: a client that was not connected misses it.

Faults (``POST /_sim/faults``): ``order_socket_drop`` aborts every open connection (the SDK
reconnects after its delay and does not re-subscribe by itself); ``order_socket_silent`` keeps
connections open but sends nothing while it is on (events in that time are lost).
``GET /_sim/ordersocket`` gives the counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import weakref
from typing import Any

from aiohttp import WSMsgType, web

from fyerstrade.sim.auth import STATE_KEY, token_claims
from fyerstrade.sim.exchange import exchange_for
from fyerstrade.sim.state import SimState

__all__ = ["ORDER_SOCKET_PATH", "OrderSocketHub", "add_order_socket_routes", "order_hub_for"]

log = logging.getLogger("fyerstrade.sim.ordersocket")

ORDER_SOCKET_PATH = "/trade/v3"
LISTS = frozenset({"orders", "trades", "positions", "edis", "pricealerts", "login"})
WATCH_INTERVAL = 0.02


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self.ws = ws
        self.transport = transport
        self.lists: set[str] = set()
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class OrderSocketHub:
    """Connections of one simulator's order socket, and its counters."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._conns: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connects = 0
        self.auth_failures = 0
        self.messages_sent = 0
        self.dropped_events = 0

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def subscribed(self) -> list[set[str]]:
        """The lists each open connection is subscribed to."""
        with self._lock:
            return [set(c.lists) for c in self._conns]

    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        """Send an exchange event to every connection subscribed to ``kind``."""
        text = json.dumps({kind: payload, "s": "ok"})
        with self._lock:
            loop = self._loop
            targets = [c for c in self._conns if kind in c.lists]
        if loop is None or not targets:
            return
        if self.state.faults.order_socket_silent:
            with self._lock:
                self.dropped_events += len(targets)
            return
        for conn in targets:
            loop.call_soon_threadsafe(conn.queue.put_nowait, text)

    def _add(self, conn: _Connection) -> None:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._conns.add(conn)
            self.connects += 1

    def _remove(self, conn: _Connection) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _count_sent(self) -> None:
        with self._lock:
            self.messages_sent += 1

    def drop_all(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.abort()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "connections": len(self._conns),
                "connects": self.connects,
                "auth_failures": self.auth_failures,
                "messages_sent": self.messages_sent,
                "dropped_events": self.dropped_events,
                "subscriptions": [sorted(c.lists) for c in self._conns],
            }


_hubs: weakref.WeakKeyDictionary[SimState, OrderSocketHub] = weakref.WeakKeyDictionary()
_hubs_lock = threading.Lock()


def order_hub_for(state: SimState) -> OrderSocketHub:
    """The order-socket hub of a simulator state (created, and listening to the exchange, on
    first use)."""
    with _hubs_lock:
        hub = _hubs.get(state)
        if hub is None:
            hub = _hubs[state] = OrderSocketHub(state)
            exchange_for(state).listeners.append(hub.publish)
        return hub


def _flatten(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


async def _on_text(hub: OrderSocketHub, conn: _Connection, text: str) -> None:
    if text == "ping":
        if not hub.state.faults.order_socket_silent:
            await conn.ws.send_str("pong")
        return
    try:
        msg = json.loads(text)
    except json.JSONDecodeError:
        msg = None
    lists = (
        _flatten(msg.get("SLIST"))
        if isinstance(msg, dict) and isinstance(msg.get("SLIST"), list)
        else None
    )
    if (
        not isinstance(msg, dict)
        or msg.get("T") != "SUB_ORD"
        or msg.get("SUB_T") not in (1, -1)
        or not lists
        or not all(isinstance(x, str) and x in LISTS for x in lists)
    ):
        answer = {
            "s": "error",
            "code": -50,
            "message": 'Invalid request: {"T":"SUB_ORD","SLIST":[orders|trades|positions|…],'
            '"SUB_T":1|-1}',
        }
        await conn.ws.send_str(json.dumps(answer))
        return
    if msg["SUB_T"] == 1:
        conn.lists.update(lists)
        message = "Successfully subscribed"
    else:
        conn.lists.difference_update(lists)
        message = "Successfully unsubscribed"
    if not hub.state.faults.order_socket_silent:
        await conn.ws.send_str(json.dumps({"code": 1605, "message": message, "s": "ok"}))


async def _writer(hub: OrderSocketHub, conn: _Connection) -> None:
    while True:
        text = await conn.queue.get()
        if conn.ws.closed:
            return
        await conn.ws.send_str(text)
        hub._count_sent()


async def _handle(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    hub = order_hub_for(state)
    if token_claims(state, request.headers.get("authorization", "")) is None:
        with hub._lock:
            hub.auth_failures += 1
        return web.Response(status=403, text="Forbidden")
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    transport = request.transport
    conn = _Connection(ws, transport if isinstance(transport, asyncio.Transport) else None)
    hub._add(conn)
    writer = asyncio.create_task(_writer(hub, conn))
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await _on_text(hub, conn, msg.data)
    finally:
        hub._remove(conn)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


async def _control(request: web.Request) -> web.Response:
    return web.json_response(order_hub_for(request.app[STATE_KEY]).snapshot())


async def _watch(app: web.Application) -> Any:
    """Apply the ``order_socket_drop`` fault while the server runs."""
    state = app[STATE_KEY]
    hub = order_hub_for(state)

    async def run() -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            if state.faults.take("order_socket_drop"):
                hub.drop_all()

    task = asyncio.create_task(run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def add_order_socket_routes(app: web.Application) -> None:
    """Register the order socket and its counters on the simulator's application."""
    app.router.add_get(ORDER_SOCKET_PATH, _handle)
    app.router.add_get("/_sim/ordersocket", _control)
    app.cleanup_ctx.append(_watch)
