"""Building the SDK's ``FyersModel`` the way we need it: logs in the log dir, bounded, at WARNING;
a default timeout on every request; the HTTP status and headers of the last reply kept.

Log files. ``FyersModel(...)`` opens ``fyersApi.log`` and ``fyersRequests.log`` in ``log_path``
(the working directory when unset) at construction, through aws-lambda-powertools loggers named
``FyersAPI`` and ``FyersAPIRequest`` that are configured only by the *first* construction in a
process. We always pass the log dir, then take over those two standard loggers: each gets one
``RotatingFileHandler`` in the current log dir (1 MB x 2 files, so they stay bounded), our
redaction filter, and level WARNING. ``fyersRequests.log`` only ever receives DEBUG lines (status
and path per request), so at WARNING it stays empty; our own logger records each request instead.

Timeouts and headers. The SDK calls ``self.session.get/post(...)`` on a ``requests.Session`` with
no timeout and returns only the JSON body, hiding the status and ``Retry-After``. We replace that
session with :class:`RecordingSession`, which adds a default timeout and records the last reply's
status and headers (and any transport error) for the thread that owns the model.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import threading
from pathlib import Path
from typing import Any

import requests
from fyers_apiv3.fyersModel import FyersModel

from fyerstrade.logs import RedactingFilter

SDK_LOGGERS = {"FyersAPI": "fyersApi.log", "FyersAPIRequest": "fyersRequests.log"}
SDK_LOG_LEVEL = logging.WARNING
SDK_LOG_MAX_BYTES = 1_000_000
SDK_LOG_BACKUPS = 1


class RecordingSession(requests.Session):
    """A ``requests.Session`` with a default timeout that remembers the last reply it saw."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.last_status: int | None = None
        self.last_headers: dict[str, str] = {}
        self.last_error: str | None = None

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        self.last_status, self.last_headers, self.last_error = None, {}, None
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.Timeout:
            self.last_error = f"no answer within {self.timeout:g} s"
            raise
        except requests.ConnectionError as exc:
            self.last_error = f"connection failed ({type(exc).__name__})"
            raise
        self.last_status = response.status_code
        self.last_headers = dict(response.headers)
        return response


def _install_sdk_log_handlers(log_dir: Path) -> None:
    for name, filename in SDK_LOGGERS.items():
        path = (log_dir / filename).resolve()
        std = logging.getLogger(name)
        std.setLevel(SDK_LOG_LEVEL)
        formatter: logging.Formatter | None = None
        keep = False
        for handler in list(std.handlers):
            formatter = formatter or handler.formatter
            if (
                isinstance(handler, logging.handlers.RotatingFileHandler)
                and Path(handler.baseFilename) == path
            ):
                keep = True
                continue
            std.removeHandler(handler)
            handler.close()
        if keep:
            continue
        new = logging.handlers.RotatingFileHandler(
            path, maxBytes=SDK_LOG_MAX_BYTES, backupCount=SDK_LOG_BACKUPS, encoding="utf-8"
        )
        if formatter is not None:
            new.setFormatter(formatter)
        new.addFilter(RedactingFilter())
        std.addHandler(new)


def build_model(
    *, app_id: str, access_token: str, log_dir: Path, timeout: float
) -> tuple[FyersModel, RecordingSession]:
    """A sync ``FyersModel`` for one thread, logging to ``log_dir``, sending with ``timeout``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    model = FyersModel(
        is_async=False,
        client_id=app_id,
        token=access_token,
        log_path=str(log_dir),
        log_level="WARNING",
    )
    # The FileHandlers the constructor opened but powertools did not attach (second and later
    # constructions) would otherwise stay open until garbage collection.
    for sdk_logger in (model.api_logger, model.request_logger):
        handler = getattr(sdk_logger, "logger_handler", None)
        std = logging.getLogger(getattr(sdk_logger, "service", ""))
        if isinstance(handler, logging.Handler) and handler not in std.handlers:
            with contextlib.suppress(Exception):
                handler.close()
    _install_sdk_log_handlers(log_dir)
    session = RecordingSession(timeout)
    old = model.service.session
    model.service.session = session
    with contextlib.suppress(Exception):
        old.close()
    return model, session


class ThreadModels:
    """One ``FyersModel`` per thread for one token: the SDK's shared error dict and ``requests``
    session must never serve two threads at once."""

    def __init__(self, *, app_id: str, access_token: str, log_dir: Path, timeout: float) -> None:
        self._args = (app_id, access_token, log_dir, timeout)
        self._local = threading.local()

    def get(self) -> tuple[FyersModel, RecordingSession]:
        pair: tuple[FyersModel, RecordingSession] | None = getattr(self._local, "pair", None)
        if pair is None:
            app_id, token, log_dir, timeout = self._args
            pair = build_model(app_id=app_id, access_token=token, log_dir=log_dir, timeout=timeout)
            self._local.pair = pair
        return pair
