"""The Fyers login: authorization-code flow with the SDK's ``SessionModel``.

1. Build the ``generate-authcode`` URL with a random ``state`` (``secrets.token_urlsafe``).
2. Get the redirect back: when the redirect URI is ``http://127.0.0.1:PORT/...`` (or localhost)
   a one-shot listener on 127.0.0.1 catches it; otherwise the user pastes the redirected URL.
   Against the simulator we request the authcode URL ourselves and follow its 302 to our listener,
   so the login needs no browser and no typing. With real Fyers we open a browser when we can
   and always print the URL.
3. Check ``state``; exchange ``auth_code`` for the access token (``validate-authcode``).
4. Save ``fyers_tokens.json`` (0600, atomic) with the expiry decoded from the JWT.

There is no refresh path: Fyers discontinued refresh tokens from 1 April 2026 (SEBI's daily 2FA
rule), so a login is needed every trading day. Secrets (the app secret, the token, the auth code,
``appIdHash``) are registered for redaction as soon as they are known and are never printed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from fyers_apiv3.fyersModel import SessionModel

from fyerstrade.config import Settings
from fyerstrade.errors import AuthError, ConfigError, FyersTradeError, RetryableError
from fyerstrade.fyers import endpoints
from fyerstrade.fyers.tokens import LOGIN_HINT, TokenRecord, check_token_writable, save_token
from fyerstrade.logs import redact, register_secret

log = logging.getLogger(__name__)

LOGIN_TIMEOUT = 300.0
HTTP_TIMEOUT = 20.0
LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
REFRESH_NOTE = (
    "Fyers ended refresh tokens in April 2026 (SEBI daily 2FA rule): "
    "run `fyerstrade auth login` once every trading day."
)

_CLOSE_PAGE = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>fyerstrade login</title></head>"
    b"<body style='font-family:sans-serif;margin:3em'><h2>fyerstrade: login received</h2>"
    b"<p>You can close this tab and return to the terminal.</p></body></html>"
)


@dataclass(frozen=True, slots=True)
class Redirect:
    """What came back on the redirect URI (``auth_code`` is secret)."""

    auth_code: str
    state: str
    status: str = ""
    message: str = ""


def parse_redirect(url: str) -> Redirect:
    """Read ``auth_code``/``state`` (and Fyers' ``s``/``message``) from a redirected URL."""
    query = parse_qs(urlsplit(url.strip()).query)

    def one(key: str) -> str:
        values = query.get(key)
        return values[0] if values else ""

    code = one("auth_code") or one("code")
    if code and code.isdigit():  # Fyers also sends ``code=200`` (a status) next to auth_code
        code = one("auth_code")
    register_secret(code)
    return Redirect(auth_code=code, state=one("state"), status=one("s"), message=one("message"))


def is_loopback_redirect(redirect_uri: str) -> bool:
    parts = urlsplit(redirect_uri)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and parts.port is not None


class _OneShotListener:
    """A 127.0.0.1 HTTP server that waits for the single redirect carrying ``auth_code``."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        self.path = parts.path or "/"
        self.result: str | None = None
        self.done = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # no auth codes on stderr
                pass

            def do_GET(self) -> None:
                request = urlsplit(self.path)
                if request.path != outer.path or not parse_qs(request.query):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(_CLOSE_PAGE)))
                self.end_headers()
                self.wfile.write(_CLOSE_PAGE)
                outer.result = self.path
                outer.done.set()

        try:
            self.server = HTTPServer(("127.0.0.1", parts.port or 80), Handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on 127.0.0.1:{parts.port} for FYERS_REDIRECT_URI "
                f"({exc.strerror}); free the port or register another redirect URI"
            ) from None
        self.server.timeout = 0.2
        self.thread = threading.Thread(target=self._serve, name="login-listener", daemon=True)

    def _serve(self) -> None:
        while not self.done.is_set():
            self.server.handle_request()

    def __enter__(self) -> _OneShotListener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=2)
        self.server.server_close()

    def wait(self, timeout: float) -> str:
        if not self.done.wait(timeout) or self.result is None:
            raise AuthError(
                f"no login redirect arrived within {timeout:g} s; {LOGIN_HINT} and finish the "
                "login in the browser"
            )
        return self.result


def _follow_authcode_url(url: str) -> None:
    """Simulator only: request the authcode URL and follow its 302 to our listener."""
    try:
        reply = requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=True)
    except requests.RequestException as exc:
        raise RetryableError(
            f"the Fyers simulator did not answer the login request ({type(exc).__name__}); "
            "is `fyerstrade sim` running at FYERSTRADE_FYERS_URL?"
        ) from None
    if reply.status_code >= 400:
        raise AuthError(f"the login page answered HTTP {reply.status_code}; {LOGIN_HINT}")


def _exchange(session: SessionModel, timeout: float) -> dict[str, Any]:
    """``SessionModel.generate_token()`` (which sets no timeout) bounded by ``timeout``."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="login-exchange")
    future = pool.submit(session.generate_token)
    try:
        reply = future.result(timeout=timeout)
    except FutureTimeout:
        raise RetryableError(
            f"Fyers did not answer the token exchange within {timeout:g} s; {LOGIN_HINT} again"
        ) from None
    except (requests.RequestException, ValueError) as exc:
        raise RetryableError(
            f"the token exchange failed ({type(exc).__name__}); {LOGIN_HINT} again"
        ) from None
    finally:
        pool.shutdown(wait=False)
    if not isinstance(reply, dict):
        raise RetryableError(f"Fyers answered the token exchange with no JSON; {LOGIN_HINT} again")
    return dict(reply)


def _check_exchange_reply(reply: dict[str, Any]) -> str:
    token = reply.get("access_token")
    if reply.get("s") == "ok" and isinstance(token, str) and token:
        register_secret(token)
        register_secret(
            reply.get("refresh_token") if isinstance(reply.get("refresh_token"), str) else None
        )
        return token
    code = reply.get("code")
    message = redact(str(reply.get("message") or "no message"))
    if code in (-371, -352, -16, -17):
        raise ConfigError(
            f"Fyers refused the app credentials (code {code}: {message}); check FYERS_APP_ID and "
            "FYERS_SECRET_KEY"
        )
    raise AuthError(f"Fyers did not issue a token (code {code}: {message}); {LOGIN_HINT} again")


def login(
    settings: Settings,
    *,
    echo: Callable[[str], None],
    prompt: Callable[[str], str],
    open_browser: bool = True,
    timeout: float = LOGIN_TIMEOUT,
    profile: Callable[[Settings, str, str], dict[str, Any]] | None = None,
) -> TokenRecord:
    """Run the whole login and save the token file; return what was saved.

    ``echo``/``prompt`` talk to the user (the CLI passes ``typer.echo``/``typer.prompt``);
    ``profile(settings, app_id, token)`` fetches the account name for the record (best effort).
    """
    app_id = settings.app_id
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if not app_id or not secret:
        raise ConfigError("set FYERS_APP_ID and FYERS_SECRET_KEY (in .env) before logging in")
    register_secret(secret)
    # Before anything reaches Fyers: the one-time auth code must not be spent on a login whose
    # token could not be saved (a read-only or full data directory).
    check_token_writable(settings.token_file)
    endpoints.point_sdk_at(settings)
    state = secrets.token_urlsafe(24)
    session = SessionModel(
        client_id=app_id,
        redirect_uri=settings.redirect_uri,
        response_type="code",
        state=state,
        secret_key=secret,
        grant_type="authorization_code",
    )
    register_secret(session.get_hash().hexdigest())
    url = session.generate_authcode()

    if is_loopback_redirect(settings.redirect_uri):
        with _OneShotListener(settings.redirect_uri) as listener:
            echo(f"Log in to Fyers at:\n  {url}")
            if settings.uses_simulator:
                echo("Simulator: approving the login automatically.")
                _follow_authcode_url(url)
            elif open_browser:
                _try_browser(url, echo)
            echo(f"Waiting for the redirect to {settings.redirect_uri} ...")
            redirected = listener.wait(timeout)
    else:
        echo(f"Log in to Fyers at:\n  {url}")
        if open_browser and not settings.uses_simulator:
            _try_browser(url, echo)
        redirected = prompt("Paste the full URL your browser was redirected to")

    answer = parse_redirect(redirected)
    if answer.status == "error":
        raise AuthError(f"Fyers reported a failed login ({redact(answer.message)}); {LOGIN_HINT}")
    if not answer.auth_code:
        raise AuthError(f"the redirected URL has no auth_code; {LOGIN_HINT} again")
    if not secrets.compare_digest(answer.state, state):
        raise AuthError(
            f"the login answer's state does not match this login (stale or forged redirect); "
            f"{LOGIN_HINT} again"
        )
    session.set_token(answer.auth_code)
    token = _check_exchange_reply(_exchange(session, HTTP_TIMEOUT))

    now = time.time()
    name, fy_id = "", ""
    if profile is not None:
        try:
            data = profile(settings, app_id, token)
            name, fy_id = str(data.get("name", "")), str(data.get("fy_id", ""))
        except FyersTradeError as exc:
            log.warning("logged in, but the profile could not be read: %s", exc)
    record = TokenRecord.from_access_token(token, app_id, now=now, fy_id=fy_id, name=name)
    save_token(settings.token_file, record)
    log.info("Fyers login saved for app %s, valid until %s", app_id, record.expires_at)
    return record


def _try_browser(url: str, echo: Callable[[str], None]) -> None:
    try:
        opened = webbrowser.open(url, new=2)
    except webbrowser.Error:
        opened = False
    if not opened:
        echo("(Could not open a browser: open the URL above yourself.)")
