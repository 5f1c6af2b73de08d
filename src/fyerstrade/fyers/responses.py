"""Pure translation of Fyers reply dicts: error envelopes become our exceptions, payloads become
plain tuples and dataclasses. No I/O here, so every rule is tested on recorded payloads.

Error mapping (``errors.py`` names):

========================================  ==========================================
Fyers says                                we raise
========================================  ==========================================
code -8/-15/-16/-17, HTTP 401             AuthError ("run `fyerstrade auth login`")
HTTP 429, code -429 / -353                RateLimitError (retry_after from headers)
HTTP 5xx, "Bad request" (non-JSON body,   RetryableError
connection failure, timeout)
code -300                                 UnknownSymbolError naming the symbol
code -50                                  InputError naming the request (symbol, range)
anything else                             BrokerError with code and message
========================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fyerstrade.errors import (
    AuthError,
    BrokerError,
    DataError,
    InputError,
    RateLimitError,
    RetryableError,
    UnknownSymbolError,
)
from fyerstrade.logs import redact

IST = ZoneInfo("Asia/Kolkata")
TOKEN_CODES = frozenset({-8, -15, -16, -17})
RATE_LIMIT_CODES = frozenset({-429, -353})
LOGIN_HINT = "run `fyerstrade auth login`"

Candle = tuple[int, float, float, float, float, int]


def _code(payload: Mapping[str, Any]) -> int | None:
    try:
        return int(payload.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Fyers' delay hint: ``Retry-After`` (seconds) or ``X-Retry-After-Ms`` (milliseconds)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for key, scale in (("retry-after", 1.0), ("x-retry-after-ms", 0.001)):
        value = lowered.get(key)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def raise_for_error(
    payload: Any,
    *,
    what: str,
    symbol: str | None = None,
    http_status: int | None = None,
    headers: Mapping[str, str] | None = None,
    transport_error: str | None = None,
) -> dict[str, Any]:
    """Return ``payload`` if it is a success envelope; otherwise raise the matching exception.

    ``what`` describes the request for messages (e.g. ``history NSE:SBIN-EQ 5 2024-01-01..``);
    ``http_status``/``headers`` are those of the HTTP reply when known (the SDK hides them);
    ``transport_error`` names a timeout or connection failure seen below the SDK.
    """
    if transport_error is not None:
        raise RetryableError(f"Fyers {what}: {transport_error}; try again later")
    if not isinstance(payload, Mapping):
        raise RetryableError(f"Fyers {what}: unreadable reply ({type(payload).__name__})")
    status = str(payload.get("s", ""))
    code = _code(payload)
    message = redact(str(payload.get("message", "") or "")).strip()
    if http_status == 429 or code in RATE_LIMIT_CODES:
        raise RateLimitError(
            f"Fyers rate limit hit on {what}", retry_after=retry_after_seconds(headers or {})
        )
    if code in TOKEN_CODES or http_status == 401:
        detail = f" ({message})" if message else ""
        raise AuthError(f"Fyers rejected the access token{detail}; {LOGIN_HINT}")
    if status == "ok" or (status not in {"error", ""} and code in (None, 200)):
        return dict(payload)
    if http_status is not None and http_status >= 500:
        raise RetryableError(f"Fyers {what}: server error HTTP {http_status}; try again later")
    if message == "Bad request" and (code == -99 or code == http_status or code in (0, 200)):
        raise RetryableError(f"Fyers {what}: the reply was not valid JSON or the connection failed")
    if code is not None and code >= 500:
        raise RetryableError(f"Fyers {what}: server error {code}; try again later")
    if code == -300:
        name = symbol or "the symbol"
        raise UnknownSymbolError(
            f"Fyers does not know symbol {name} ({message or 'invalid symbol'}); "
            "check it against `fyerstrade data symbols --search`"
        )
    if code == -50:
        raise InputError(f"Fyers rejected {what}: {message or 'invalid input'}")
    raise BrokerError(f"Fyers {what} failed: code {code}: {message or 'no message'}")


def ist_midnight(epoch: int) -> int:
    """Epoch of 00:00 IST on the IST calendar date of ``epoch``."""
    day = datetime.fromtimestamp(epoch, IST).date()
    return int(datetime(day.year, day.month, day.day, tzinfo=IST).timestamp())


def parse_candles(payload: Mapping[str, Any], *, daily: bool, what: str) -> list[Candle]:
    """``candles`` of a history reply as ``(ts, open, high, low, close, volume)`` sorted by time.

    Daily candles are stamped at 00:00 IST of their IST date (Fyers has been seen to send 00:00
    UTC = 05:30 IST; both fall on the same IST date). A reply with no ``candles`` key (``no_data``)
    is an empty range. A malformed row raises :class:`DataError` naming the request.
    """
    rows = payload.get("candles")
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise DataError(f"Fyers {what}: 'candles' is not a list")
    out: list[Candle] = []
    for i, row in enumerate(rows):
        try:
            ts = int(row[0])
            o, h, lo, c = float(row[1]), float(row[2]), float(row[3]), float(row[4])
            v = int(float(row[5]))
        except (TypeError, ValueError, IndexError):
            raise DataError(f"Fyers {what}: malformed candle #{i}: {row!r:.80}") from None
        if daily:
            ts = ist_midnight(ts)
        out.append((ts, o, h, lo, c, v))
    out.sort(key=lambda candle: candle[0])
    return out


@dataclass(slots=True, frozen=True)
class Quote:
    """A snapshot quote from ``/data/quotes`` (prices in rupees, ``ts`` epoch seconds)."""

    symbol: str
    ltp: float
    open: float
    high: float
    low: float
    prev_close: float
    change: float
    change_pct: float
    volume: int
    bid: float
    ask: float
    ts: int


def _f(v: Mapping[str, Any], key: str) -> float:
    try:
        return float(v.get(key) or 0.0)
    except (TypeError, ValueError):
        return 0.0


def parse_quotes(payload: Mapping[str, Any], *, what: str) -> dict[str, Quote]:
    """The ``d`` list of a quotes reply, keyed by symbol. Entries whose own ``s`` is not ``ok``
    (unknown symbols) are left out; :meth:`FyersClient.quotes` reports them."""
    items = payload.get("d")
    if not isinstance(items, list):
        raise DataError(f"Fyers {what}: 'd' is missing")
    out: dict[str, Quote] = {}
    for item in items:
        if not isinstance(item, Mapping) or item.get("s") != "ok":
            continue
        v = item.get("v")
        if not isinstance(v, Mapping):
            continue
        name = str(item.get("n") or v.get("symbol") or "")
        try:
            ts = int(float(v.get("tt") or 0))
        except (TypeError, ValueError):
            ts = 0
        out[name] = Quote(
            symbol=name,
            ltp=_f(v, "lp"),
            open=_f(v, "open_price"),
            high=_f(v, "high_price"),
            low=_f(v, "low_price"),
            prev_close=_f(v, "prev_close_price"),
            change=_f(v, "ch"),
            change_pct=_f(v, "chp"),
            volume=int(_f(v, "volume")),
            bid=_f(v, "bid"),
            ask=_f(v, "ask"),
            ts=ts,
        )
    return out
