"""Logging: a rotating file in the log dir, a concise console format, and secret redaction.

Every handler carries :class:`RedactingFilter`, which replaces anything that looks like a JWT
(Fyers access and auth tokens are JWTs), an ``Authorization``/``access_token``/``secret`` value, or
any string registered with :func:`register_secret` (the app secret, the current token) by ``***``.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from pathlib import Path

LOG_FILE = "fyerstrade.log"
_CONSOLE_FORMAT = "%(levelname).1s %(message)s"
_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_KEYED = re.compile(
    r"(?i)((?:access_token|auth_code|authorization|secret(?:_key)?|app_secret|appIdHash|pin|totp)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',&}]+)"
)

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Make sure ``value`` never appears in a log line (ignored when empty or very short)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with tokens and registered secrets replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, "***")
    text = _JWT.sub("***", text)
    return _KEYED.sub(lambda m: m.group(1) + "***", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (with its args applied) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, redacted, so the handler does not re-render it raw.
            fmt = logging.Formatter()
            record.exc_text = redact(fmt.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (tests and Streamlit swap it), and skips
    records marked ``extra={"console": False}`` (already shown to the user another way)."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "console", True) is False:
            return
        self.stream = sys.stderr
        super().emit(record)


class _FileHandler(logging.handlers.RotatingFileHandler):
    """The log file. When it cannot be written (a full disk) the record is dropped quietly: the
    user already sees the command's own one-line error, and logging's default would print a
    traceback ("--- Logging error ---") to stderr for every record."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        self.failed = True


_configured: dict[str, logging.Handler] = {}


def setup_logging(
    log_dir: Path, level: str = "INFO", *, console: bool = True, secrets: list[str] | None = None
) -> Path:
    """Configure the ``fyerstrade`` logger (idempotent); return the log file path."""
    for s in secrets or []:
        register_secret(s)
    path = log_dir / LOG_FILE
    root = logging.getLogger("fyerstrade")
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    root.propagate = False
    old = _configured.get("file")
    if old is None or getattr(old, "baseFilename", None) != str(path.resolve()):
        if old is not None:
            root.removeHandler(old)
            old.close()
            del _configured["file"]
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            fh = _FileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
        except OSError:  # a read-only or full disk: the command still runs, logging to console
            fh = None
        if fh is not None:
            fh.setFormatter(logging.Formatter(_FILE_FORMAT))
            fh.addFilter(RedactingFilter())
            root.addHandler(fh)
            _configured["file"] = fh
    if console and "console" not in _configured:
        ch = _ConsoleHandler()
        ch.setLevel(logging.WARNING)
        ch.setFormatter(logging.Formatter(_CONSOLE_FORMAT))
        ch.addFilter(RedactingFilter())
        root.addHandler(ch)
        _configured["console"] = ch
    return path


def set_console_level(level: int) -> None:
    handler = _configured.get("console")
    if handler is not None:
        handler.setLevel(level)
