"""The minute barrier: a minute goes to the strategy once every symbol's bar of it is closed,
and a tick of a later minute waits until the minutes before it are decided, in arrival order."""

from __future__ import annotations

from fyerstrade.domain import Tick
from fyerstrade.live.barrier import MinuteBarrier
from fyerstrade.live.bars import BarBuilder

T0 = 1_796_269_500  # 09:15:00 IST of a trading day (a multiple of 60)


def tick(symbol: str, ts: int, price: float, volume: int) -> Tick:
    return Tick(symbol, ts, price, volume)


def feed(builder: BarBuilder, barrier: MinuteBarrier, t: Tick) -> None:
    bar = builder.on_tick(t)
    if bar is not None:
        barrier.add(bar, "ticks")


def test_a_minute_waits_for_every_symbol_and_later_ticks_wait_for_it() -> None:
    builder = BarBuilder(grace_seconds=2)
    barrier = MinuteBarrier(builder, ["A", "B"])
    for t in (tick("B", T0 + 1, 20.0, 100), tick("A", T0 + 2, 10.0, 100)):
        feed(builder, barrier, t)
        assert not barrier.hold(t)  # nothing before 09:15 is undecided
    early = tick("A", T0 + 61, 11.0, 150)  # closes A's 09:15; B's is still open
    feed(builder, barrier, early)
    assert barrier.next_ready() is None
    assert barrier.hold(early)
    later = tick("A", T0 + 62, 11.5, 160)
    feed(builder, barrier, later)
    assert barrier.hold(later)  # behind the held one, whatever its minute
    assert list(barrier.releasable()) == []
    closing = tick("B", T0 + 63, 21.0, 170)  # closes B's 09:15
    feed(builder, barrier, closing)
    ready = barrier.next_ready()
    assert ready is not None
    minute, items = ready
    assert minute == T0
    assert [(b.symbol, src) for b, src in items] == [("A", "ticks"), ("B", "ticks")]
    assert barrier.dispatched_through == T0
    assert list(barrier.releasable()) == [early, later]
    assert not barrier.hold(closing)


def test_a_gap_completes_the_minutes_before_it_and_duplicates_are_refused() -> None:
    builder = BarBuilder(grace_seconds=2)
    barrier = MinuteBarrier(builder, ["A", "B"])
    feed(builder, barrier, tick("A", T0 + 1, 10.0, 100))
    feed(builder, barrier, tick("B", T0 + 2, 20.0, 100))
    feed(builder, barrier, tick("A", T0 + 61, 10.5, 120))
    assert barrier.next_ready() is None  # B still forms 09:15
    builder.restart()  # a feed gap drops the forming bars
    ready = barrier.next_ready(before=T0 + 60)
    assert ready is not None and ready[0] == T0 and [b.symbol for b, _ in ready[1]] == ["A"]
    ((a_bar, _),) = ready[1]
    assert not barrier.is_new(a_bar)  # A's 09:15 is done: a second one is a duplicate
    assert barrier.decided_before(T0 + 60) and not barrier.decided_before(T0 + 120)


def test_the_end_of_the_run_releases_every_held_tick() -> None:
    builder = BarBuilder(grace_seconds=2)
    barrier = MinuteBarrier(builder, ["A", "B"])
    feed(builder, barrier, tick("B", T0 + 1, 20.0, 100))
    t = tick("A", T0 + 61, 10.0, 100)
    feed(builder, barrier, t)
    assert barrier.hold(t)
    assert list(barrier.release_all()) == [t]
