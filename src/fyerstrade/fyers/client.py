"""``FyersClient``: the REST calls the platform makes, through the official SDK, paced, retried and
translated into our exceptions.

Every call goes: shared :class:`RateLimiter` → SDK method (its own ``FyersModel`` per thread, so
the SDK's shared mutable error dict and ``requests`` session are never used by two threads at
once) → :func:`raise_for_error` with the HTTP status and headers the SDK hides → retry on
429/5xx/timeouts. One call = one logical request; callers chunk history ranges themselves.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from fyers_apiv3.fyersModel import FyersModel

from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.errors import AuthError, InputError, UnknownSymbolError
from fyerstrade.fyers import endpoints
from fyerstrade.fyers.ratelimit import RateLimiter, get_rate_limiter
from fyerstrade.fyers.responses import (
    IST,
    Candle,
    Quote,
    parse_candles,
    parse_quotes,
    raise_for_error,
)
from fyerstrade.fyers.retry import RetryPolicy, call_with_retries
from fyerstrade.fyers.sdk_session import RecordingSession, ThreadModels
from fyerstrade.fyers.tokens import LOGIN_HINT, load_valid_token
from fyerstrade.logs import register_secret

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0
MAX_QUOTE_SYMBOLS = 50


def _ist(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, IST).strftime("%Y-%m-%d %H:%M")


class FyersClient:
    """REST access to Fyers (or the simulator at ``settings.fyers_url``) for one access token.

    Thread-safe: each thread gets its own SDK model; all threads share one rate limiter.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        app_id: str,
        access_token: str,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not app_id or not access_token:
            raise AuthError(f"no Fyers app id or access token; {LOGIN_HINT}")
        register_secret(access_token)
        endpoints.point_sdk_at(settings)
        self.settings = settings
        self.app_id = app_id
        self._token = access_token
        self.rate_limiter = rate_limiter or get_rate_limiter(settings)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._models = ThreadModels(
            app_id=app_id, access_token=access_token, log_dir=settings.log_dir, timeout=timeout
        )
        self._count_lock = threading.Lock()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"FyersClient(app_id={self.app_id!r}, url={self.settings.fyers_url or 'fyers'})"

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> FyersClient:
        """A client for the token in the token file; a missing, damaged or expired token is an
        :class:`AuthError` saying to run ``fyerstrade auth login``."""
        record = load_valid_token(settings)
        return cls(settings, app_id=record.app_id, access_token=record.access_token, **kwargs)

    # ---- plumbing ----------------------------------------------------------------------------
    def _model(self) -> tuple[FyersModel, RecordingSession]:
        return self._models.get()

    def _call(
        self,
        what: str,
        invoke: Callable[[FyersModel], Any],
        *,
        symbol: str | None = None,
    ) -> dict[str, Any]:
        """One logical request: pace, send, translate; retried on transient failures."""

        def attempt() -> dict[str, Any]:
            model, session = self._model()
            with self.rate_limiter.request():
                with self._count_lock:
                    self.requests_sent += 1
                reply = invoke(model)
            # The SDK reuses one error dict per service and mutates it in place: copy it now.
            payload = copy.deepcopy(reply) if isinstance(reply, dict) else reply
            log.debug("fyers %s -> HTTP %s", what, session.last_status)
            return raise_for_error(
                payload,
                what=what,
                symbol=symbol,
                http_status=session.last_status,
                headers=session.last_headers,
                transport_error=session.last_error,
            )

        return call_with_retries(
            attempt, self.retry, what=what, on_rate_limit=self.rate_limiter.penalize
        )

    # ---- market data --------------------------------------------------------------------------
    def history(
        self, symbol: str, resolution: Resolution, range_from: int, range_to: int
    ) -> list[Candle]:
        """Candles ``(ts, open, high, low, close, volume)`` of ``symbol`` with open time in
        ``[range_from, range_to]`` (epoch seconds), one request. Daily candles are stamped at
        00:00 IST of their date. Raises :class:`UnknownSymbolError` / :class:`InputError` naming
        symbol and range, :class:`AuthError`, or :class:`RetryableError` after retries."""
        if range_to < range_from:
            raise InputError(
                f"history {symbol}: range end {_ist(range_to)} is before start {_ist(range_from)}"
            )
        res = Resolution(resolution)
        what = f"history {symbol} {res.value} {_ist(range_from)}..{_ist(range_to)} IST"
        params = {
            "symbol": symbol,
            "resolution": res.value,
            "date_format": "0",
            "range_from": str(int(range_from)),
            "range_to": str(int(range_to)),
            "cont_flag": "1",
        }
        payload = self._call(what, lambda m: m.history(data=params), symbol=symbol)
        return parse_candles(payload, daily=not res.is_intraday, what=what)

    def quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        """Snapshot quotes, keyed by symbol (at most 50 symbols per call, as Fyers allows). An
        unknown symbol raises :class:`UnknownSymbolError` naming it."""
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return {}
        if len(wanted) > MAX_QUOTE_SYMBOLS:
            raise InputError(
                f"quotes: at most {MAX_QUOTE_SYMBOLS} symbols per call, got {len(wanted)}"
            )
        what = f"quotes {','.join(wanted[:3])}{'...' if len(wanted) > 3 else ''}"
        joined = ",".join(wanted)
        payload = self._call(
            what,
            lambda m: m.quotes(data={"symbols": joined}),
            symbol=wanted[0] if len(wanted) == 1 else None,
        )
        quotes = parse_quotes(payload, what=what)
        missing = [s for s in wanted if s not in quotes]
        if missing:
            raise UnknownSymbolError(
                f"Fyers has no quote for {', '.join(missing)}; check the symbol with "
                "`fyerstrade data symbols --search`"
            )
        return quotes

    # ---- account ------------------------------------------------------------------------------
    def profile(self) -> dict[str, Any]:
        """The ``data`` of ``/profile``: ``name``, ``fy_id``, ``email_id`` (masked) ..."""
        payload = self._call("profile", lambda m: m.get_profile())
        data = payload.get("data")
        return dict(data) if isinstance(data, dict) else {}

    def funds(self) -> dict[str, Any]:
        """The ``/funds`` reply: ``fund_limit`` rows of ``{id, title, equityAmount, ...}``."""
        return self._call("funds", lambda m: m.funds())

    def logout(self) -> dict[str, Any]:
        """Invalidate the access token on the server (other apps and sessions stay logged in)."""
        return self._call("logout", lambda m: m.logout())
