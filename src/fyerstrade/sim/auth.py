"""Login and account endpoints: ``generate-authcode``, ``validate-authcode``, ``profile``,
``logout`` (``funds`` belongs to the account, in :mod:`.orders`), and the
``Authorization: app_id:token`` check the other routes share.

The login needs no browser: ``generate-authcode`` approves at once and redirects (302) to the
``redirect_uri`` with ``s=ok&code=200&auth_code=<JWT>&state=<state>``.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from fyerstrade.sim.state import SimState
from fyerstrade.sim.tokens import (
    TokenError,
    access_token_claims,
    app_id_hash,
    auth_code_claims,
    decode,
    encode,
)

STATE_KEY = web.AppKey("sim_state", SimState)

AUTH_FAILED = {"s": "error", "code": -16, "message": "Could not authenticate the user"}
QUOTE_AUTH_FAILED = {"s": "error", "code": -15, "message": "Please provide valid token"}


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def token_claims(
    state: SimState, header: str, *, with_app_id: bool = True
) -> dict[str, Any] | None:
    """The access token's claims if ``header`` carries a valid, unrevoked token of our app
    (``app_id:token``, or the bare token where the SDK strips the app id); else None."""
    if state.faults.expired_token:
        return None
    if with_app_id:
        app_id, sep, token = header.partition(":")
        if not sep or app_id != state.config.app_id:
            return None
    else:
        token = header.rpartition(":")[2]
    try:
        claims = decode(token, state.key, state.now())
    except TokenError:
        return None
    if claims.get("sub") != "access_token" or state.is_revoked(str(claims.get("jti"))):
        return None
    return claims


def require_token(
    request: web.Request, failure: dict[str, Any] = AUTH_FAILED, *, with_app_id: bool = True
) -> dict[str, Any]:
    """Claims of the request's token, or raise the 401 envelope."""
    state = request.app[STATE_KEY]
    claims = token_claims(state, request.headers.get("Authorization", ""), with_app_id=with_app_id)
    if claims is None:
        raise web.HTTPUnauthorized(text=json.dumps(failure), content_type="application/json")
    return claims


async def generate_authcode(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    q = request.query
    if q.get("client_id") != state.config.app_id:
        return _json({"s": "error", "code": -352, "message": "Invalid App ID"}, 400)
    redirect = q.get("redirect_uri", "")
    if urlsplit(redirect).scheme not in ("http", "https"):
        return _json({"s": "error", "code": -50, "message": "invalid redirect_uri"}, 400)
    if q.get("response_type") != "code":
        return _json({"s": "error", "code": -50, "message": "response_type must be code"}, 400)
    code = encode(auth_code_claims(state.config.app_id, state.now()), state.key)
    params = {"s": "ok", "code": "200", "auth_code": code, "state": q.get("state", "")}
    sep = "&" if urlsplit(redirect).query else "?"
    raise web.HTTPFound(f"{redirect}{sep}{urlencode(params)}")


async def validate_authcode(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return _json({"s": "error", "code": -50, "message": "request body must be JSON"}, 400)
    if body.get("grant_type") != "authorization_code":
        return _json({"s": "error", "code": -441, "message": "invalid grant type"}, 400)
    expected = app_id_hash(state.config.app_id, state.config.secret)
    if not hmac.compare_digest(str(body.get("appIdHash") or ""), expected):
        message = "provide sha256 hash of appId and app secret"
        return _json({"s": "error", "code": -371, "message": message}, 400)
    code = body.get("code")
    if not code:
        return _json({"s": "error", "code": -374, "message": "provide authorization code"}, 400)
    try:
        claims = decode(str(code), state.key, state.now())
    except TokenError:
        claims = {}
    if claims.get("sub") != "auth_code" or not state.use_code(str(claims.get("uuid"))):
        return _json({"s": "error", "code": -437, "message": "invalid auth code"}, 400)
    access = access_token_claims(
        state.config.app_id,
        state.config.fy_id,
        state.config.display_name,
        str(claims["hsm_key"]),
        state.now(),
    )
    return _json({"s": "ok", "code": 200, "message": "", "access_token": encode(access, state.key)})


async def profile(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    require_token(request)
    data = {
        "name": state.config.display_name,
        "display_name": state.config.display_name,
        "fy_id": state.config.fy_id,
        "image": None,
        "email_id": "s*****@example.com",
        "PAN": "XXXXX1234X",
        "pin_change_date": "01-01-2026 09:00:00",
        "pwd_change_date": None,
        "mobile_number": "******0000",
        "totp": True,
        "pwd_to_expire": 90,
        "ddpi_enabled": False,
        "mtf_enabled": False,
    }
    return _json({"s": "ok", "code": 200, "message": "", "data": data})


async def logout(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    failure = {"s": "error", "code": -16, "message": "Token is Invalid or Expired"}
    claims = require_token(request, failure)
    state.revoke(str(claims.get("jti")))
    return _json({"s": "ok", "code": 200, "message": "you are successfully logged out"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v3/generate-authcode", generate_authcode)
    app.router.add_post("/api/v3/validate-authcode", validate_authcode)
    app.router.add_get("/api/v3/profile", profile)
    app.router.add_post("/api/v3/logout", logout)
