"""HS256 JWTs for the simulator's auth codes and access tokens, shaped like Fyers' own.

The data socket of the official SDK decodes the access token's payload locally (``exp`` and
``hsm_key``) without checking the signature, so the payload layout matters; the signature only has
to convince this simulator. Tokens are signed with a key derived from the app secret, so a
restarted simulator with the same configuration still accepts the tokens it issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
AUTH_CODE_LIFETIME = 600  # seconds; Fyers does not document it, a short window is realistic


class TokenError(ValueError):
    """A token that is malformed, wrongly signed or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(app_id: str, secret: str) -> bytes:
    """The simulator's HMAC key for one app (never the secret itself)."""
    return hashlib.sha256(f"fyerstrade-sim|{app_id}|{secret}".encode()).digest()


def app_id_hash(app_id: str, secret: str) -> str:
    """``appIdHash`` as Fyers expects it: hex SHA-256 of ``"app_id:secret"``."""
    return hashlib.sha256(f"{app_id}:{secret}".encode()).hexdigest()


def encode(claims: dict[str, Any], key: bytes) -> str:
    """A compact HS256 JWT of ``claims``."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = _b64(hmac.new(key, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def decode(token: str, key: bytes, now: int) -> dict[str, Any]:
    """The claims of ``token`` if its signature is ours and it has not expired at ``now``."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a JWT")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    try:
        signature = _unb64(parts[2])
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("undecodable JWT") from exc
    if not hmac.compare_digest(signature, expected) or not isinstance(claims, dict):
        raise TokenError("bad signature")
    exp = claims.get("exp")
    if not isinstance(exp, int) or now >= exp:
        raise TokenError("expired")
    return claims


def next_six_am_ist(now: int) -> int:
    """Epoch of the next 06:00 IST after ``now`` (the same day if issued 00:00-06:00 IST), which is
    when Fyers access tokens expire."""
    local = datetime.fromtimestamp(now, IST)
    six = datetime.combine(local.date(), time(6, 0), tzinfo=IST)
    if local >= six:
        six = datetime.combine(local.date() + timedelta(days=1), time(6, 0), tzinfo=IST)
    return int(six.timestamp())


def auth_code_claims(app_id: str, now: int) -> dict[str, Any]:
    """Claims of an auth code (``sub: auth_code``) valid for :data:`AUTH_CODE_LIFETIME`."""
    return {
        "iss": "api.login.fyers.in",
        "iat": now,
        "exp": now + AUTH_CODE_LIFETIME,
        "nbf": now,
        "sub": "auth_code",
        "app_id": app_id.split("-")[0],
        "hsm_key": secrets.token_hex(16),
        "nonce": "",
        "uuid": secrets.token_hex(16),
    }


def access_token_claims(
    app_id: str, fy_id: str, display_name: str, hsm_key: str, now: int
) -> dict[str, Any]:
    """Claims of an access token, expiring at the next 06:00 IST like Fyers' tokens."""
    return {
        "iss": "api.fyers.in",
        "iat": now,
        "exp": next_six_am_ist(now),
        "nbf": now,
        "aud": ["x:0", "x:1", "x:2", "d:1", "d:2"],
        "sub": "access_token",
        "at_hash": secrets.token_hex(16),
        "display_name": display_name,
        "oms": "K1",
        "hsm_key": hsm_key,
        "fy_id": fy_id,
        "appType": 100,
        "app_id": app_id,
        "jti": secrets.token_hex(8),
    }
