"""Fixtures for the Fyers adapter.

``scripted_fyers``: a tiny HTTP server on 127.0.0.1 that answers each request with the next reply a
test queued (status, headers, body), and records what it was asked. It lets a test pin down one
exact behaviour (a 429 with ``Retry-After: 1``, a 502 HTML page, a stall) that the full simulator
(``tests/plugins/sim.py``) produces only statistically. The real SDK talks to it over HTTP.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


def make_jwt(exp: int, iat: int | None = None, **claims: Any) -> str:
    """An unsigned-looking JWT with ``exp``/``iat`` claims, shaped like a Fyers access token."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    body = {"iss": "api.fyers.in", "iat": iat if iat is not None else exp - 3600, "exp": exp}
    body.update(claims)
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(body)}.c2lnbmF0dXJlLXRlc3Q"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON, str -> raw text
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float


class ScriptedFyers:
    """Queue replies with :meth:`push`; every request pops one (the default reply when empty)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default = Reply(200, {"s": "ok", "code": 200, "message": ""})
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        handler = self._handler_class()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def push(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def paths(self) -> list[str]:
        with self.lock:
            return [s.path for s in self.seen]

    def _next(self, seen: Seen) -> Reply:
        with self.lock:
            self.seen.append(seen)
            return self.replies.popleft() if self.replies else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                reply = outer._next(
                    Seen(
                        self.command,
                        parts.path,
                        parse_qs(parts.query),
                        dict(self.headers),
                        time.monotonic(),
                    )
                )
                if reply.delay:
                    outer.stop.wait(reply.delay)
                body = reply.body
                raw = (
                    body.encode()
                    if isinstance(body, str)
                    else json.dumps(body if body is not None else {}).encode()
                )
                try:
                    self.send_response(reply.status)
                    ctype = "text/html" if isinstance(body, str) else "application/json"
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(raw)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _answer  # noqa: N815

        return Handler


@pytest.fixture
def scripted_fyers() -> Iterator[ScriptedFyers]:
    server = ScriptedFyers()
    server.thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(timeout=5)
