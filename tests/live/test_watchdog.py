"""The live watchdog (issue 15.5): a strategy call that does not return within the limit gets a
StrategyTimeoutError naming the strategy, what it was doing, the symbols, the bar and its line;
a call that returns in time never does; a call blocked in C is reported stuck. Time is the
injected monotonic clock, moved by the test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import time as dtime

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.live.watchdog import StrategyTimeoutError, Watchdog
from plugins.datasocket import MARKET_DAY, wait_for
from plugins.live_engine import Mono

BAR = ist_epoch(MARKET_DAY, dtime(9, 20))


class Spinner:
    """Stands for a strategy: its loop is the line the watchdog must name."""

    def __init__(self) -> None:
        self.inside = threading.Event()

    def on_data(self) -> None:
        self.inside.set()
        while True:
            pass


@dataclass
class Call:
    """One watched call on its own thread; ``error`` is what it raised."""

    thread: threading.Thread
    error: list[BaseException] = field(default_factory=list)

    def join(self) -> None:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the watched call never ended"


def watched(dog: Watchdog, fn: Callable[[], object], what: str = "on_data") -> Call:
    call = Call(threading.Thread(target=lambda: None))

    def run() -> None:
        try:
            with dog.watching(what, ["NSE:SBIN-EQ", "NSE:RELIANCE-EQ"], BAR):
                fn()
        except BaseException as exc:  # the test looks at it
            call.error.append(exc)

    call.thread = threading.Thread(target=run)
    call.thread.start()
    return call


@pytest.fixture
def clock() -> Mono:
    return Mono()


@pytest.fixture
def stuck() -> list[str]:
    return []


@pytest.fixture
def dog(clock: Mono, stuck: list[str]) -> Iterator[Watchdog]:
    dog = Watchdog("spin", 5.0, monotonic=clock, strategy_cls=Spinner, on_stuck=stuck.append)
    yield dog
    dog.stop()


def test_an_endless_on_data_is_stopped_naming_strategy_symbols_bar_and_line(
    dog: Watchdog, clock: Mono
) -> None:
    spinner = Spinner()
    call = watched(dog, spinner.on_data)
    assert spinner.inside.wait(30)
    clock.t += 4.9
    polls = dog.polls
    wait_for(lambda: dog.polls >= polls + 3, timeout=30, what="three looks")
    assert dog.fired == [] and call.thread.is_alive()  # within the limit: left alone
    clock.t += 0.2
    call.join()
    [error] = call.error
    assert isinstance(error, StrategyTimeoutError)
    assert str(error) == dog.fired[0]
    line = Spinner.on_data.__code__.co_firstlineno + 3  # `pass` inside the loop
    assert str(error).startswith(
        "strategy spin did not return from on_data within 5 s on NSE:SBIN-EQ, NSE:RELIANCE-EQ "
        f"at bar {MARKET_DAY:%Y-%m-%d} 09:20 IST, at test_watchdog.py:"
    )
    assert f"test_watchdog.py:{line} (pass)" in str(error) or (
        f"test_watchdog.py:{line - 1} (while True:)" in str(error)
    )
    assert str(error).endswith("(still running after 5.1 s): trading stopped by the watchdog")


def test_calls_that_return_in_time_are_never_interrupted(dog: Watchdog, clock: Mono) -> None:
    for _ in range(200):
        with dog.watching("on_fill", "NSE:SBIN-EQ", BAR):
            clock.t += 1.0  # each call 1 s: 200 s in all, never 5 s in one
    clock.t += 60.0  # a long quiet time between calls is not a call running
    polls = dog.polls
    wait_for(lambda: dog.polls >= polls + 3, timeout=30, what="three looks")
    with dog.watching("on_fill", "NSE:SBIN-EQ", BAR):
        total = sum(range(1000))  # Python code running after the quiet time: not interrupted
    assert total == 499500 and dog.fired == []


def test_a_call_blocked_in_c_is_reported_stuck_and_stopped_when_it_returns(
    dog: Watchdog, clock: Mono, stuck: list[str]
) -> None:
    blocker = threading.Lock()
    blocker.acquire()
    inside = threading.Event()

    def blocked() -> None:
        inside.set()
        blocker.acquire()  # one C call: the exception cannot arrive before it returns
        for _ in range(1000):  # Python code after it: the pending exception goes off here
            pass

    call = watched(dog, blocked)
    assert inside.wait(30)
    clock.t += 6.0
    wait_for(lambda: bool(dog.fired), timeout=30, what="the watchdog firing")
    assert call.thread.is_alive() and stuck == []
    clock.t += 5.0  # twice the limit and still not back
    wait_for(lambda: bool(stuck), timeout=30, what="the stuck report")
    assert stuck == [dog.fired[0] + "; the strategy is blocked and does not stop"]
    blocker.release()
    call.join()
    [error] = call.error
    assert isinstance(error, StrategyTimeoutError) and str(error) == dog.fired[0]


def test_the_exception_goes_off_inside_the_call_and_nothing_is_left_pending(
    dog: Watchdog, clock: Mono
) -> None:
    with (
        pytest.raises(StrategyTimeoutError) as raised,
        dog.watching("on_data", "NSE:SBIN-EQ", BAR),
    ):
        clock.t += 6.0
        wait_for(lambda: bool(dog.fired), timeout=30, what="the watchdog firing")
    assert str(raised.value) == dog.fired[0]
    for _ in range(100_000):  # Python code after the call: nothing left to go off here
        pass
    with dog.watching("on_data", "NSE:SBIN-EQ", BAR):  # the next call is watched afresh
        pass
    assert len(dog.fired) == 1
