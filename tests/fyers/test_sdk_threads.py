"""The SDK sockets' threads end with the connection (``fyerstrade.fyers.sdk_threads``).

Both SDK 3.2.0 sockets ping from a non-daemon thread that sleeps 10 s between pings, and run
their socket in another non-daemon thread, which kept a finished process (an engine at the end
of its session, ``live stop``, the dashboard's Stop) alive up to 10 s. Our ping sends the SDK's
frame and stops waiting once the connection is retired (here with an hour's interval, so only
retirement can end it); the socket thread is a daemon.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from fyers_apiv3.FyersWebsocket.data_ws import FyersDataSocket
from fyers_apiv3.FyersWebsocket.order_ws import FyersOrderSocket

from fyerstrade.fyers.feed import PING_FRAME
from fyerstrade.fyers.order_stream import PING_TEXT
from fyerstrade.fyers.sdk_threads import end_with_connection
from plugins.datasocket import wait_for

SOCKETS = [(FyersDataSocket, PING_FRAME, 2), (FyersOrderSocket, PING_TEXT, 1)]


def _fake_socket(sent: list[tuple[bytes | str, int]]) -> SimpleNamespace:
    return SimpleNamespace(
        sock=SimpleNamespace(connected=True),
        send=lambda frame, opcode: sent.append((frame, opcode)),
    )


@pytest.mark.parametrize(("sdk_type", "frame", "opcode"), SOCKETS)
def test_the_ping_ends_when_the_connection_is_retired(
    sdk_type: type, frame: bytes | str, opcode: int
) -> None:
    name = sdk_type.__name__
    sent: list[tuple[bytes | str, int]] = []
    sdk = object.__new__(sdk_type)  # a private instance, as the feed and order stream make
    setattr(sdk, f"_{name}__ws_object", _fake_socket(sent))
    retired = threading.Event()
    end_with_connection(sdk, retired, sdk_class=name, frame=frame, every=3600.0)
    # the SDK starts its ping thread as Thread(target=self.__ping): the instance's one is ours
    pinger = threading.Thread(target=getattr(sdk, f"_{name}__ping"), daemon=True)
    pinger.start()
    wait_for(lambda: bool(sent), what="the first ping")
    retired.set()
    pinger.join(timeout=60)
    assert not pinger.is_alive()
    assert sent == [(frame, opcode)]  # the SDK's own frame, binary for data and text for orders


@pytest.mark.parametrize(("sdk_type", "frame", "opcode"), SOCKETS)
def test_the_ping_ends_when_the_socket_closed(
    sdk_type: type, frame: bytes | str, opcode: int
) -> None:
    name = sdk_type.__name__
    sent: list[tuple[bytes | str, int]] = []
    sdk = object.__new__(sdk_type)
    setattr(sdk, f"_{name}__ws_object", None)  # closed before the first ping
    end_with_connection(sdk, threading.Event(), sdk_class=name, frame=frame, every=3600.0)
    pinger = threading.Thread(target=getattr(sdk, f"_{name}__ping"), daemon=True)
    pinger.start()
    pinger.join(timeout=60)
    assert not pinger.is_alive() and sent == []


@pytest.mark.parametrize("sdk_type", [FyersDataSocket, FyersOrderSocket])
def test_the_socket_thread_is_a_daemon(sdk_type: type, tmp_path: Path) -> None:
    # The SDK's own constructor, then ours: the flag the SDK reads when it starts run_forever.
    # (Its ``Thread(daemon=self.background_flag)`` runs in connect(), which needs a server: the
    # simulator tests connect through it; here the flag itself.)
    sdk = object.__new__(sdk_type)
    sdk.__init__(access_token="APP:token", log_path=str(tmp_path))
    try:
        assert sdk.background_flag is False  # the SDK's default: a thread holding the process
        end_with_connection(sdk, threading.Event(), sdk_class=sdk_type.__name__, frame="x")
        assert sdk.background_flag is True
    finally:
        for name in ("data_logger", "order_logger"):  # the log file the SDK opened
            handler = getattr(getattr(sdk, name, None), "logger_handler", None)
            if isinstance(handler, logging.Handler):
                handler.close()
