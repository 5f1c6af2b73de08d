"""Streamlit's server sockets without Nagle's algorithm, as asyncio means them to be.

asyncio turns Nagle's algorithm off (``TCP_NODELAY``) on every TCP connection it serves, but it
recognises a TCP socket by ``sock.proto == IPPROTO_TCP``. Streamlit (1.5x and later, on uvicorn)
binds its listening socket itself with ``socket.socket(family)``, whose ``proto`` is 0, and every
connection accepted from it inherits the 0: asyncio leaves Nagle on. Then each response written
in more than one piece (headers, then the body; every static file) waits for the browser's
delayed acknowledgement, 40 ms on Linux, before its second piece leaves. The first page load
fetches about a hundred files over six connections: 0.6-0.7 s of waiting, with the machine idle
(measured: 44 ms per static file, 1-2 ms for the same request with ``TCP_NODELAY``).

:func:`install` wraps Streamlit's socket binding so the listening socket it returns is the same
socket (the same descriptor, bound and listening) with its protocol stated as TCP: connections
accepted from it are then recognised, and asyncio turns Nagle off on them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any


def as_tcp(sock: socket.socket) -> socket.socket:
    """``sock`` (a TCP stream socket made with protocol 0) as a socket object whose protocol is
    ``IPPROTO_TCP``: the same descriptor, options and state; other sockets are returned as is."""
    if sock.type != socket.SOCK_STREAM or sock.proto != 0:
        return sock
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return sock
    blocking = sock.getblocking()
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.setblocking(blocking)
    return tcp


def install() -> bool:
    """Wrap Streamlit's listening-socket binding with :func:`as_tcp` (before the server starts);
    False, and nothing changed, when this Streamlit binds its sockets some other way."""
    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError:
        return False
    bind: Callable[..., Any] | None = getattr(starlette_server, "_bind_socket", None)
    if bind is None or getattr(bind, "_fyerstrade_tcp", False):
        return bind is not None

    def bind_tcp(*args: Any, **kwargs: Any) -> Any:
        sock = bind(*args, **kwargs)
        return as_tcp(sock) if isinstance(sock, socket.socket) else sock

    bind_tcp._fyerstrade_tcp = True  # type: ignore[attr-defined]
    starlette_server._bind_socket = bind_tcp
    return True
