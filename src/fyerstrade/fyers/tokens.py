"""The token file ``<data dir>/fyers_tokens.json``: written atomically with mode 0600, read with
its expiry checked.

Fyers access tokens are JWTs whose ``exp`` is 06:00 IST of the next day. Fyers ended refresh
tokens in April 2026 (SEBI's daily 2FA rule), so there is no refresh path: an expired token means
``fyerstrade auth login`` again. The token is registered with :func:`logs.register_secret` as soon
as it is read or written so it can never reach a log line.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fyerstrade.config import Settings
from fyerstrade.errors import AuthError
from fyerstrade.logs import register_secret

IST = ZoneInfo("Asia/Kolkata")
LOGIN_HINT = "run `fyerstrade auth login`"


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, decoded locally without checking the signature (as the SDK does);
    ``{}`` when the token is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    body = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(body.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def ist_text(epoch: int) -> str:
    """``2026-11-22 06:00 IST`` for display."""
    return datetime.fromtimestamp(epoch, IST).strftime("%Y-%m-%d %H:%M IST")


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What the token file holds. ``issued_at``/``expires_at`` are epoch seconds."""

    access_token: str
    app_id: str
    issued_at: int
    expires_at: int
    fy_id: str = ""
    name: str = ""

    def __repr__(self) -> str:  # never show the token, even in a debugger or traceback
        return (
            f"TokenRecord(app_id={self.app_id!r}, fy_id={self.fy_id!r}, "
            f"issued_at={self.issued_at}, expires_at={self.expires_at})"
        )

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    @classmethod
    def from_access_token(
        cls, access_token: str, app_id: str, *, now: float, fy_id: str = "", name: str = ""
    ) -> TokenRecord:
        """Build a record, reading ``iat``/``exp`` from the JWT (missing ``exp``: 06:00 IST rule
        cannot be assumed, so the token is treated as valid for 12 hours)."""
        claims = jwt_claims(access_token)
        issued = int(claims.get("iat", now))
        expires = int(claims.get("exp", issued + 12 * 3600))
        return cls(
            access_token=access_token,
            app_id=app_id,
            issued_at=issued,
            expires_at=expires,
            fy_id=fy_id or str(claims.get("fy_id", "")),
            name=name or str(claims.get("display_name", "")),
        )


def save_token(path: Path, record: TokenRecord) -> None:
    """Write ``record`` atomically: a 0600 temp file in the same directory, then ``os.replace``.
    A failure (full disk, read-only folder) leaves nothing behind and is one :class:`AuthError`
    line."""
    register_secret(record.access_token)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(record), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)  # noqa: PTH101 (umask may have narrowed it; never widen past 0600)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise AuthError(f"cannot save the token file {path}: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


#: About the size of a saved token file: a probe this big proves there is room for the real one.
_PROBE_BYTES = 4096


def check_token_writable(path: Path) -> None:
    """Prove that the token file can be written (folder exists or can be made, is writable and
    has room) before a login uses up Fyers' one-time auth code: a probe file the size of a token
    file is written, synced and removed. :class:`AuthError` says why not."""
    probe = path.with_name(f".{path.name}.{os.getpid()}.probe")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b" " * _PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise AuthError(
            f"cannot write the token file in {path.parent}: {exc.strerror}; nothing was sent to "
            "Fyers (fix the folder or choose another FYERSTRADE_DATA_DIR, then log in)"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def read_token(path: Path) -> TokenRecord | None:
    """The stored record, or ``None`` when there is no token file. A corrupt file is an
    :class:`AuthError` (log in again rewrites it)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise AuthError(f"the token file {path} is damaged (not text); {LOGIN_HINT}") from None
    except OSError as exc:
        raise AuthError(
            f"cannot read the token file {path}: {exc.strerror}; {LOGIN_HINT}"
        ) from None
    try:
        data = json.loads(raw)
        record = TokenRecord(
            access_token=str(data["access_token"]),
            app_id=str(data["app_id"]),
            issued_at=int(data["issued_at"]),
            expires_at=int(data["expires_at"]),
            fy_id=str(data.get("fy_id", "")),
            name=str(data.get("name", "")),
        )
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"the token file {path} is damaged; {LOGIN_HINT}") from None
    register_secret(record.access_token)
    return record


def load_valid_token(settings: Settings, *, now: float | None = None) -> TokenRecord:
    """The stored token if it exists, matches the configured app id and has not expired (by the
    JWT ``exp``; against a simulator the server decides); otherwise :class:`AuthError` saying
    what to run."""
    record = read_token(settings.token_file)
    if record is None:
        raise AuthError(f"not logged in to Fyers (no token file); {LOGIN_HINT}")
    current = time.time() if now is None else now
    # A simulator may run on a pinned or replayed clock: there the server judges expiry (it
    # answers -16 like Fyers), so a token that looks expired by our wall clock is still tried.
    if record.expired(current) and not settings.uses_simulator:
        raise AuthError(
            f"the Fyers access token expired at {ist_text(record.expires_at)} "
            f"(Fyers requires a daily login); {LOGIN_HINT}"
        )
    if settings.app_id and settings.app_id != record.app_id:
        raise AuthError(
            f"the stored token belongs to app {record.app_id}, not FYERS_APP_ID={settings.app_id}; "
            f"{LOGIN_HINT}"
        )
    return record


def delete_token(path: Path) -> bool:
    """Remove the token file; ``True`` if there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
