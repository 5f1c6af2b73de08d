"""Streamlit's listening socket stated as TCP, so asyncio turns Nagle's algorithm off on the
connections it serves (dashboard/tcp_nodelay.py)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from streamlit.web.server.starlette import starlette_server

from fyerstrade.dashboard import tcp_nodelay
from fyerstrade.dashboard.tcp_nodelay import as_tcp


def _served_nodelay(listening: socket.socket) -> int:
    """Serve one connection from ``listening`` with asyncio; TCP_NODELAY on the served side."""
    seen: list[int] = []

    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            served = writer.get_extra_info("socket")
            seen.append(served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listening)
        async with server:
            host, port = listening.getsockname()[:2]
            _, writer = await asyncio.open_connection(host, port)
            while not seen:
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(main())
    return seen[0]


def test_the_same_listening_socket_as_tcp() -> None:
    plain = socket.socket(socket.AF_INET)
    plain.bind(("127.0.0.1", 0))
    plain.listen(8)
    plain.setblocking(False)
    fd, address = plain.fileno(), plain.getsockname()
    assert plain.proto == 0
    tcp = as_tcp(plain)
    try:
        assert (tcp.fileno(), tcp.getsockname(), tcp.proto) == (fd, address, socket.IPPROTO_TCP)
        assert tcp.getblocking() is False
        assert _served_nodelay(tcp) != 0
    finally:
        tcp.close()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with udp:
        assert as_tcp(udp) is udp


def test_install_states_streamlits_socket_as_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)
    assert tcp_nodelay.install() is True
    assert tcp_nodelay.install() is True  # once: not wrapped twice
    bind = starlette_server._bind_socket
    assert getattr(bind, "_fyerstrade_tcp", False)
    sock = bind("127.0.0.1", 0, 8)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert _served_nodelay(sock) != 0
    finally:
        sock.close()


def test_install_leaves_another_streamlit_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(starlette_server, "_bind_socket")
    assert tcp_nodelay.install() is False
    assert not hasattr(starlette_server, "_bind_socket")
