"""The simulator's market clock on a hand-moved monotonic clock (no wall time): speed, pause and
resume, the pacing by the simulator's beats, and run_until's exact stop — the market pauses at
the asked instant however late anyone looks, so a test freezes the market exactly there on a
busy machine too."""

from __future__ import annotations

from fyerstrade.sim.clock import MAX_LEAD_SECONDS, MarketClock


class Mono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


START = 1_764_646_500.0  # 09:05 IST


def test_speed_pause_and_resume() -> None:
    mono = Mono()
    clock = MarketClock(START, 60.0, monotonic=mono)
    mono.t += 2
    assert clock.now() == START + 120
    clock.pause()
    mono.t += 50
    assert clock.now() == START + 120 and clock.paused
    clock.resume()
    mono.t += 1
    assert clock.now() == START + 180 and not clock.paused


def test_run_until_stops_exactly_at_the_instant_however_late_anyone_looks() -> None:
    mono = Mono()
    clock = MarketClock(START, 480.0, monotonic=mono)
    clock.pause()
    stop = START + 600  # 1.25 wall seconds away at 480x
    clock.run_until(stop)
    assert not clock.paused
    mono.t += 1.0
    assert clock.now() == START + 480
    mono.t += 30.0  # a starved test looks again 30 s later: the market stood at the instant
    assert clock.now() == stop and clock.paused
    mono.t += 5.0
    assert clock.now() == stop
    clock.resume()  # and runs on from there
    mono.t += 0.5
    assert clock.now() == stop + 240


def test_run_until_an_instant_already_passed_pauses_at_once_and_set_cancels_it() -> None:
    mono = Mono()
    clock = MarketClock(START, 60.0, monotonic=mono)
    mono.t += 10
    clock.run_until(START + 300)
    assert clock.paused and clock.now() == START + 600  # never turned back
    clock.run_until(START + 900)
    clock.set(speed=60.0)  # a new setting cancels the stop
    mono.t += 10
    assert clock.now() == START + 1200 and not clock.paused


def test_run_until_on_a_paced_clock_stops_at_the_instant_too() -> None:
    mono = Mono()
    clock = MarketClock(START, 240.0, monotonic=mono)
    clock.beat()  # a simulator beats it
    clock.run_until(START + 30)
    mono.t += MAX_LEAD_SECONDS  # the loop did not beat: the market ran only its lead
    assert clock.now() == START + 240 * MAX_LEAD_SECONDS
    for _ in range(20):
        mono.t += 0.02
        clock.beat()
    assert clock.now() == START + 30 and clock.paused
