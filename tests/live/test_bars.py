"""BarBuilder and Resampler on hand-made tick and bar tables."""

from __future__ import annotations

from datetime import date, time

import pytest

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.domain import Bar, Resolution, Tick
from fyerstrade.live.bars import BarBuilder, Resampler

DAY = date(2026, 3, 10)  # a Tuesday, regular session
T0 = ist_epoch(DAY, time(9, 15))  # 09:15:00 IST
SYM = "NSE:SBIN-EQ"
M1 = Resolution.M1


def tick(sec: int, ltp: float, cum: int, symbol: str = SYM, last_qty: int = 0) -> Tick:
    return Tick(symbol=symbol, ts=T0 + sec, ltp=ltp, volume=cum, last_qty=last_qty)


def feed(builder: BarBuilder, ticks: list[Tick]) -> list[Bar]:
    out: list[Bar] = []
    for t in ticks:
        bar = builder.on_tick(t)
        if bar is not None:
            out.append(bar)
    return out


def test_ohlcv_from_cumulative_volume_and_close_on_next_minute_tick() -> None:
    b = BarBuilder()
    b.seed_volume(SYM, 1_000)
    bars = feed(
        b,
        [
            tick(0, 100.0, 1_010),
            tick(10, 101.5, 1_050),
            tick(20, 99.0, 1_080),
            tick(59, 100.5, 1_100),
            tick(61, 100.6, 1_130),  # next minute: closes 09:15
            tick(100, 100.2, 1_160),
            tick(130, 100.9, 1_200),  # 09:17: closes 09:16
        ],
    )
    assert bars == [
        Bar(SYM, M1, T0, 100.0, 101.5, 99.0, 100.5, 100),
        Bar(SYM, M1, T0 + 60, 100.6, 100.6, 100.2, 100.2, 60),
    ]
    assert b.forming(SYM) == Bar(SYM, M1, T0 + 120, 100.9, 100.9, 100.9, 100.9, 40)


def test_first_tick_without_seed_uses_volume_before_its_trade() -> None:
    b = BarBuilder()
    bars = feed(b, [tick(5, 50.0, 500, last_qty=20), tick(30, 51.0, 530), tick(65, 52.0, 560)])
    assert bars == [Bar(SYM, M1, T0, 50.0, 51.0, 50.0, 51.0, 50)]


def test_duplicate_ticks_are_counted_not_double_counted() -> None:
    b = BarBuilder()
    b.seed_volume(SYM, 0)
    t1, t2 = tick(1, 10.0, 100), tick(2, 10.5, 150)
    bars = feed(b, [t1, t1, t2, t2, t2, tick(60, 11.0, 160)])
    assert b.duplicate_ticks == 3
    assert bars == [Bar(SYM, M1, T0, 10.0, 10.5, 10.0, 10.5, 150)]


def test_late_ticks_for_a_closed_minute_are_counted_and_ignored() -> None:
    b = BarBuilder()
    b.seed_volume(SYM, 0)
    bars = feed(b, [tick(1, 10.0, 100), tick(61, 10.2, 120), tick(59, 99.0, 110)])
    assert b.late_ticks == 1
    assert bars == [Bar(SYM, M1, T0, 10.0, 10.0, 10.0, 10.0, 100)]
    # the late tick changed nothing in the forming minute either
    assert b.forming(SYM) == Bar(SYM, M1, T0 + 60, 10.2, 10.2, 10.2, 10.2, 20)
    # a late tick after a clock close is also refused
    closed = b.on_clock(T0 + 120 + 2)
    assert closed == [Bar(SYM, M1, T0 + 60, 10.2, 10.2, 10.2, 10.2, 20)]
    assert b.on_tick(tick(119, 50.0, 500)) is None
    assert b.late_ticks == 2


def test_out_of_order_tick_inside_a_minute_moves_range_not_close() -> None:
    b = BarBuilder()
    b.seed_volume(SYM, 0)
    bars = feed(b, [tick(10, 10.0, 10), tick(30, 10.4, 30), tick(20, 9.8, 20), tick(60, 11, 31)])
    assert bars == [Bar(SYM, M1, T0, 10.0, 10.4, 9.8, 10.4, 30)]


def test_clock_closes_quiet_symbol_after_grace() -> None:
    b = BarBuilder(grace_seconds=2)
    b.seed_volume(SYM, 0)
    b.seed_volume("NSE:QUIET-EQ", 7)
    feed(b, [tick(3, 10.0, 5), tick(4, 20.0, 10, symbol="NSE:QUIET-EQ")])
    feed(b, [tick(62, 10.1, 8)])  # SYM moves to 09:16 and closes 09:15 itself
    assert b.on_clock(T0 + 61) == []  # 09:16:01 < 09:16:00 + 2 s grace
    assert b.on_clock(T0 + 62) == [Bar("NSE:QUIET-EQ", M1, T0, 20.0, 20.0, 20.0, 20.0, 3)]
    assert b.on_clock(T0 + 100) == []  # closed once
    assert b.on_clock(T0 + 122) == [Bar(SYM, M1, T0 + 60, 10.1, 10.1, 10.1, 10.1, 3)]
    # the quiet symbol's next trade counts volume from the last closed minute's cumulative volume
    feed(b, [tick(300, 21.0, 15, symbol="NSE:QUIET-EQ")])
    assert b.flush() == [Bar("NSE:QUIET-EQ", M1, T0 + 300, 21.0, 21.0, 21.0, 21.0, 5)]


def test_minutes_without_ticks_produce_no_bar() -> None:
    b = BarBuilder()
    b.seed_volume(SYM, 0)
    bars = feed(b, [tick(0, 1.0, 1), tick(300, 2.0, 3), tick(360, 3.0, 6)])
    assert [x.ts for x in bars] == [T0, T0 + 300]
    assert [x.volume for x in bars] == [1, 2]


def test_cumulative_volume_restarts_on_a_new_day() -> None:
    b = BarBuilder()
    b.seed_volume(SYM, 0)
    next_open = ist_epoch(date(2026, 3, 11), time(9, 15))
    feed(b, [tick(22_440, 10.0, 90_000)])  # 15:29 IST
    closed = b.on_tick(Tick(SYM, next_open + 1, 11.0, 40))
    assert closed is not None and closed.volume == 90_000
    assert b.flush() == [Bar(SYM, M1, next_open, 11.0, 11.0, 11.0, 11.0, 40)]


def test_grace_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="grace_seconds"):
        BarBuilder(grace_seconds=-1)


def m1(minute: int, o: float, h: float, lo: float, c: float, v: int, start: int = T0) -> Bar:
    return Bar(SYM, M1, start + 60 * minute, o, h, lo, c, v)


def test_resampler_five_minutes_aligned_to_session_open() -> None:
    r = Resampler(Resolution.M5, calendar=get_calendar(assume_weekdays=True))
    out = r.on_bars([m1(i, 10 + i, 11 + i, 9 + i, 10.5 + i, 100) for i in range(5)])
    assert out == [Bar(SYM, Resolution.M5, T0, 10, 15, 9, 14.5, 500)]
    # missing last minute of the bucket: a later bucket's bar (or the clock) emits it
    out = r.on_bars([m1(5, 20, 21, 19, 20, 1), m1(7, 22, 25, 18, 23, 2)])
    assert out == []
    assert r.on_clock(T0 + 600 + 1) == []
    assert r.on_clock(T0 + 600 + 2) == [Bar(SYM, Resolution.M5, T0 + 300, 20, 25, 18, 23, 3)]
    assert r.on_bar(m1(8, 1, 1, 1, 1, 1)) == []
    assert r.late_bars == 1


def test_resampler_sixty_minutes_last_bar_truncated_at_close() -> None:
    r = Resampler(Resolution.M60, calendar=get_calendar(assume_weekdays=True))
    t1515 = ist_epoch(DAY, time(15, 15))
    bars = [Bar(SYM, M1, t1515 + 60 * i, 5, 6, 4, 5, 10) for i in range(15)]
    out = r.on_bars(bars)
    assert out == [Bar(SYM, Resolution.M60, t1515, 5, 6, 4, 5, 150)]
    assert r.bucket(ist_epoch(DAY, time(10, 14))) == (T0, ist_epoch(DAY, time(10, 15)))


def test_resampler_daily_bar_stamped_at_ist_midnight() -> None:
    r = Resampler(Resolution.D, calendar=get_calendar(assume_weekdays=True))
    out = r.on_bars([m1(0, 10, 12, 9, 11, 5), m1(374, 11, 13, 8, 12, 7)])
    assert out == [Bar(SYM, Resolution.D, ist_epoch(DAY), 10, 13, 8, 12, 12)]


def test_restart_after_a_gap_drops_the_interrupted_minute() -> None:
    b = BarBuilder()
    b.seed_volume(SYM, 0)
    feed(b, [tick(1, 10.0, 100), tick(30, 10.2, 150)])
    b.restart([SYM])  # feed gap: 09:15 is backfilled from history instead
    assert b.flush() == []
    # the first tick after the gap starts afresh: volume counts from before its own trade
    bars = feed(b, [tick(200, 11.0, 900, last_qty=10), tick(230, 11.5, 950), tick(240, 12, 960)])
    assert bars == [Bar(SYM, M1, T0 + 180, 11.0, 11.5, 11.0, 11.5, 60)]


def test_oldest_forming_minute_follows_opens_closes_and_restarts() -> None:
    builder = BarBuilder(grace_seconds=2)
    assert builder.oldest_forming() is None
    feed(builder, [tick(1, 10.0, 5, "A"), tick(2, 20.0, 5, "B"), tick(3, 30.0, 5, "C")])
    assert builder.oldest_forming() == T0
    feed(builder, [tick(61, 10.1, 6, "A"), tick(62, 20.1, 6, "B")])  # A and B move on, C not
    assert builder.oldest_forming() == T0
    closed = builder.on_clock(T0 + 60 + 2)  # C's minute ends (A's and B's next is still open)
    assert [b.symbol for b in closed] == ["C"]
    assert builder.oldest_forming() == T0 + 60
    builder.restart(["A"])
    assert builder.oldest_forming() == T0 + 60  # B is still forming it
    builder.restart()
    assert builder.oldest_forming() is None
    feed(builder, [tick(125, 10.2, 7, "A")])
    assert builder.oldest_forming() == T0 + 120
    assert [b.symbol for b in builder.flush()] == ["A"]
    assert builder.oldest_forming() is None
