"""The runner loop: the feed's queue and the clocks into a
:class:`~fyerstrade.live.session.LiveSession`.

One thread (the engine's) takes ticks and gaps off the feed's queue and hands them to the
session, and about five times a second looks at the clocks (:meth:`Runner.housekeeping`): it
flushes stored ticks, lets the session close the bars of quiet symbols, applies the kill switch
when it is on, writes the status, and decides when the day is over. Every time it uses comes
from the injected clocks (:class:`~fyerstrade.live.clock.Clocks`), so a test can drive it.

When is a quiet symbol's bar closed? When the exchange time of the other symbols' ticks, as seen
:data:`CLOSE_LAG_SECONDS` of monotonic time earlier, has passed its minute plus the grace
(symbols' updates are not strictly ordered across symbols: the lag lets stragglers in). When no
symbol ticks at all, only once the market clock moved :data:`QUIET_MARKET_SECONDS` *and* the
monotonic clock :data:`QUIET_WALL_SECONDS` since the last tick: a fast simulated clock alone, a
paused market, or a loaded machine that delivers late never passes for a quiet market. Never
while the feed is down or reconnected without a tick yet: a gap is backfilled, not guessed. A
higher-resolution bar (5 minutes and up) closes by the same rule when its last minute had no
trade: on that lagged exchange time while ticks flow, on the market clock in a quiet market.

The square-off of what is still open a minute past the square-off time follows the same rule:
while ticks flow it comes with the first tick past that minute (an engine behind its feed still
trades the square-off minute's ticks first), and the clock alone decides it only in a quiet market
or while the feed is down (no tick is coming to do it).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable

from fyerstrade.domain import Tick
from fyerstrade.errors import AuthError
from fyerstrade.fyers.feed import FeedStatus, Gap, TickFeed
from fyerstrade.live.clock import Clocks
from fyerstrade.live.killswitch import KillSwitch
from fyerstrade.live.session import BAR_GRACE_SECONDS, LiveSession

__all__ = ["Runner"]

TICK_FLUSH_SECONDS = 0.05  # monotonic seconds between live_ticks batches (small ones, often)
HOUSEKEEPING_SECONDS = 0.2  # monotonic seconds between looks at the clocks
STATUS_SECONDS = 1.0
QUIET_MARKET_SECONDS = 60  # market seconds without any tick after which bars close anyway
QUIET_WALL_SECONDS = 2.0  # ... provided no tick arrived for this many monotonic seconds either
CLOSE_LAG_SECONDS = 0.5  # other symbols' exchange time closes a bar only this much later
LIVE_WAIT_SECONDS = 30.0  # monotonic seconds to wait for the first connection before saying so


class Runner:
    """Drives ``session`` from a feed until market time ``until`` or a stop."""

    def __init__(
        self,
        session: LiveSession,
        clocks: Clocks,
        *,
        set_state: Callable[[str, str], None],
        write_status: Callable[[], None],
        kill_switch: KillSwitch | None = None,
        on_kill: Callable[[str, str], None] | None = None,
    ) -> None:
        self.session = session
        self.clocks = clocks
        self.kill_switch = kill_switch
        self.on_kill = on_kill
        self._set_state = set_state
        self._write_status = write_status
        self._last_flush = 0.0
        self._last_status = 0.0
        self._seen_ticks = -1  # ticks handled at the last look at the clocks
        self._quiet_clock = 0  # market time since which no tick arrived
        self._quiet_mono = 0.0  # ... and monotonic time
        self._exchange: deque[tuple[float, int]] = deque()  # (monotonic, last tick time)

    # ------------------------------------------------------------------ the loop

    def run(self, feed: TickFeed, stop: threading.Event, until: int) -> None:
        """Wait for the feed to be live, then hand the session what arrives until the day is
        over (True from :meth:`housekeeping`) or ``stop`` is set."""
        mono, market = self.clocks.monotonic, self.clocks.market
        session = self.session
        waited = mono()
        while not feed.wait_live(0.2):
            if feed.status is FeedStatus.AUTH_FAILED or not feed.running:
                raise feed.error or AuthError("the data socket refused the token")
            if stop.is_set() or market.now() >= until:
                return
            if mono() - waited > LIVE_WAIT_SECONDS:
                self._set_state("reconnecting", "waiting for the Fyers data socket")
        now = session.live_at = market.now()
        for sym in session.symbols:
            session.observed_from.setdefault(sym, now)
        self._set_state("running", "")
        ticks = feed.ticks
        wall = self.clocks.wall
        next_house = 0.0
        while not stop.is_set():
            deadline = mono() + HOUSEKEEPING_SECONDS
            try:
                item: Tick | Gap | None = ticks.get(timeout=HOUSEKEEPING_SECONDS)
            except queue.Empty:
                item = None
            while item is not None:
                if isinstance(item, Gap):
                    session.on_gap(item)
                else:
                    session.on_tick(item, recv_wall=wall())
                if mono() >= deadline:
                    break
                try:
                    item = ticks.get_nowait()
                except queue.Empty:
                    item = None
            self._flush_now()  # small batches often: a long write delays the next tick
            session.trader.poll(market.now())  # real orders: what Fyers said meanwhile
            if mono() >= next_house:
                next_house = mono() + HOUSEKEEPING_SECONDS
                if self.housekeeping(feed, until):
                    return
            if feed.status is FeedStatus.AUTH_FAILED:
                raise feed.error or AuthError("the data socket refused the token")

    def _flush_now(self) -> None:
        store = self.session.store
        mono = self.clocks.monotonic()
        if store.queued_ticks and mono - self._last_flush >= TICK_FLUSH_SECONDS:
            store.flush_live()
            self._last_flush = mono

    def drain(self, feed: TickFeed, until: int) -> int:
        """Stop the feed and take what it had queued. Ticks before ``until`` (the session's
        end; 0 on a stop) are the session's and traded as usual; the rest are only stored. A
        gap still open is backfilled up to the end. Returns how many ticks were only
        stored."""
        feed.stop()
        session = self.session
        wall = self.clocks.wall
        end = min(until, session.session.close_ts)
        stored = 0
        while True:
            try:
                item = feed.ticks.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, Tick):
                if item.end < until:
                    session.on_gap(item)
                elif item.start < end:
                    # the feed came back only after the end (a stall that outlasted the run):
                    # what it missed up to the end comes from history all the same
                    session.on_gap(Gap(item.start, end))
            elif item.ts < until:
                session.on_tick(item, recv_wall=wall())
            else:
                stored += 1
                session.store_only(item, wall())
        gap_start = feed.gap_start
        if gap_start is not None and gap_start < end:
            # the run ends while the feed is down (or back without a tick yet): what it missed
            # up to the end comes from history, like any gap
            session.on_gap(Gap(gap_start, end))
        session.store.flush_live()
        return stored

    # ------------------------------------------------------------------ the clocks

    def housekeeping(self, feed: TickFeed | None, until: int) -> bool:
        """Close quiet symbols' bars, flush ticks, write the status; True when the day is over
        (see the module docstring)."""
        session = self.session
        now = self.clocks.market.now()
        quiet = self.quiet(now)
        close_clock = 0
        ticking = feed is not None and feed.status is FeedStatus.LIVE and not feed.gap_open
        if ticking:
            close_clock = self.lagged_exchange_time()
            if quiet:
                close_clock = max(close_clock, now - QUIET_MARKET_SECONDS)
        session.on_clock(close_clock, now, clock_decides=quiet or not ticking)
        session.trader.poll(now)
        self._watch_kill_switch(now)
        self._flush_now()
        session.trader.commit(now)
        mono = self.clocks.monotonic()
        if mono - self._last_status >= STATUS_SECONDS:
            self._write_status()
            self._last_status = mono
        if feed is not None:
            state = session.status.state
            halted = session.trader.risk.halted
            if feed.status is FeedStatus.RECONNECTING and state == "running":
                self._set_state("reconnecting", "the data socket dropped; reconnecting")
            elif feed.status is FeedStatus.LIVE and state == "reconnecting":
                self._set_state("halted" if halted else "running", halted)
        return self.day_over(now, until, quiet)

    def _watch_kill_switch(self, now: int) -> None:
        """The kill switch, pulled from anywhere (the CLI, the dashboard, a risk limit): apply
        it once in this segment and record what was done."""
        switch = self.kill_switch
        if switch is None:
            return
        state = switch.state()
        if self.session.killed:
            if not state.active:
                self.session.on_unlock(now)
                self.session.trader.commit(now)
                self._set_state("running", "")
            else:
                self.session.trader.keep_flat(now)
            return
        if not state.active:
            return
        done = self.session.on_kill(now, state.reason)
        self.session.trader.commit(now)
        switch.record_flattened(done, "engine")
        self._set_state("halted", f"kill switch: {state.reason}")
        if self.on_kill is not None:
            self.on_kill(state.reason, done)

    def quiet(self, now: int) -> bool:
        """No tick for a market minute and for :data:`QUIET_WALL_SECONDS` monotonic seconds."""
        mono = self.clocks.monotonic()
        if self.session.n_ticks != self._seen_ticks:
            self._seen_ticks = self.session.n_ticks
            self._quiet_clock = now
            self._quiet_mono = mono
        return (
            now - self._quiet_clock >= QUIET_MARKET_SECONDS
            and mono - self._quiet_mono > QUIET_WALL_SECONDS
        )

    def lagged_exchange_time(self) -> int:
        """The exchange time of the last tick as seen :data:`CLOSE_LAG_SECONDS` ago (0:
        none)."""
        marks = self._exchange
        mono = self.clocks.monotonic()
        marks.append((mono, self.session.status.last_tick_ts))
        horizon = mono - CLOSE_LAG_SECONDS
        while len(marks) > 1 and marks[1][0] <= horizon:
            marks.popleft()
        return marks[0][1] if marks[0][0] <= horizon else 0

    def day_over(self, now: int, until: int, quiet: bool) -> bool:
        """Market time ``until`` has come, and the ticks of the minutes before it are in: the
        exchange time seen a moment ago is past it (plus the grace), or the market has been
        quiet (no tick for a market minute and two monotonic seconds)."""
        if now < until:
            return False
        end = min(until, self.session.session.close_ts)
        return self.lagged_exchange_time() >= end + BAR_GRACE_SECONDS or quiet
