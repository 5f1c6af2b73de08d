"""FyersClient through the real SDK against a scripted HTTP server on 127.0.0.1: request shape,
candle normalisation, error translation, retries (429 with Retry-After, 5xx, timeouts)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from fyerstrade.config import Settings, load_settings
from fyerstrade.domain import Resolution
from fyerstrade.errors import (
    AuthError,
    InputError,
    RateLimitError,
    RetryableError,
    UnknownSymbolError,
)
from fyerstrade.fyers.client import FyersClient
from fyerstrade.fyers.ratelimit import RateLimiter
from fyerstrade.fyers.retry import RetryPolicy
from plugins.fyers import Reply, ScriptedFyers, make_jwt

# 2024-01-02 09:15 IST and 09:16 IST
T0 = 1704167100
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, rng=random.Random(1))


def _settings(url: str) -> Settings:
    return load_settings(env_file=None, fyers_url=url)


def _client(url: str, **kw: object) -> FyersClient:
    token = make_jwt(exp=int(time.time()) + 3600)
    kwargs: dict[str, object] = {"retry": FAST, "rate_limiter": RateLimiter(), "timeout": 2.0}
    kwargs.update(kw)
    return FyersClient(_settings(url), app_id="SIM-100", access_token=token, **kwargs)  # type: ignore[arg-type]


def test_history_sends_one_request_and_returns_sorted_tuples(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(
        Reply(
            body={
                "s": "ok",
                "code": 200,
                "candles": [
                    [T0 + 60, 101, 102, 100.5, 101.5, 900],
                    [T0, 100, 101, 99, 100.5, 1200],
                ],
            }
        )
    )
    client = _client(scripted_fyers.url)
    candles = client.history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 120)
    assert candles == [
        (T0, 100.0, 101.0, 99.0, 100.5, 1200),
        (T0 + 60, 101.0, 102.0, 100.5, 101.5, 900),
    ]
    assert client.requests_sent == 1
    (seen,) = scripted_fyers.seen
    assert seen.path == "/data/history"
    assert seen.query["symbol"] == ["NSE:SBIN-EQ"]
    assert seen.query["resolution"] == ["1"]
    assert seen.query["date_format"] == ["0"]
    assert seen.query["range_from"] == [str(T0)] and seen.query["range_to"] == [str(T0 + 120)]
    assert seen.headers["Authorization"].startswith("SIM-100:")


def test_daily_candles_are_stamped_at_ist_midnight(scripted_fyers: ScriptedFyers) -> None:
    # 2024-01-02 00:00 UTC (05:30 IST) and 2024-01-02 18:30 UTC (= 2024-01-03 00:00 IST)
    scripted_fyers.push(
        Reply(
            body={
                "s": "ok",
                "candles": [[1704153600, 1, 2, 0.5, 1.5, 10], [1704220200, 1, 2, 0.5, 1.5, 10]],
            }
        )
    )
    candles = _client(scripted_fyers.url).history(
        "NSE:SBIN-EQ", Resolution.D, 1704000000, 1704300000
    )
    assert [c[0] for c in candles] == [1704133800, 1704220200]  # 2024-01-02, 2024-01-03 00:00 IST


def test_no_data_is_an_empty_range(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(Reply(body={"s": "no_data", "candles": []}))
    assert _client(scripted_fyers.url).history("NSE:SBIN-EQ", Resolution.M5, T0, T0 + 600) == []


def test_429_waits_for_retry_after_then_succeeds(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(
        Reply(
            429,
            {"s": "error", "code": -429, "message": "request limit reached"},
            {"Retry-After": "1"},
        ),
        Reply(body={"s": "ok", "candles": [[T0, 1, 1, 1, 1, 1]]}),
    )
    client = _client(scripted_fyers.url)
    assert len(client.history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 60)) == 1
    first, second = scripted_fyers.seen
    assert second.at - first.at >= 1.0  # the server's Retry-After was honoured
    assert client.requests_sent == 2


def test_retry_after_ms_header_is_understood(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(
        Reply(429, {"s": "error", "code": -429, "message": "limit"}, {"X-Retry-After-Ms": "300"}),
        Reply(body={"s": "ok", "candles": []}),
    )
    _client(scripted_fyers.url).history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 60)
    first, second = scripted_fyers.seen
    assert second.at - first.at >= 0.3


def test_5xx_and_html_bodies_are_retried(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(
        Reply(502, "<html>bad gateway</html>"),
        Reply(500, {"s": "error", "code": 500, "message": "internal"}),
        Reply(200, "{truncated"),
        Reply(body={"s": "ok", "candles": [[T0, 1, 1, 1, 1, 1]]}),
    )
    client = _client(scripted_fyers.url)
    assert len(client.history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 60)) == 1
    assert client.requests_sent == 4


def test_persistent_5xx_gives_retryable_error(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.default = Reply(503, "<html>down</html>")
    client = _client(scripted_fyers.url)
    with pytest.raises(RetryableError, match="gave up after 4 attempts"):
        client.history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 60)
    assert client.requests_sent == 4


def test_a_stalled_server_times_out(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.default = Reply(body={"s": "ok", "candles": []}, delay=5.0)
    client = _client(
        scripted_fyers.url, timeout=0.3, retry=RetryPolicy(attempts=2, base_delay=0.01)
    )
    started = time.monotonic()
    with pytest.raises(RetryableError, match="no answer within"):
        client.history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 60)
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (401, -16, "Could not authenticate the user"),
        (200, -15, "Please provide valid token"),
        (200, -8, "token expired"),
        (401, -17, "Token is Invalid or Expired"),
    ],
)
def test_token_errors_become_auth_error(
    scripted_fyers: ScriptedFyers, status: int, code: int, message: str
) -> None:
    scripted_fyers.push(Reply(status, {"s": "error", "code": code, "message": message}))
    client = _client(scripted_fyers.url)
    with pytest.raises(AuthError, match="run `fyerstrade auth login`"):
        client.history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 60)
    assert client.requests_sent == 1  # never retried


def test_invalid_symbol_names_the_symbol(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(Reply(400, {"s": "error", "code": -300, "message": "Invalid symbol"}))
    with pytest.raises(UnknownSymbolError, match="NSE:NOPE-EQ"):
        _client(scripted_fyers.url).history("NSE:NOPE-EQ", Resolution.M1, T0, T0 + 60)


def test_invalid_input_names_symbol_and_range(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(Reply(400, {"s": "error", "code": -50, "message": "Invalid input range"}))
    with pytest.raises(InputError, match=r"NSE:SBIN-EQ 1 2024-01-02 09:15\.\.2024-01-02 09:16"):
        _client(scripted_fyers.url).history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 60)


def test_sdk_error_dict_is_copied(scripted_fyers: ScriptedFyers) -> None:
    """The SDK's shared error dict must not leak our view of one failure into the next."""
    scripted_fyers.default = Reply(200, "not json")
    client = _client(scripted_fyers.url, retry=RetryPolicy(attempts=1))
    for _ in range(2):
        with pytest.raises(RetryableError):
            client.history("NSE:SBIN-EQ", Resolution.M1, T0, T0 + 60)


def test_quotes_and_account_calls(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(
        Reply(
            body={
                "s": "ok",
                "code": 200,
                "d": [
                    {
                        "n": "NSE:SBIN-EQ",
                        "s": "ok",
                        "v": {"lp": 812.5, "volume": 1000, "tt": "1704153600"},
                    },
                ],
            }
        ),
        Reply(body={"s": "ok", "code": 200, "data": {"name": "SIM USER", "fy_id": "XS0001"}}),
        Reply(
            body={"s": "ok", "code": 200, "fund_limit": [{"id": 10, "title": "Available Balance"}]}
        ),
    )
    client = _client(scripted_fyers.url)
    quotes = client.quotes(["NSE:SBIN-EQ"])
    assert quotes["NSE:SBIN-EQ"].ltp == 812.5 and quotes["NSE:SBIN-EQ"].ts == 1704153600
    assert client.profile()["fy_id"] == "XS0001"
    assert client.funds()["fund_limit"][0]["id"] == 10
    assert scripted_fyers.paths() == ["/data/quotes", "/api/v3/profile", "/api/v3/funds"]


def test_unknown_quote_symbol_is_named(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(
        Reply(
            body={"s": "ok", "d": [{"n": "NSE:NOPE-EQ", "s": "error", "v": {"errmsg": "invalid"}}]}
        )
    )
    with pytest.raises(UnknownSymbolError, match="NSE:NOPE-EQ"):
        _client(scripted_fyers.url).quotes(["NSE:NOPE-EQ"])


def test_daily_budget_exhaustion_is_not_retried(
    scripted_fyers: ScriptedFyers, tmp_path: Path
) -> None:
    limiter = RateLimiter(daily_budget=2, budget_file=tmp_path / "budget.json")
    client = _client(scripted_fyers.url, rate_limiter=limiter)
    client.profile()
    client.profile()
    with pytest.raises(RateLimitError, match="daily Fyers budget of 2 requests"):
        client.profile()
    assert len(scripted_fyers.seen) == 2


def test_sdk_logs_go_to_the_log_dir_not_the_cwd(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(Reply(400, {"s": "error", "code": -300, "message": "Invalid symbol"}))
    client = _client(scripted_fyers.url)
    with pytest.raises(UnknownSymbolError):
        client.history("NSE:X-EQ", Resolution.M1, T0, T0 + 60)
    log_dir = client.settings.log_dir
    assert (log_dir / "fyersApi.log").is_file()
    assert (log_dir / "fyersRequests.log").is_file()
    assert not list(Path.cwd().glob("fyers*.log"))
    assert "Invalid symbol" in (log_dir / "fyersApi.log").read_text()  # an ERROR line is kept
    assert (log_dir / "fyersRequests.log").stat().st_size == 0  # DEBUG-only log stays empty
