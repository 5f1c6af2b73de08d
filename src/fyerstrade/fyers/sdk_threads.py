"""The SDK sockets' threads end with the connection, so a finished process exits at once.

Both SDK 3.2.0 sockets (``FyersDataSocket`` and ``FyersOrderSocket``) run two threads of their
own, neither a daemon: the socket's ``run_forever``, and a ping that sleeps 10 s between pings.
After the socket closed, the ping's sleep kept the process alive for up to 10 s (an engine that
had ended its session, ``live stop``, the dashboard's Stop), and ``run_forever`` could stay
blocked for as long (seen: 9 s in one stop of six), because websocket-client closes the socket
from the closing thread while the socket thread waits on it. :func:`end_with_connection` puts in
the ping's place the same frame at the same interval, whose wait ends as soon as the connection
is retired, and makes the socket thread a daemon: nothing of a retired connection holds the
process.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["PING_SECONDS", "end_with_connection"]

PING_SECONDS = 10.0  # the SDK's ping interval


def end_with_connection(
    sdk: Any,
    retired: threading.Event,
    *,
    sdk_class: str,
    frame: bytes | str,
    every: float = PING_SECONDS,
) -> None:
    """Prepare ``sdk`` (an instance of the SDK class named ``sdk_class``, whose private
    attributes are mangled with that name), before it connects: its socket thread is a daemon,
    and its ping sends ``frame`` every ``every`` seconds while the socket is connected and stops
    at once when ``retired`` is set."""
    import websocket  # type: ignore[import-untyped]

    binary = isinstance(frame, bytes)
    opcode = websocket.ABNF.OPCODE_BINARY if binary else websocket.ABNF.OPCODE_TEXT
    socket_attr = f"_{sdk_class}__ws_object"

    def ping() -> None:
        while not retired.is_set():
            ws = getattr(sdk, socket_attr, None)
            if ws is None or not ws.sock or not ws.sock.connected:
                return
            try:
                ws.send(frame, opcode=opcode)
            except websocket.WebSocketConnectionClosedException:
                return
            retired.wait(every)

    setattr(sdk, f"_{sdk_class}__ping", ping)
    # the SDK starts run_forever as Thread(daemon=self.background_flag); the flag does nothing else
    sdk.background_flag = True
