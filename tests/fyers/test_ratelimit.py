"""RateLimiter: sliding windows never exceed their caps, 429 penalties hold everyone back, the
daily budget survives a restart and resets at 00:00 IST."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from fyerstrade.errors import RateLimitError
from fyerstrade.fyers.ratelimit import (
    BUDGET_FILE,
    RateLimiter,
    get_rate_limiter,
    seconds_to_ist_midnight,
)
from plugins.robustness import SmallDisk


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# 2026-11-21 12:00 IST
NOON_IST = 1795242600.0


def _take_all(limiter: RateLimiter) -> int:
    n = 0
    while limiter.try_acquire() == 0:
        n += 1
    return n


def test_per_second_window_is_sliding() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=8, per_minute=180, monotonic=clock, wall=lambda: NOON_IST)
    assert _take_all(limiter) == 8
    clock.t += 0.5
    assert limiter.try_acquire() == pytest.approx(0.5)
    clock.t += 0.5
    assert _take_all(limiter) == 8


def test_no_sixty_second_window_ever_holds_more_than_the_minute_cap() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=8, per_minute=180, monotonic=clock, wall=lambda: NOON_IST)
    sent: list[float] = []
    while clock.t < 1000.0 + 300:
        if limiter.try_acquire() == 0:
            sent.append(clock.t)
        else:
            clock.t += 0.01
    for i, start in enumerate(sent):
        in_window = sum(1 for t in sent[i:] if t < start + 60.0)
        assert in_window <= 180
        in_second = sum(1 for t in sent[i:] if t < start + 1.0)
        assert in_second <= 8
    assert len(sent) >= 180 * 5  # and it does use the budget it has


def test_penalty_blocks_until_it_expires() -> None:
    clock = FakeClock()
    limiter = RateLimiter(monotonic=clock, wall=lambda: NOON_IST)
    limiter.penalize(2.0)
    assert limiter.try_acquire() == pytest.approx(2.0)
    clock.t += 2.0
    assert limiter.try_acquire() == 0


def test_acquire_paces_real_threads() -> None:
    limiter = RateLimiter(per_second=5, per_minute=100)
    started = time.monotonic()
    threads = [threading.Thread(target=limiter.acquire) for _ in range(11)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 4.0  # 11 requests at 5/s need two full extra seconds
    assert limiter.used_today == 11


def test_daily_budget_persists_and_resets_at_ist_midnight(tmp_path: Path) -> None:
    wall = FakeClock(NOON_IST)
    budget = tmp_path / BUDGET_FILE
    first = RateLimiter(daily_budget=3, budget_file=budget, wall=wall)
    assert [first.try_acquire() for _ in range(3)] == [0, 0, 0]
    with pytest.raises(RateLimitError, match="daily Fyers budget of 3") as info:
        first.acquire()
    assert info.value.retry_after == pytest.approx(12 * 3600)
    saved = json.loads(budget.read_text())  # written with every request
    assert (saved["date"], saved["count"]) == ("2026-11-21", 3)

    restarted = RateLimiter(daily_budget=3, budget_file=budget, wall=wall)
    assert restarted.used_today == 3
    with pytest.raises(RateLimitError):
        restarted.acquire()

    wall.t = NOON_IST + 12 * 3600  # 00:00 IST the next day
    assert restarted.try_acquire() == 0
    assert restarted.used_today == 1


def test_corrupt_budget_file_is_ignored(tmp_path: Path) -> None:
    budget = tmp_path / BUDGET_FILE
    budget.write_text("{not json")
    assert RateLimiter(budget_file=budget).used_today == 0


def test_one_limiter_per_process_and_data_dir(settings: object) -> None:
    from fyerstrade.config import Settings

    assert isinstance(settings, Settings)
    assert get_rate_limiter(settings) is get_rate_limiter(settings)


def test_seconds_to_ist_midnight() -> None:
    assert seconds_to_ist_midnight(NOON_IST) == pytest.approx(12 * 3600)


def test_a_request_in_flight_counts_until_a_second_after_its_answer() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(per_second=2, per_minute=100, monotonic=clock)
    slow, other = limiter.request(), limiter.request()
    slow.__enter__()
    other.__enter__()
    assert limiter.try_acquire() > 0  # two in flight fill the second
    clock.t = 5.0  # the slow one is answered five seconds later: it may have arrived just now
    slow.__exit__(None, None, None)
    assert limiter.try_acquire() == pytest.approx(1.0)
    clock.t = 6.01
    assert limiter.try_acquire() == 0  # its answer is a second old; the other is still out
    other.__exit__(None, None, None)


def test_a_caller_waiting_for_a_place_wakes_when_an_answer_comes_back() -> None:
    limiter = RateLimiter(per_second=1, per_minute=100)
    first = limiter.request()
    first.__enter__()
    got = threading.Event()

    def second() -> None:
        with limiter.request():
            got.set()

    t = threading.Thread(target=second)
    t.start()
    assert not got.wait(0.2)  # held back while the first is out
    first.__exit__(None, None, None)
    t.join(timeout=5)
    assert got.is_set()


def test_limiters_sharing_a_file_share_the_windows_and_the_count(tmp_path: Path) -> None:
    clock = FakeClock(100.0)
    budget = tmp_path / BUDGET_FILE
    one, two = (
        RateLimiter(per_second=4, per_minute=100, budget_file=budget, monotonic=clock)
        for _ in range(2)
    )
    assert [one.try_acquire(), two.try_acquire(), one.try_acquire(), two.try_acquire()] == [0] * 4
    assert one.try_acquire() > 0 and two.try_acquire() > 0  # the second is full for both
    assert one.used_today == two.used_today == 4
    two.penalize(5.0)
    clock.t += 1.0
    assert one.try_acquire() == pytest.approx(4.0)  # a 429 seen by one holds the other back


def test_a_request_in_flight_of_a_dead_process_is_forgotten(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    pid = int(dead.stdout)
    clock = FakeClock(100.0)
    budget = tmp_path / BUDGET_FILE
    limiter = RateLimiter(per_second=1, per_minute=100, budget_file=budget, monotonic=clock)
    assert limiter.try_acquire() == 0
    state = json.loads(budget.read_text())
    state["sent"] = []
    state["in_flight"] = {f"{pid}:0": 99.0}  # sent just before its process was killed
    budget.write_text(json.dumps(state))
    assert limiter.try_acquire() == 0


def test_a_full_disk_leaves_no_stray_file_and_pacing_goes_on(small_disk: SmallDisk) -> None:
    clock = FakeClock(100.0)
    budget = small_disk.path / BUDGET_FILE
    limiter = RateLimiter(per_second=2, budget_file=budget, monotonic=clock)
    assert limiter.try_acquire() == 0
    small_disk.fill()
    assert limiter.try_acquire() == 0  # the budget file cannot be rewritten now
    assert limiter.try_acquire() > 0  # but the windows still hold in this process
    assert limiter.used_today == 2
    assert sorted(p.name for p in small_disk.path.iterdir()) == [
        ".filler",
        BUDGET_FILE,
        BUDGET_FILE + ".lock",
    ]  # no stray .budget-* file
    small_disk.free()
    clock.t += 1.0
    assert limiter.try_acquire() == 0
    assert json.loads(budget.read_text())["count"] == 3  # saved again once there is room
