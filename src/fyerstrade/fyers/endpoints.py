"""Where the Fyers SDK sends requests: real Fyers, or the server in ``FYERSTRADE_FYERS_URL``.

The official SDK hard-codes its hosts. Everything we patch to redirect it lives here, and
``tests/fyers/test_endpoints.py`` fails if an SDK upgrade renames any of it:

* REST: the class attributes ``fyersModel.Config.API`` (``/api/v3``) and ``Config.DATA_API``
  (``/data``), read on every call by ``FyersServiceSync`` and by ``SessionModel``.
* Symbol masters: ``https://public.fyers.in/sym_details/<SEG>.csv`` (we download them ourselves;
  :func:`public_url` picks the host).
* Order socket: the instance attribute ``FyersOrderSocket._FyersOrderSocket__url``
  (:func:`order_socket_url`).
* Data socket: the HSM URL (instance attribute ``FyersDataSocket._FyersDataSocket__url``), the
  symbol-token URL (instance attribute ``SymbolConversion.symbols_token_api``, set in its
  ``__init__``) and ``defines.INDEX_HSM_MAPPING_API``; see :func:`redirect_data_socket`.

Redirection is process-wide (the SDK keeps it in class attributes), which matches how the platform
runs: one process talks to one Fyers-compatible server.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from fyers_apiv3 import fyersModel

from fyerstrade.config import Settings

FYERS_API = "https://api-t1.fyers.in/api/v3"
FYERS_DATA_API = "https://api-t1.fyers.in/data"
FYERS_PUBLIC = "https://public.fyers.in"
FYERS_DATA_SOCKET = "wss://socket.fyers.in/hsm/v1-5/prod"
FYERS_ORDER_SOCKET = "wss://socket.fyers.in/trade/v3"
FYERS_SYMBOL_TOKEN = FYERS_DATA_API + "/symbol-token"
FYERS_INDEX_MAP = FYERS_PUBLIC + "/sym_details/index_hsm_mapping.json"

_lock = threading.Lock()


def api_base(base_url: str | None) -> str:
    """The REST base for trading, account and login calls."""
    return f"{base_url}/api/v3" if base_url else FYERS_API


def data_base(base_url: str | None) -> str:
    """The REST base for market-data calls (history, quotes, symbol-token)."""
    return f"{base_url}/data" if base_url else FYERS_DATA_API


def public_url(base_url: str | None, path: str) -> str:
    """A URL on Fyers' public host (symbol masters), or on the configured server."""
    return (base_url or FYERS_PUBLIC) + "/" + path.lstrip("/")


def data_socket_url(base_url: str | None) -> str:
    """The HSM data-socket URL: ``ws(s)://<server>/hsm/v1-5/prod`` for a configured server."""
    if not base_url:
        return FYERS_DATA_SOCKET
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path}/hsm/v1-5/prod"


def order_socket_url(base_url: str | None) -> str:
    """The order-socket URL: ``ws(s)://<server>/trade/v3`` for a configured server."""
    if not base_url:
        return FYERS_ORDER_SOCKET
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path}/trade/v3"


def point_sdk_at(settings: Settings) -> None:
    """Make every REST call of the SDK (``FyersModel`` and ``SessionModel``) go to
    ``settings.fyers_url``, or back to real Fyers when it is unset."""
    base = settings.fyers_url
    with _lock:
        fyersModel.Config.API = api_base(base)
        fyersModel.Config.DATA_API = data_base(base)


def sdk_rest_bases() -> tuple[str, str]:
    """The (API, DATA_API) bases the SDK will use now."""
    return fyersModel.Config.API, fyersModel.Config.DATA_API


def redirect_data_socket(socket: Any, settings: Settings) -> None:
    """Point a constructed ``FyersDataSocket`` (before ``connect()``) and the symbol-token and
    index-map lookups it makes at ``settings.fyers_url`` (or real Fyers when unset).

    Imports the websocket module lazily: it needs ``pkg_resources`` at import time (SDK pitfall).
    """
    from fyers_apiv3.FyersWebsocket import data_ws, defines

    base = settings.fyers_url
    token_url = data_base(base) + "/symbol-token"
    with _lock:
        defines.INDEX_HSM_MAPPING_API = public_url(base, "sym_details/index_hsm_mapping.json")
        original = getattr(data_ws, "_fyerstrade_original_symbol_conversion", None)
        if original is None:
            original = data_ws.SymbolConversion
            data_ws._fyerstrade_original_symbol_conversion = original

        class _RedirectedSymbolConversion(original):  # type: ignore[misc, valid-type]
            """The SDK's symbol-token lookup, posting to the configured server."""

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.symbols_token_api = token_url
                _release_unused_log_file(self.data_logger)

        data_ws.SymbolConversion = _RedirectedSymbolConversion
    socket._FyersDataSocket__url = data_socket_url(base)


def _release_unused_log_file(sdk_logger: Any) -> None:
    """The SDK opens ``fyersDataSocket.log`` for every symbol lookup; the handler is only used if
    it is the first one attached to the shared logger, so close it when it is not (otherwise every
    ``subscribe`` leaves an open file for the garbage collector)."""
    handler = getattr(sdk_logger, "logger_handler", None)
    std = getattr(sdk_logger, "_logger", None)
    attached = isinstance(std, logging.Logger) and handler in std.handlers
    if isinstance(handler, logging.Handler) and not attached:
        handler.close()
