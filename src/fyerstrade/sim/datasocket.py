"""The simulator's data WebSocket (``/hsm/v1-5/prod``): the HSM protocol the official SDK's
``FyersDataSocket`` speaks, streaming ticks of the synthetic market.

What a connection does:

* auth (type 1): accepted when the hsm_key looks like one the simulator issues (32 hex digits)
  and the ``expired_token`` fault is off; otherwise the reply says "failed" and the connection
  stays open but deaf, as an unauthenticated Fyers socket does;
* mode (type 12): full or lite for the whole connection;
* subscribe/unsubscribe (types 4/5) of ``sf|nse_cm|<token>``, ``sf|nse_fo|<token>`` and
  ``if|nse_cm|<index name>`` topics: a snapshot record per new topic, then update records (full)
  or lite records for every trade of :class:`~fyerstrade.sim.ticks.TickSource`; ``dp`` (depth)
  topics are acknowledged and receive nothing;
* pings are ignored, acks accepted (the auth reply asks for none).

Ticks run on a :class:`~fyerstrade.sim.clock.MarketClock`: a start instant and a speed (60 =
one market minute per second), paced by the simulator's own event loop (a simulator that cannot
run stops its market rather than let the clock run ahead of the ticks it streams). It starts
where the REST clock (``SimConfig.clock``) is, at speed 1; set it apart from it to replay a
session at high speed, or pass ``MarketClock.now`` as ``SimConfig.clock`` so that REST and ticks
share one clock (what ``tests/plugins/datasocket.py`` does). Set it in-process
(``hub_for(server.state).clock.set(start, speed)``, ``.pause()``, ``.resume()``) or with
``POST /_sim/clock`` ``{"start": <epoch or ISO 8601>, "speed": 60, "paused": false}``;
``GET /_sim/clock`` reads it (``now``, ``speed``, ``paused``). Every connection streams the
trades up to the clock's ``now`` on each beat of the loop, so the stream is paced by the same
clock.

Faults (``POST /_sim/datasocket`` or :meth:`DataSocketHub.inject`):

=================  ==========================================================================
``drop``           close every open data connection now (the SDK reconnects by itself)
``stall``          every open connection stays connected but sends nothing more (new ones work)
``malformed``      the next N data frames are replaced by a frame the SDK cannot parse
``expire_token``   the access token expires: open connections drop, new auths fail (this sets
                   the REST ``expired_token`` fault too)
=================  ==========================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from fyerstrade.calendar import ist_date
from fyerstrade.sim import hsm
from fyerstrade.sim.auth import STATE_KEY
from fyerstrade.sim.clock import BEAT_SECONDS, MarketClock
from fyerstrade.sim.state import SimState
from fyerstrade.sim.ticks import SimTick, TickSource
from fyerstrade.sim.universe import Kind, SimInstrument

__all__ = [
    "DATA_SOCKET_PATH",
    "DataSocketHub",
    "MarketClock",
    "add_data_socket_routes",
    "hub_for",
]

log = logging.getLogger("fyerstrade.sim.datasocket")

DATA_SOCKET_PATH = "/hsm/v1-5/prod"
STREAM_INTERVAL = BEAT_SECONDS  # seconds of wall time between data frames
MAX_RECORDS = 2_000
_HSM_KEY = re.compile(r"^[0-9a-f]{32}$")
_SEGMENTS = {"nse_cm": "1010", "nse_fo": "1011"}
#: Index topic names (what the SDK's map.json calls them) of the simulator's indices.
INDEX_TOPIC_NAMES = {"Nifty 50": "NSE:NIFTY50-INDEX", "Nifty Bank": "NSE:NIFTYBANK-INDEX"}
_MALFORMED = b"\x00\x20\x06\x00\x00\x00\x01\x00\x05Uxx\x07garbage"


@dataclass(slots=True)
class _Topic:
    topic_id: int
    name: str
    inst: SimInstrument
    last_ts: int  # ticks up to this instant have been sent


class DataSocketHub:
    """Shared by every data connection of one simulator: the market clock, fault switches,
    connection counters (for tests and ``/_sim/datasocket``)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.clock = MarketClock(start=state.now())  # starts where the REST clock is
        self._lock = threading.Lock()
        self._drop_gen = 0
        self._stall_gen = 0
        self._malformed = 0
        self.connections = 0  # currently open
        self.topics = 0  # topics subscribed on the open connections
        self.connects = 0  # ever opened
        self.auth_failures = 0
        self.frames_sent = 0

    def inject(
        self,
        *,
        drop: bool = False,
        stall: bool = False,
        malformed: int = 0,
        expire_token: bool = False,
    ) -> None:
        """Switch on faults (see the module docstring)."""
        with self._lock:
            if expire_token:
                self.state.faults.set(expired_token=True)
            if drop or expire_token:
                self._drop_gen += 1
            if stall:
                self._stall_gen += 1
            self._malformed += malformed

    def count(
        self, *, opened: int = 0, auth_failures: int = 0, frames: int = 0, topics: int = 0
    ) -> None:
        """Update the counters (called by connections on the server's loop)."""
        with self._lock:
            self.topics += topics
            self.connections += opened
            self.connects += max(opened, 0)
            self.auth_failures += auth_failures
            self.frames_sent += frames

    def generations(self) -> tuple[int, int]:
        with self._lock:
            return self._drop_gen, self._stall_gen

    def take_malformed(self) -> bool:
        with self._lock:
            if self._malformed <= 0:
                return False
            self._malformed -= 1
            return True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "connections": self.connections,
                "topics": self.topics,
                "connects": self.connects,
                "auth_failures": self.auth_failures,
                "frames_sent": self.frames_sent,
                "malformed_pending": self._malformed,
                "clock": {"now": int(self.clock.now()), "speed": self.clock.speed},
            }


_hubs: weakref.WeakKeyDictionary[SimState, DataSocketHub] = weakref.WeakKeyDictionary()
_hubs_lock = threading.Lock()


def hub_for(state: SimState) -> DataSocketHub:
    """The data-socket hub of a simulator state (created on first use)."""
    with _hubs_lock:
        hub = _hubs.get(state)
        if hub is None:
            hub = _hubs[state] = DataSocketHub(state)
        return hub


class _Connection:
    """One client: protocol state and the streaming loop."""

    def __init__(
        self, hub: DataSocketHub, ws: web.WebSocketResponse, transport: asyncio.Transport | None
    ) -> None:
        self.hub = hub
        self.ws = ws
        self.transport = transport
        self.source = TickSource(hub.state)
        self.authed = False
        self.lite = False
        self.topics: dict[str, _Topic] = {}
        self._ids: dict[str, int] = {}
        self.message_no = 0
        self.drop_gen, self.stall_gen = hub.generations()
        self.stalled = False

    # ------------------------------------------------------------------ client frames

    async def on_frame(self, data: bytes) -> None:
        try:
            frame = hsm.decode_client_frame(data)
        except hsm.ProtocolError as exc:
            log.warning("data socket: ignoring a malformed client frame (%s)", exc)
            return
        if isinstance(frame, hsm.Ping | hsm.Ack):
            return
        if isinstance(frame, hsm.Auth):
            self.authed = self._auth_ok(frame.hsm_key)
            if not self.authed:
                self.hub.count(auth_failures=1)
            await self.send(hsm.auth_reply(self.authed))
            return
        if not self.authed:
            return  # an unauthenticated socket answers nothing
        if isinstance(frame, hsm.Mode):
            self.lite = frame.lite
            await self.send(hsm.mode_reply())
        elif isinstance(frame, hsm.PauseResume):
            await self.send(hsm.pause_resume_reply(frame.resume))
        elif isinstance(frame, hsm.Subscription):
            if frame.subscribe:
                await self.send(hsm.subscription_reply(True))
                await self._subscribe(frame.topics)
            else:
                for name in frame.topics:
                    if self.topics.pop(name, None) is not None:
                        self.hub.count(topics=-1)
                await self.send(hsm.subscription_reply(False))

    def _auth_ok(self, key: str) -> bool:
        return bool(_HSM_KEY.match(key)) and not self.hub.state.faults.expired_token

    def _resolve(self, name: str) -> SimInstrument | None:
        parts = name.split("|")
        if len(parts) != 3:
            return None
        kind, segment, token = parts
        day = ist_date(int(self.hub.clock.now()))
        universe = self.hub.state.universe(day)
        if kind == "if":
            symbol = INDEX_TOPIC_NAMES.get(token)
            return universe.get(symbol) if symbol else None
        if kind != "sf" or segment not in _SEGMENTS:
            return None
        prefix = _SEGMENTS[segment]
        for inst in universe.instruments.values():
            if str(inst.token) == token and inst.fytoken.startswith(prefix):
                return inst
        return None

    async def _subscribe(self, names: tuple[str, ...]) -> None:
        now = int(self.hub.clock.now())
        records: list[bytes] = []
        for name in names:
            if name in self.topics:
                continue
            inst = self._resolve(name)
            if inst is None:
                if not name.startswith("dp|"):
                    log.info("data socket: unknown topic %r ignored", name)
                continue
            topic_id = self._ids.setdefault(name, len(self._ids) + 1)
            topic = _Topic(topic_id, name, inst, now)
            self.topics[name] = topic
            self.hub.count(topics=1)
            records.append(self._snapshot(topic, now))
        if records:
            await self._send_data(records)

    # ------------------------------------------------------------------ records

    def _snapshot(self, topic: _Topic, now: int) -> bytes:
        inst = topic.inst
        bars, _ = self.source.day(inst, ist_date(now))
        last = self.source.last_trade(inst, now)
        prev_close = self._prev_close(inst, now, float(bars.open[0]) if len(bars) else 0.0)
        raw = hsm.to_raw_price
        if last is None:  # before the first trade of the day: the previous close
            ltp, cum, ltt, qty = prev_close, 0, now, 0
            o = h = lo = prev_close
        else:
            ltp, cum, ltt, qty = last.price, last.cum_volume, last.ts, last.qty
            done = bars.ts < now - now % 60
            o = float(bars.open[0])
            h = max([ltp, *(float(x) for x in bars.high[done])])
            lo = min([ltp, *(float(x) for x in bars.low[done])])
        tick = inst.tick
        if inst.kind is Kind.INDEX:
            values = [raw(ltp), raw(prev_close), now, raw(h), raw(lo), raw(o)]
        else:
            values = [
                raw(ltp), cum, ltt, now,
                100, 100, raw(ltp - tick), raw(ltp + tick), qty,
                cum // 2, cum // 2, raw(ltp),
                0, raw(lo), raw(h), 0, 0, 0, 0, raw(o), raw(prev_close),
            ]  # fmt: skip
        return hsm.snapshot_record(
            topic.topic_id, topic.name, values, "NSE", str(inst.token), inst.symbol
        )

    def _prev_close(self, inst: SimInstrument, now: int, first_open: float) -> float:
        if not inst.is_derivative:
            try:
                close = self.hub.state.market.previous_close(inst, ist_date(now))
                return round(round(close / inst.tick) * inst.tick, 2)
            except ValueError:  # not a trading day
                pass
        return first_open

    def _trade_record(self, topic: _Topic, t: SimTick) -> bytes:
        raw = hsm.to_raw_price
        if self.lite:
            return hsm.lite_record(topic.topic_id, raw(t.price))
        if topic.inst.kind is Kind.INDEX:
            return hsm.update_record(topic.topic_id, [raw(t.price), hsm.NO_VALUE, t.ts])
        tick = topic.inst.tick
        values = [
            raw(t.price), t.cum_volume, t.ts, t.ts,
            100, 100, raw(t.price - tick), raw(t.price + tick), t.qty,
        ]  # fmt: skip
        return hsm.update_record(topic.topic_id, values)

    # ------------------------------------------------------------------ sending

    async def send(self, frame: bytes) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(frame)

    def _abort(self) -> None:
        """Drop the TCP connection without a closing handshake, as a network failure does."""
        transport = self.transport
        if transport is not None:
            transport.abort()

    async def _send_data(self, records: list[bytes]) -> None:
        for chunk in hsm.split_records(records, MAX_RECORDS):
            self.message_no += 1
            if self.hub.take_malformed():
                await self.send(_MALFORMED)
            else:
                await self.send(hsm.data_frame(self.message_no, chunk))
            self.hub.count(frames=1)

    async def stream(self) -> None:
        """Send the trades of every subscribed topic as market time passes; obey faults."""
        while not self.ws.closed:
            await asyncio.sleep(STREAM_INTERVAL)
            drop_gen, stall_gen = self.hub.generations()
            if drop_gen != self.drop_gen:
                self._abort()
                return
            if stall_gen != self.stall_gen:
                self.stalled = True
            if self.stalled or not self.authed or not self.topics:
                continue
            now = int(self.hub.clock.now())
            timed: list[tuple[int, int, bytes]] = []
            for k, topic in enumerate(list(self.topics.values())):
                if now <= topic.last_ts:
                    continue
                for t in self.source.ticks(topic.inst, topic.last_ts, now):
                    timed.append((t.ts, k, self._trade_record(topic, t)))
                topic.last_ts = now
            if timed:
                # in exchange-time order across symbols, as a real feed delivers them
                timed.sort(key=lambda x: (x[0], x[1]))
                await self._send_data([r for _, _, r in timed])


async def _handle(request: web.Request) -> web.StreamResponse:
    hub = hub_for(request.app[STATE_KEY])
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    transport = request.transport
    conn = _Connection(hub, ws, transport if isinstance(transport, asyncio.Transport) else None)
    hub.count(opened=1)
    streamer = asyncio.create_task(conn.stream())
    try:
        async for msg in ws:
            if msg.type is WSMsgType.BINARY:
                await conn.on_frame(msg.data)
            elif msg.type is WSMsgType.TEXT:
                log.warning("data socket: ignoring a text frame (the protocol is binary)")
    finally:
        streamer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await streamer
        hub.count(opened=-1, topics=-len(conn.topics))
    return ws


def _parse_start(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2026-11-20T10:00:00+05:30")
        return dt.timestamp()
    raise ValueError("start must be epoch seconds or an ISO 8601 time with offset")


async def _control_clock(request: web.Request) -> web.Response:
    hub = hub_for(request.app[STATE_KEY])
    if request.method == "POST":
        try:
            body = await request.json()
            if not isinstance(body, dict) or set(body) - {"start", "speed", "paused"}:
                raise ValueError("the body is {start, speed, paused}; no other keys")
            if not isinstance(body.get("paused", False), bool):
                raise ValueError("paused is true or false")
            start = _parse_start(body["start"]) if "start" in body else None
            speed = float(body["speed"]) if "speed" in body else None
            hub.clock.set(start, speed, paused=body.get("paused"))
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            return web.json_response({"s": "error", "message": str(exc)}, status=400)
    clock = hub.clock
    return web.json_response({"now": clock.now(), "speed": clock.speed, "paused": clock.paused})


async def _control_faults(request: web.Request) -> web.Response:
    hub = hub_for(request.app[STATE_KEY])
    try:
        body = await request.json()
        allowed = {"drop", "stall", "malformed", "expire_token"}
        if not isinstance(body, dict) or set(body) - allowed:
            raise ValueError(f"unknown data-socket fault; use {sorted(allowed)}")
        hub.inject(
            drop=bool(body.get("drop", False)),
            stall=bool(body.get("stall", False)),
            malformed=int(body.get("malformed", 0)),
            expire_token=bool(body.get("expire_token", False)),
        )
    except (json.JSONDecodeError, ValueError, TypeError) as exc:
        return web.json_response({"s": "error", "message": str(exc)}, status=400)
    return web.json_response(hub.snapshot())


async def _pace(state: SimState) -> None:
    """Beat the market clock while the loop runs (see :mod:`fyerstrade.sim.clock`)."""
    hub = hub_for(state)
    clock = hub.clock
    try:
        while True:
            clock = hub.clock  # a test may have put another clock in place
            clock.beat()
            await asyncio.sleep(BEAT_SECONDS)
    finally:
        clock.unpace()


async def _pacer(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(_pace(app[STATE_KEY]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def add_data_socket_routes(app: web.Application) -> None:
    """Register the data socket, its control plane and the clock's pacer on the simulator's
    application."""
    app.cleanup_ctx.append(_pacer)
    app.router.add_get(DATA_SOCKET_PATH, _handle)
    app.router.add_get("/_sim/clock", _control_clock)
    app.router.add_post("/_sim/clock", _control_clock)
    app.router.add_post("/_sim/datasocket", _control_faults)
