"""FyersClient end to end against the simulator: real SDK, real HTTP, the sim's own rate limits
and faults."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest

from fyerstrade.config import load_settings
from fyerstrade.domain import Resolution
from fyerstrade.errors import AuthError
from fyerstrade.fyers import endpoints
from fyerstrade.fyers.client import FyersClient
from fyerstrade.fyers.ratelimit import RateLimiter
from fyerstrade.fyers.retry import RetryPolicy
from fyerstrade.sim import SimServer
from plugins.sim import SIM_NOW, sdk_login, start_sim

FAST = RetryPolicy(attempts=6, base_delay=0.02, max_delay=0.1, rng=random.Random(3))
DAY = 24 * 3600


@pytest.fixture
def tight_sim() -> Iterator[SimServer]:
    server = start_sim(per_second=3, per_minute=200)
    try:
        yield server
    finally:
        server.stop()


def _client(sim: SimServer, limiter: RateLimiter) -> FyersClient:
    settings = load_settings(env_file=None, fyers_url=sim.url)
    endpoints.point_sdk_at(settings)
    token = sdk_login(sim)
    return FyersClient(
        settings, app_id="SIM-100", access_token=token, rate_limiter=limiter, retry=FAST
    )


def test_history_from_the_simulator(sim: SimServer) -> None:
    client = _client(sim, RateLimiter())
    candles = client.history("NSE:SBIN-EQ", Resolution.M5, SIM_NOW - 3 * DAY, SIM_NOW)
    assert candles and all(a[0] < b[0] for a, b in itertools.pairwise(candles))
    assert all(c[0] % 300 == 0 for c in candles)
    daily = client.history("NSE:SBIN-EQ", Resolution.D, SIM_NOW - 10 * DAY, SIM_NOW)
    assert daily and all((c[0] + 19800) % DAY == 0 for c in daily)  # 00:00 IST


def test_server_429s_are_retried_and_every_request_succeeds(tight_sim: SimServer) -> None:
    # our limiter allows 8/s, the server only 3/s: the server's 429 + Retry-After must be obeyed
    client = _client(tight_sim, RateLimiter(per_second=8))
    for _ in range(8):
        assert client.profile()["fy_id"]
    assert tight_sim.stats.rejected_429 >= 1
    assert client.requests_sent == 8 + tight_sim.stats.rejected_429


def test_5xx_from_the_simulator_is_retried(sim: SimServer) -> None:
    client = _client(sim, RateLimiter())
    sim.faults.set(http_5xx=2)
    assert client.funds()["s"] == "ok"
    assert client.requests_sent == 3


def test_expired_token_mode_is_an_auth_error(sim: SimServer) -> None:
    client = _client(sim, RateLimiter())
    sim.faults.set(expired_token=True)
    with pytest.raises(AuthError, match="run `fyerstrade auth login`"):
        client.history("NSE:SBIN-EQ", Resolution.M1, SIM_NOW - DAY, SIM_NOW)
    assert client.requests_sent == 1
