"""Rate limits: sliding windows in-process, and HTTP 429 with Retry-After over the wire."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from fyerstrade.sim import SimServer
from fyerstrade.sim.limits import SlidingWindowLimiter
from plugins.sim import start_sim


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_per_second_window_slides() -> None:
    clock = FakeMonotonic()
    limiter = SlidingWindowLimiter(per_second=3, per_minute=100, monotonic=clock)
    assert [limiter.admit() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.admit()
    assert wait == pytest.approx(1.0)
    clock.t += 0.5
    assert limiter.admit() == pytest.approx(0.5)  # rejected requests use no budget
    clock.t += 0.5
    assert limiter.admit() == 0.0


def test_per_minute_window_slides() -> None:
    clock = FakeMonotonic()
    limiter = SlidingWindowLimiter(per_second=100, per_minute=5, monotonic=clock)
    for _ in range(5):
        assert limiter.admit() == 0.0
        clock.t += 2.0
    assert limiter.admit() == pytest.approx(50.0)  # the first request leaves the window at 1060
    clock.t = 1060.0
    assert limiter.admit() == 0.0
    assert limiter.admit() > 0


def test_pacing_at_the_limit_is_never_rejected() -> None:
    clock = FakeMonotonic()
    limiter = SlidingWindowLimiter(per_second=10, per_minute=200, monotonic=clock)
    for _ in range(200):
        assert limiter.admit() == 0.0
        clock.t += 0.3  # 200 requests a minute, spread evenly
    clock.t -= 0.3
    assert limiter.admit() > 0  # the 201st inside the same minute is not


@pytest.fixture
def tight_sim() -> Iterator[SimServer]:
    server = start_sim(per_second=3, per_minute=1000)
    try:
        yield server
    finally:
        server.stop()


def test_burst_gets_429_with_retry_after_and_is_counted(tight_sim: SimServer) -> None:
    url = f"{tight_sim.url}/data/history"
    with requests.Session() as http:
        answers = [http.get(url, timeout=10) for _ in range(8)]
    statuses = [a.status_code for a in answers]
    rejected = [a for a in answers if a.status_code == 429]
    assert statuses[:3] == [401, 401, 401]  # admitted (and then refused for having no token)
    assert len(rejected) >= 4
    for answer in rejected:
        assert answer.json() == {"s": "error", "code": -429, "message": "request limit reached"}
        assert int(answer.headers["Retry-After"]) >= 1
        assert int(answer.headers["X-Retry-After-Ms"]) > 0
    assert tight_sim.stats.rejected_429 == len(rejected)
    assert tight_sim.stats.requests["/data/history"] == 8


def test_symbol_master_and_login_page_are_not_rate_limited(tight_sim: SimServer) -> None:
    with requests.Session() as http:
        for _ in range(6):
            assert http.get(f"{tight_sim.url}/sym_details/NSE_CM.csv", timeout=10).ok
    assert tight_sim.stats.rejected_429 == 0
