"""Notifications through apprise (Telegram, e-mail, Slack, Discord, webhooks, ...): fills,
rejections, the kill switch, errors, engine start and stop, the daily summary.

The live config lists apprise URLs (``notify: ["tgram://<bot token>/<chat id>", ...]``);
:class:`Notifier` sends each :class:`Notice` to all of them **from its own thread**, so trading
never waits for a slow or dead notification service, and a failing one is logged (once per
failure, at WARNING) and forgotten: it never stops trading. The queue is bounded; when a service
is so slow that it fills, the oldest notices are dropped and counted.

Secrets: a notifier URL is itself a secret (bot tokens, webhook keys, passwords live in it).
Every part of it that could be one is registered with :func:`fyerstrade.logs.register_secret`,
so no log line shows it; logs and errors name a service only by :func:`private_url` (scheme and
host name) or its position in the list. Apprise's own log records are re-logged
through our redaction. Notice bodies pass through the same redaction, so a token inside an error
message cannot leave the machine either.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import queue
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fyerstrade.errors import ConfigError
from fyerstrade.logs import redact, register_secret

__all__ = ["Notice", "NoticeKind", "Notifier", "check_notify_urls", "private_url"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 500
SERVICE_TIMEOUT = 10.0
_STOP = object()


class NoticeKind(StrEnum):
    FILL = "fill"
    REJECTION = "rejection"
    KILL_SWITCH = "kill_switch"
    ERROR = "error"
    START = "start"
    STOP = "stop"
    SUMMARY = "summary"


_TYPES = {
    NoticeKind.FILL: "success",
    NoticeKind.REJECTION: "warning",
    NoticeKind.KILL_SWITCH: "failure",
    NoticeKind.ERROR: "failure",
    NoticeKind.START: "info",
    NoticeKind.STOP: "info",
    NoticeKind.SUMMARY: "info",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One message: what happened (``kind``), a short title and the body text."""

    kind: NoticeKind
    title: str
    body: str


def _apprise() -> ModuleType:
    """apprise, imported without the deprecation warning of ``imghdr``, which one of its
    plugins imports later, while sending (Python 3.11 warns; the module still works). Importing
    it here first, quietly, leaves nothing to warn about later."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
        with contextlib.suppress(ImportError):  # gone in Python 3.13; apprise shims it there
            importlib.import_module("imghdr")
        return importlib.import_module("apprise")


def _secret_parts(url: str) -> list[str]:
    """The parts of a notifier URL that may be secrets: user and password, a host that is not
    a host name (Telegram and Discord put tokens there), every path segment and query value."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    out = [url]
    if parts.username:
        out.append(unquote(parts.username))
    if parts.password:
        out.append(unquote(parts.password))
    netloc = parts.netloc.rpartition("@")[2]
    host = netloc.split(":")[0] if netloc.count(":") == 1 else netloc
    looks_like_host = "." in host or host == "localhost" or host.startswith("[")
    if netloc and not looks_like_host:
        out.append(unquote(netloc))
        out.extend(unquote(p) for p in netloc.split(":"))
    out.extend(unquote(seg) for seg in parts.path.split("/") if seg)
    out.extend(unquote(v) for _k, v in parse_qsl(parts.query) if v)
    return [p for p in out if len(p) >= 4]


def protect_url(url: str) -> None:
    """Register the secret parts of a notifier URL so that no log line can show them."""
    for part in _secret_parts(url):
        register_secret(part)


def private_url(url: str) -> str:
    """How a notifier URL may be shown: its scheme and host name, nothing that may be a key
    (``json://127.0.0.1:8080/…``, ``tgram://…``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    netloc = parts.netloc.rpartition("@")[2]
    host = netloc.split(":")[0]
    shown = netloc if ("." in host or host == "localhost") else ""
    return f"{parts.scheme or '?'}://{shown}/…" if shown else f"{parts.scheme or '?'}://…"


def _asset() -> Any:
    return _apprise().AppriseAsset(storage_mode="memory", service_timeout=SERVICE_TIMEOUT)


def check_notify_urls(urls: Sequence[str]) -> None:
    """Raise :class:`ConfigError` naming the first URL apprise cannot use (by position and
    scheme only: the URL itself is a secret)."""
    apprise = _apprise()
    for i, url in enumerate(urls):
        protect_url(url)
        if not apprise.Apprise(asset=_asset()).add(url):
            scheme = url.split("://", 1)[0] if "://" in url else "(none)"
            raise ConfigError(
                f"notify[{i}]: apprise does not understand this URL (scheme {scheme!r}); see "
                "https://github.com/caronc/apprise/wiki for the services and their URL forms"
            )


class _Forward(logging.Handler):
    """Apprise's log records, re-logged by us through the redaction (never raw)."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            log.warning("notification service: %s", redact(record.getMessage()))


def _route_apprise_logs() -> None:
    apprise_log = logging.getLogger("apprise")
    if not any(isinstance(h, _Forward) for h in apprise_log.handlers):
        apprise_log.addHandler(_Forward())
    apprise_log.propagate = False


class Notifier:
    """Sends notices to the configured services from a background thread.

    ``send`` replaces apprise (tests and the in-memory fake): it gets ``(notice, urls)`` and
    returns True on success. ``prefix`` goes in front of every title (``[PAPER]``/``[REAL]``).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        prefix: str = "",
        send: Callable[[Notice, Sequence[str]], bool] | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.urls = list(urls)
        for url in self.urls:
            protect_url(url)
        self.prefix = prefix
        self._send = send or self._send_apprise
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None
        self._client: Any = None
        if self.urls:
            _route_apprise_logs()
            self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
            self._thread.start()

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def notify(self, kind: NoticeKind, title: str, body: str) -> None:
        """Queue a notice (never blocks, never raises)."""
        if not self.urls:
            return
        notice = Notice(kind, redact(f"{self.prefix}{title}"), redact(body))
        while True:
            try:
                self._queue.put_nowait(notice)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    with self._lock:
                        self.dropped += 1
                except queue.Empty:
                    pass

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (up to ``timeout`` seconds), then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                ok = self._send(item, self.urls)
            except Exception as exc:  # a notifier must never take trading down
                log.warning("notification %r not sent: %s", item.kind.value, redact(str(exc)))
                ok = False
            with self._lock:
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1

    def _send_apprise(self, notice: Notice, urls: Sequence[str]) -> bool:
        if self._client is None:
            client = _apprise().Apprise(asset=_asset())
            for i, url in enumerate(urls):
                if not client.add(url):
                    log.warning("notify[%d]: apprise does not understand this URL; skipped", i)
            self._client = client
        ok = bool(
            self._client.notify(
                body=notice.body, title=notice.title, notify_type=_TYPES[notice.kind]
            )
        )
        if not ok:
            log.warning("notification %r not delivered to every service", notice.kind.value)
        return ok
