"""The live runner takes its time from the injected clocks only: the test moves the market clock
and the monotonic clock by hand and the runner's decisions follow exactly, however fast or busy
the machine is.

* a symbol that stops ticking gets its bar closed by the other symbols' exchange time, only once
  that time has been seen for half a monotonic second;
* a market where nothing ticks closes its bars once the market clock moved a minute *and* the
  monotonic clock two seconds: neither alone (a fast clock, a paused market, a busy machine);
* never while the feed has reconnected without a tick yet (its gap comes with that tick);
* a gap the feed came back from only after the run's end is backfilled up to the end;
* the day is over once the market clock reached the end and the ticks before it are in.
"""

from __future__ import annotations

import queue
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import time as dtime

import pytest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings
from fyerstrade.domain import Bar, OrderStatus, Resolution, Side, Tick
from fyerstrade.fyers.feed import FeedStatus, Gap
from fyerstrade.fyers.retry import RetryPolicy
from fyerstrade.live.clock import ManualClock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine
from fyerstrade.live.runner import Runner
from fyerstrade.live.session import LiveSession
from fyerstrade.sim import SimServer
from fyerstrade.sim.datasocket import hub_for
from fyerstrade.trading.engine import TradingEngine
from plugins.datasocket import MARKET_DAY
from plugins.live_engine import PAPER_START, PAPER_SYMBOLS, Mono

OPEN = ist_epoch(MARKET_DAY, dtime(9, 15))
UNTIL = ist_epoch(MARKET_DAY, dtime(9, 30))
A, B = PAPER_SYMBOLS


@dataclass
class QuietFeed:
    """The feed as the runner sees it between two ticks (no socket: the test hands the session
    its ticks)."""

    status: FeedStatus = FeedStatus.LIVE
    gap_open: bool = False
    gap_start: int | None = None
    ticks: queue.SimpleQueue[object] = field(default_factory=queue.SimpleQueue)

    def stop(self) -> None:
        self.status = FeedStatus.STOPPED


@dataclass
class Rig:
    engine: LiveEngine
    session: LiveSession
    runner: Runner
    market: ManualClock
    mono: Mono
    feed: QuietFeed

    def tick(self, symbol: str, ts: int, price: float, volume: int) -> None:
        self.session.on_tick(Tick(symbol, ts, price, volume))

    def look(self, *, market: int | None = None, mono: float = 0.0) -> bool:
        """Move the clocks (market to ``market``, monotonic by ``mono`` seconds) and let the
        runner look at them; True when it says the day is over."""
        if market is not None:
            self.market.set(market)
        self.mono.t += mono
        return self.runner.housekeeping(self.feed, UNTIL)  # type: ignore[arg-type]

    def forming(self) -> int | None:
        return self.session.builder.oldest_forming()

    def dispatched(self) -> int:
        return self.session.barrier.dispatched_through


@contextmanager
def rig_of(settings: Settings, config: LiveConfig) -> Iterator[Rig]:
    """A prepared session of ``config`` with its runner, on clocks the test moves."""
    market, mono = ManualClock(PAPER_START), Mono()
    engine = LiveEngine(settings, config, clock=market, monotonic=mono)
    session = engine.prepare(UNTIL)
    runner = Runner(
        session, engine.clocks, set_state=lambda state, why: None, write_status=lambda: None
    )
    session.live_at = PAPER_START
    try:
        yield Rig(engine, session, runner, market, mono, QuietFeed())
    finally:
        engine.close()


@pytest.fixture
def rig(paper_settings: Settings, paper_config: Callable[..., LiveConfig]) -> Iterator[Rig]:
    with rig_of(paper_settings, paper_config()) as r:
        yield r


def stored_bars(settings: Settings) -> list[tuple[str, int, str]]:
    conn = sqlite3.connect(settings.live_db)
    rows = conn.execute("SELECT symbol, ts, source FROM live_bars ORDER BY ts, symbol").fetchall()
    conn.close()
    return [(s, int(ts), src) for s, ts, src in rows]


def test_a_quiet_symbol_closes_on_the_others_exchange_time_after_the_lag(rig: Rig) -> None:
    rig.tick(A, OPEN + 1, 1000.0, 100)
    rig.tick(B, OPEN + 2, 2000.0, 100)
    rig.tick(A, OPEN + 65, 1001.0, 200)  # A's next minute; B says nothing
    assert rig.forming() == OPEN and rig.dispatched() == 0
    rig.look(market=OPEN + 66)
    rig.look(mono=0.4)
    assert rig.forming() == OPEN  # 09:16:05 seen only 0.4 s ago: a straggler may still come
    rig.look(mono=0.2)
    assert rig.forming() == OPEN + 60 and rig.dispatched() == OPEN  # B's 09:15 closed


def test_a_fast_clock_alone_does_not_make_a_quiet_market(rig: Rig) -> None:
    rig.tick(A, OPEN + 1, 1000.0, 100)
    rig.tick(B, OPEN + 2, 2000.0, 100)
    rig.look(market=OPEN + 90)  # the last look that saw ticks
    rig.look(market=OPEN + 400, mono=1.0)  # five market minutes in one second (a simulator)
    assert rig.forming() == OPEN
    rig.look(mono=1.5)  # and two seconds without a tick: quiet
    assert rig.forming() is None and rig.dispatched() == OPEN
    assert sorted(stored_bars(rig.engine.settings)) == sorted(
        [(A, OPEN, "ticks"), (B, OPEN, "ticks")]
    )


def test_a_paused_market_or_a_busy_machine_does_not_make_a_quiet_market(rig: Rig) -> None:
    rig.tick(A, OPEN + 1, 1000.0, 100)
    rig.tick(B, OPEN + 2, 2000.0, 100)
    rig.look(market=OPEN + 90)
    rig.look(market=OPEN + 100, mono=30.0)  # half a minute of the machine, ten market seconds
    assert rig.forming() == OPEN
    rig.look(market=OPEN + 150, mono=0.1)  # a market minute since the last tick too: quiet
    assert rig.forming() is None and rig.dispatched() == OPEN


def test_nothing_closes_after_a_reconnect_before_its_first_tick(rig: Rig) -> None:
    rig.tick(A, OPEN + 1, 1000.0, 100)
    rig.tick(B, OPEN + 2, 2000.0, 100)
    rig.look(market=OPEN + 90)
    rig.feed.gap_open = True  # reconnected; the gap comes with the next tick
    rig.look(market=OPEN + 300, mono=10.0)
    assert rig.forming() == OPEN
    rig.feed.status = FeedStatus.RECONNECTING
    rig.look(market=OPEN + 600, mono=10.0)
    assert rig.forming() == OPEN


def test_the_day_is_over_when_the_clock_reached_the_end_and_the_ticks_are_in(rig: Rig) -> None:
    rig.tick(A, OPEN + 1, 1000.0, 100)
    assert not rig.look(market=UNTIL - 1, mono=5.0)
    rig.tick(B, UNTIL - 30, 2000.0, 300)  # ticks still coming: the end waits for them
    assert not rig.look(market=UNTIL + 10, mono=0.1)
    rig.tick(A, UNTIL + 5, 1001.0, 400)  # a tick past the end (plus the grace) ...
    rig.look(mono=0.1)
    assert rig.look(mono=0.5)  # ... seen half a second ago: every earlier tick is in


@pytest.mark.parametrize(
    ("snapshots", "source"),
    [((A, B), "ticks"), ((A,), "history"), ((), "history")],
    ids=["subscribed-before-the-open", "one-symbol-unknown", "came-in-mid-session"],
)
def test_the_first_minute_counts_as_seen_only_when_the_feed_was_there_before_it(
    rig: Rig, paper_sim: SimServer, snapshots: tuple[str, ...], source: str
) -> None:
    # The clock's reading of when the feed went live may lag (here it says before the open);
    # what shows the subscription came before the session's first trades is each symbol's
    # snapshot (its last trade) from before the open. Without it the first minute was seen
    # only from its first tick on, and its bars come from history.
    hub_for(paper_sim.state).clock.set(OPEN + 130, paused=True)
    rig.session.live_at = OPEN - 60
    for sym in snapshots:
        rig.tick(sym, OPEN - 30, 999.0, 0)
    rig.tick(A, OPEN, 1000.0, 100)
    rig.tick(B, OPEN, 2000.0, 100)
    rig.tick(A, OPEN + 61, 1001.0, 200)
    rig.tick(B, OPEN + 61, 2001.0, 200)
    rig.session.store.flush_live(bars=True)
    first = {s: src for s, ts, src in stored_bars(rig.engine.settings) if ts == OPEN}
    assert first == {A: source, B: source}


def ticked_into_0916(rig: Rig, sim: SimServer) -> None:
    """Both symbols subscribed before the open, traded in 09:15 and early in 09:16 (the market
    clock paused at 09:18:20, so history has those minutes)."""
    hub_for(sim.state).clock.set(OPEN + 200, paused=True)
    for sym in (A, B):
        rig.tick(sym, OPEN - 30, 999.0, 0)  # subscribed before the open
    rig.tick(A, OPEN + 1, 1000.0, 100)
    rig.tick(B, OPEN + 2, 2000.0, 100)
    rig.tick(A, OPEN + 61, 1001.0, 200)
    rig.tick(B, OPEN + 62, 2001.0, 200)


@pytest.mark.parametrize("after_gap", [(A,), ()], ids=["one-ticks-again", "none-ticks-again"])
def test_a_symbol_silent_after_a_gap_gets_that_minute_from_history(
    rig: Rig, paper_sim: SimServer, after_gap: tuple[str, ...]
) -> None:
    # A gap inside 09:16 (its bars dropped, counted as seen only from 09:16:41): a symbol that
    # does not tick again before 09:17 would have no bar of 09:16 at all; history has it.
    ticked_into_0916(rig, paper_sim)
    rig.session.on_gap(Gap(OPEN + 62, OPEN + 100))
    for sym in after_gap:
        rig.tick(sym, OPEN + 101, 1002.0, 300)
    rig.tick(A, OPEN + 121, 1003.0, 400)
    rig.tick(B, OPEN + 122, 2003.0, 400)
    rig.session.store.flush_live(bars=True)
    bars = stored_bars(rig.engine.settings)
    assert {s: src for s, ts, src in bars if ts == OPEN} == {A: "ticks", B: "ticks"}
    assert {s: src for s, ts, src in bars if ts == OPEN + 60} == {A: "history", B: "history"}
    assert rig.dispatched() == OPEN + 60  # 09:16 went to the strategy with both bars


def test_a_gap_ending_in_a_minutes_last_second_gets_that_minute_from_history(
    rig: Rig, paper_sim: SimServer
) -> None:
    # The feed comes back with a tick of A at 09:16:59: 09:16 was seen in part (its last second
    # only), 09:17 whole. B does not tick again before 09:17, so without history B would have
    # no bar of 09:16 at all (and A only one built from its last second).
    ticked_into_0916(rig, paper_sim)
    rig.session.on_gap(Gap(OPEN + 62, OPEN + 119))
    rig.tick(A, OPEN + 119, 1002.0, 300)
    rig.tick(A, OPEN + 121, 1003.0, 400)
    rig.tick(B, OPEN + 122, 2003.0, 400)
    rig.tick(A, OPEN + 181, 1004.0, 500)
    rig.tick(B, OPEN + 182, 2004.0, 500)
    rig.session.store.flush_live(bars=True)
    bars = stored_bars(rig.engine.settings)
    assert {s: src for s, ts, src in bars if ts == OPEN + 60} == {A: "history", B: "history"}
    # the minute after the gap was seen whole: built from its ticks
    assert {s: src for s, ts, src in bars if ts == OPEN + 120} == {A: "ticks", B: "ticks"}
    assert rig.dispatched() == OPEN + 120


def test_a_gap_the_feed_came_back_from_only_after_the_end_is_backfilled_up_to_the_end(
    rig: Rig, paper_sim: SimServer
) -> None:
    # The connection stalled in 09:16 with the socket up and came back only at 09:30:20, after
    # the run's end: the gap arrives with that first tick, still queued when the run ends. The
    # minutes it missed before the end come from history; the tick past the end is only stored.
    ticked_into_0916(rig, paper_sim)
    hub_for(paper_sim.state).clock.set(UNTIL + 60, paused=True)  # history has up to 09:30
    back = UNTIL + 20
    rig.feed.ticks.put(Gap(OPEN + 62, back))
    rig.feed.ticks.put(Tick(A, back, 1010.0, 900))
    assert rig.runner.drain(rig.feed, UNTIL) == 1  # type: ignore[arg-type]
    rig.session.store.flush_live(bars=True)
    bars = stored_bars(rig.engine.settings)
    for sym in (A, B):
        minutes = [(ts, src) for s, ts, src in bars if s == sym]
        assert minutes[0] == (OPEN, "ticks"), sym
        # 09:16 (seen in part) to 09:29: the market's bars; none at or after the end
        assert minutes[1:] == [(ts, "history") for ts in range(OPEN + 60, UNTIL, 60)], sym
    assert rig.dispatched() == UNTIL - 60


def test_a_minute_seen_in_part_that_history_cannot_give_is_named_in_the_engines_log(
    rig: Rig, paper_sim: SimServer
) -> None:
    # the same last-second gap, with history answering HTTP 502 when the minute is over
    rig.session.history.client.retry = RetryPolicy(attempts=1)  # type: ignore[attr-defined]
    ticked_into_0916(rig, paper_sim)
    rig.session.on_gap(Gap(OPEN + 62, OPEN + 119))
    rig.tick(A, OPEN + 119, 1002.0, 300)
    paper_sim.faults.set(history_5xx=2)
    rig.tick(A, OPEN + 121, 1003.0, 400)
    assert paper_sim.faults.history_5xx == 0  # both were asked for, and refused
    rig.tick(B, OPEN + 122, 2003.0, 400)
    rig.tick(A, OPEN + 181, 1004.0, 500)
    rig.tick(B, OPEN + 182, 2004.0, 500)
    rig.session.store.flush_live(bars=True)
    bars = stored_bars(rig.engine.settings)
    # A keeps the bar of what it saw of 09:16 (its last second), B has none
    assert {s: src for s, ts, src in bars if ts == OPEN + 60} == {A: "ticks"}
    conn = sqlite3.connect(rig.engine.settings.trading_db)
    logged = dict(
        conn.execute(
            "SELECT symbol, message FROM pt_live_debug_log WHERE message LIKE '%seen only in part%'"
        ).fetchall()
    )
    conn.close()
    assert set(logged) == {A, B}
    assert all(m.startswith("the 09:16:00 IST bar, seen only in part,") for m in logged.values())
    assert logged[A].endswith("the ticks seen of it are used")
    assert logged[B].endswith("it stays missing")


@pytest.fixture
def square_rig(paper_settings: Settings, paper_config: Callable[..., LiveConfig]) -> Iterator[Rig]:
    """Intraday, square-off at 09:20; A and B each hold 10 bought at 09:15. The strategy's
    slow average needs more bars than the warm-up and the morning give it, so it never trades
    (what it would make of these hand-made prices after the simulated day's history depends on
    the day: only the square-off may close the positions)."""
    config = paper_config(
        entry_start="09:15",
        entry_end="09:19",
        square_off="09:20",
        params={"fast": 3, "slow": 400},
    )
    with rig_of(paper_settings, config) as rig:
        for sym in PAPER_SYMBOLS:  # each subscription's snapshot: its last trade, before the open
            rig.tick(sym, OPEN - 60, 1000.0, 0)
        rig.market.set(OPEN + 30)
        rig.tick(A, OPEN + 1, 1000.0, 100)
        rig.tick(B, OPEN + 2, 2000.0, 100)
        core = rig.session.trader.engine
        core.place(A, Side.BUY, 10)
        core.place(B, Side.BUY, 10)
        rig.tick(A, OPEN + 3, 1001.0, 100)  # both fill at their next tick
        rig.tick(B, OPEN + 4, 2001.0, 100)
        assert core.portfolio.quantity(A) == core.portfolio.quantity(B) == 10
        yield rig


def exits(rig: Rig) -> list[tuple[str, int, float]]:
    """The square-off orders, each filled: (symbol, time, price)."""
    orders = [o for o in rig.session.trader.engine.orders.values() if o.tag == "square_off"]
    assert all(o.status is OrderStatus.FILLED for o in orders)
    return [(o.symbol, o.updated_ts, o.avg_fill_price) for o in orders]


SQUARE_OFF = OPEN + 5 * 60  # 09:20


def test_an_engine_behind_its_feed_trades_the_square_off_minute_before_the_clock_closes(
    square_rig: Rig,
) -> None:
    rig = square_rig
    core = rig.session.trader.engine
    # the market clock is two minutes ahead of the ticks the engine has handled (a busy
    # machine, a fast simulator): nothing is closed by the clock while ticks flow
    rig.tick(A, SQUARE_OFF - 20, 1002.0, 100)
    rig.look(market=SQUARE_OFF + 120, mono=0.1)
    rig.look(mono=0.6)
    assert core.portfolio.quantity(A) == core.portfolio.quantity(B) == 10
    assert exits(rig) == []
    # the square-off minute's ticks, handled late: A closes at its first tick at 09:20 ...
    rig.tick(A, SQUARE_OFF + 10, 1003.0, 100)
    assert core.portfolio.quantity(A) == 0 and core.portfolio.quantity(B) == 10
    # ... and B, silent through that minute, with the first tick a minute past 09:20
    rig.tick(A, SQUARE_OFF + 61, 1004.0, 100)
    assert core.portfolio.quantity(B) == 0
    assert [(s, ts) for s, ts, _ in exits(rig)] == [(A, SQUARE_OFF + 10), (B, SQUARE_OFF + 61)]
    rig.look(mono=0.3)
    rig.tick(B, SQUARE_OFF + 70, 2005.0, 100)
    assert len(exits(rig)) == 2  # closed once each


@pytest.mark.parametrize("why", ["quiet market", "feed down"])
def test_with_no_tick_coming_the_clock_squares_off_a_minute_past_the_time(
    square_rig: Rig, why: str
) -> None:
    rig = square_rig
    core = rig.session.trader.engine
    rig.look(market=SQUARE_OFF + 30, mono=0.1)
    if why == "feed down":
        rig.feed.status = FeedStatus.RECONNECTING
        rig.look(market=SQUARE_OFF + 59, mono=5.0)
        assert core.portfolio.quantity(A) == 10  # not before a minute past the time
        rig.look(market=SQUARE_OFF + 61, mono=0.1)
    else:
        rig.look(market=SQUARE_OFF + 90, mono=1.0)
        assert core.portfolio.quantity(A) == 10  # a fast clock alone is not a quiet market
        rig.look(mono=1.5)
    assert core.portfolio.quantity(A) == core.portfolio.quantity(B) == 0
    assert {s for s, _, _ in exits(rig)} == {A, B}


@pytest.fixture
def rig5(paper_settings: Settings, paper_config: Callable[..., LiveConfig]) -> Iterator[Rig]:
    """The rig with 5-minute bars."""
    with rig_of(paper_settings, paper_config(resolution="5")) as r:
        yield r


def a_closes_at(rig: Rig) -> float | None:
    """The close of A's newest 5-minute bar the strategy was handed (None: none yet)."""
    arrays = rig.session.trader.engine.by_symbol[A].arrays
    n = len(arrays)
    return float(arrays.close[n - 1]) if n and int(arrays.ts[n - 1]) == OPEN else None


def test_a_higher_bar_waits_for_the_last_minute_of_every_symbol(rig5: Rig) -> None:
    # 5-minute bars from two symbols' ticks: B's first tick of 09:20 comes while A's 09:19
    # minute is still forming (A trades less often). A's 09:15 bar must still hold that minute.
    rig = rig5
    for sym in PAPER_SYMBOLS:
        rig.tick(sym, OPEN - 60, 1000.0, 0)
    rig.market.set(OPEN + 400)
    for minute in range(5):
        rig.tick(A, OPEN + 60 * minute + 10, 1000.0 + minute, 100)
        rig.tick(B, OPEN + 60 * minute + 20, 2000.0 + minute, 100)
    rig.tick(A, OPEN + 4 * 60 + 50, 1050.0, 100)  # A's last trade of 09:19
    rig.tick(B, OPEN + 5 * 60 + 5, 2010.0, 100)
    rig.tick(A, OPEN + 5 * 60 + 7, 1060.0, 100)
    assert rig.session.resampler is not None and rig.session.resampler.late_bars == 0
    assert a_closes_at(rig) == 1050.0


def test_a_higher_bar_waits_for_a_straggler_while_ticks_flow(rig5: Rig) -> None:
    # A trades once in 09:19, at 09:19:59, and that tick reaches us after B's 09:20:01 (updates
    # of different symbols are not strictly ordered). The market clock is already past 09:20
    # plus the grace: while ticks flow, A's 09:15 bar closes by their exchange time as seen a
    # moment ago (the lag that lets stragglers in), not by the market clock.
    rig = rig5
    rig.market.set(OPEN + 30)
    for sym in (A, B):
        rig.tick(sym, OPEN - 30, 999.0, 0)  # subscribed before the open
    for minute in range(4):  # 09:15 to 09:18: both trade
        rig.tick(A, OPEN + 60 * minute + 10, 1000.0 + minute, 100)
        rig.tick(B, OPEN + 60 * minute + 20, 2000.0 + minute, 100)
    rig.tick(B, OPEN + 4 * 60 + 10, 2004.0, 100)  # 09:19:10: B trades, A does not yet
    rig.look(market=OPEN + 4 * 60 + 15)
    rig.look(mono=1.0)  # 09:19:10 seen a second ago: A's 09:18 bar closes on it
    assert rig.session.builder.forming(A) is None
    rig.tick(B, OPEN + 5 * 60 + 1, 2005.0, 100)  # 09:20:01: B's 09:19 bar closes
    rig.look(market=OPEN + 5 * 60 + 5)  # the market clock: 09:20:05
    assert a_closes_at(rig) is None  # A's 09:15 bar waits: the straggler may still come
    rig.tick(A, OPEN + 4 * 60 + 59, 1050.0, 100)  # 09:19:59, late
    rig.tick(A, OPEN + 5 * 60 + 3, 1060.0, 100)  # A's 09:20:03 closes its 09:19 bar
    assert rig.session.resampler is not None and rig.session.resampler.late_bars == 0
    assert a_closes_at(rig) == 1050.0  # its last minute's close, as a backtest has it


def test_a_higher_bar_closes_by_the_clock_in_a_quiet_market(rig5: Rig) -> None:
    # Nobody trades after 09:18: the market clock closes the 09:15 bar (with its 09:18 close)
    # once the market has been quiet for a minute and two seconds of the machine.
    rig = rig5
    rig.market.set(OPEN + 30)
    for sym in (A, B):
        rig.tick(sym, OPEN - 30, 999.0, 0)
    for minute in range(4):
        rig.tick(A, OPEN + 60 * minute + 10, 1000.0 + minute, 100)
        rig.tick(B, OPEN + 60 * minute + 20, 2000.0 + minute, 100)
    rig.look(market=OPEN + 4 * 60)
    rig.look(market=OPEN + 5 * 60 + 30, mono=3.0)  # quiet: the 1-minute bars close
    rig.look(mono=0.5)
    assert a_closes_at(rig) == 1003.0


def test_a_higher_bar_waits_while_the_feed_is_down(rig5: Rig) -> None:
    # Every bar closed before the feed dropped (a quiet minute), then nothing is known: the
    # 09:15 bar waits for the gap's backfill instead of closing on the market clock without
    # the minutes the gap missed.
    rig = rig5
    rig.market.set(OPEN + 30)
    for sym in (A, B):
        rig.tick(sym, OPEN - 30, 999.0, 0)
    for minute in range(3):  # 09:15 to 09:17
        rig.tick(A, OPEN + 60 * minute + 10, 1000.0 + minute, 100)
        rig.tick(B, OPEN + 60 * minute + 20, 2000.0 + minute, 100)
    rig.look(market=OPEN + 3 * 60)
    rig.look(market=OPEN + 4 * 60 + 30, mono=3.0)  # quiet: every 1-minute bar closes
    assert rig.forming() is None
    rig.feed.status = FeedStatus.RECONNECTING  # then the feed drops
    rig.look(market=OPEN + 6 * 60, mono=5.0)
    rig.look(market=OPEN + 7 * 60, mono=5.0)
    assert a_closes_at(rig) is None


def strategy_bars(
    session: LiveSession, symbol: str
) -> list[tuple[int, float, float, float, float, int]]:
    """The symbol's bars of the day the strategy holds (its bar history, indicators' input)."""
    a = session.trader.engine.by_symbol[symbol].arrays
    return [
        (int(a.ts[i]), *(float(x[i]) for x in (a.open, a.high, a.low, a.close)), int(a.volume[i]))
        for i in range(len(a))
        if int(a.ts[i]) >= OPEN
    ]


def live_bars_as(settings: Settings, symbol: str, minutes: int) -> list[tuple[object, ...]]:
    """``live_bars`` of the symbol, aggregated into ``minutes``-minute bars from the open."""
    conn = sqlite3.connect(settings.live_db)
    rows = conn.execute(
        "SELECT ts, open, high, low, close, volume FROM live_bars WHERE symbol = ? ORDER BY ts",
        (symbol,),
    ).fetchall()
    conn.close()
    out: list[tuple[object, ...]] = []
    for ts, o, h, lo, c, v in rows:
        start = OPEN + (ts - OPEN) // (60 * minutes) * 60 * minutes
        if out and out[-1][0] == start:
            _, o0, h0, l0, _, v0 = out[-1]
            out[-1] = (start, o0, max(h0, h), min(l0, lo), c, v0 + v)  # type: ignore[call-overload]
        else:
            out.append((start, o, h, lo, c, v))
    return out


@pytest.mark.parametrize(
    ("resolution", "silent"),
    [("1", 1), ("5", 1), ("5", 4)],
    ids=["1-minute", "5-minute-bucket-open", "5-minute-bucket-handed-on"],
)
def test_a_minute_closed_on_the_clock_before_a_gap_was_known_is_corrected_and_replayed(
    paper_settings: Settings,
    paper_config: Callable[..., LiveConfig],
    paper_sim: SimServer,
    resolution: str,
    silent: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The feed goes silent early in minute S (09:15 + silent minutes) with the socket up: the
    # market is quiet for a minute of the market and three seconds of the machine, so the clock
    # closes S from the one tick each symbol had, and the strategy gets it. The reconnect then
    # shows the gap: S must become the market's bar in live_bars, in the engine's log and in
    # the strategy's bars from then on (its 5-minute bucket too, open or already handed on),
    # and a restart's replay must rebuild the same.
    handed: list[tuple[object, ...]] = []  # every bar the strategy was handed, in order
    on_bars = TradingEngine.on_bars

    def recorded(engine: TradingEngine, bars: Sequence[Bar], close_ts: int) -> None:
        handed.extend((b.symbol, b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars)
        on_bars(engine, bars, close_ts)

    monkeypatch.setattr(TradingEngine, "on_bars", recorded)
    s = OPEN + 60 * silent
    hub_for(paper_sim.state).clock.set(s + 200, paused=True)  # history has S and the next two
    config = paper_config(resolution=resolution)
    market = s + 200
    with rig_of(paper_settings, config) as rig:
        for sym in (A, B):
            rig.tick(sym, OPEN - 30, 999.0, 0)  # subscribed before the open
        vol = 100
        for m in range(OPEN, s, 60):
            rig.tick(A, m + 1, 1000.0 + (m - OPEN) / 60, vol)
            rig.tick(B, m + 2, 2000.0 + (m - OPEN) / 60, vol)
            vol += 100
        rig.tick(A, s + 1, 1050.0, vol)  # then nothing: the feed is silent from 09:MM:02
        rig.tick(B, s + 2, 2050.0, vol)
        rig.look(market=s + 10)
        rig.look(market=s + 130, mono=3.0)  # a quiet market: S closes from its one tick
        assert rig.forming() is None and rig.dispatched() == s
        rig.session.on_gap(Gap(s + 2, s + 135))  # the reconnect's first tick shows the gap
        for k, t in enumerate((s + 135, s + 185, s + 245, s + 305, s + 365)):
            rig.tick(A, t, 1060.0 + k, vol + 1000 * (k + 1))
            rig.tick(B, t + 1, 2060.0 + k, vol + 1000 * (k + 1))
        rig.session.trader.commit(market)
        rig.session.store.flush_live(bars=True)
        settings = rig.engine.settings
        client = rig.session.history.client  # type: ignore[attr-defined]
        bars = stored_bars(settings)
        assert {sym: src for sym, ts, src in bars if ts == s} == {A: "history", B: "history"}
        minutes = int(resolution)
        held = {}
        for sym in (A, B):
            (market_bar,) = [tuple(r) for r in client.history(sym, Resolution.M1, s, s)]
            stored = live_bars_as(settings, sym, 1)
            assert next(r for r in stored if r[0] == s) == market_bar, sym
            # the strategy's bars are the stored ones (the corrected minute included)
            held[sym] = strategy_bars(rig.session, sym)
            assert held[sym] == live_bars_as(settings, sym, minutes)[: len(held[sym])], sym
            assert held[sym][0][0] == OPEN and held[sym][-1][0] + 60 * minutes > s, sym
        conn = sqlite3.connect(settings.trading_db)
        fixed = conn.execute(
            "SELECT level, symbol, message FROM pt_live_debug_log WHERE message LIKE ?",
            ("%corrected from history: OHLCV%",),
        ).fetchall()
        conn.close()
        hhmm = f"09:{15 + silent:02d}"
        assert sorted(sym for _, sym, _ in fixed) == sorted([A, B])
        assert all(
            lvl == "WARNING" and m.startswith(f"the {hhmm}:00 IST bar,") for lvl, _, m in fixed
        )
        assert any("OHLCV 1050/1050/1050/1050/" in m for _, _, m in fixed)
        # (the strategy decided S on the bar the clock closed: that decision stands)
        assert any(b[:2] == (A, s) and b[2] == 1050.0 for b in handed) == (minutes == 1)
    live, handed[:] = list(handed), []

    # a restart (the segment never ended): its replay hands the strategy the same bars in the
    # same order (S as the clock closed it, then corrected at the gap) and ends where it was
    again = LiveEngine(paper_settings, config, clock=ManualClock(market), monotonic=Mono())
    try:
        replayed = again.prepare(UNTIL)
        assert handed == live
        for sym in (A, B):
            assert strategy_bars(replayed, sym) == held[sym], sym
    finally:
        again.close()
