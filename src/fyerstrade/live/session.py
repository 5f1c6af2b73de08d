"""A live trading session as a deterministic state machine: ticks, feed gaps and clock events
in, bars and trades out.

Everything that decides what is traded lives here, and nothing here reads a clock, waits or
talks to the feed: the runner (:mod:`fyerstrade.live.runner`) feeds it what arrives and what the
clock says, and a restart's replay (:mod:`fyerstrade.live.recovery`) feeds it the same again.

Life of a tick (:meth:`LiveSession.on_tick`)::

    live_ticks batch (stored as it arrived) → BarBuilder (may close the symbol's previous minute)
    → MinuteBarrier (a minute whose bars are all closed goes to the strategy)
    → held until every earlier minute is decided, then LiveTrader.trade: the square-off time,
      the paper broker's matching, the journal

Life of a bar (:meth:`LiveSession.closed_bar`): a bar of a minute seen only in part (the feed
connected or came back during it) is replaced by its history bar; it is stored in
``live_bars`` and queued at the barrier; a history bar whose minute may already trade is matched
by the bar rules at once. :meth:`dispatch_ready` hands complete minutes to the resampler (higher
resolutions) and the trader, then releases the ticks that waited for them. A feed gap's backfill
also corrects the bar of the minute the gap began in when the clock had closed it from the ticks
before the gap (:meth:`_correct`).

What the engine does on its own between ticks is a **mark** stored at its place in the tick
stream (``live_marks``, ``at_tick`` = ticks handled before it): a feed gap (:meth:`on_gap`) and
a look at the clock that changed something (:meth:`on_clock`: bars of a quiet market closed, the
square-off time passed without a tick), and the kill switch (:meth:`on_kill`,
:meth:`on_unlock`). A replay applies them where they happened (:meth:`apply_mark`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from fyerstrade.calendar import Session
from fyerstrade.domain import Bar, Tick
from fyerstrade.errors import AuthError, EngineError, FyersTradeError
from fyerstrade.fyers.feed import Gap
from fyerstrade.live.barrier import MinuteBarrier
from fyerstrade.live.bars import BarBuilder, Resampler
from fyerstrade.live.gaps import GapFiller, HistoryBars, RecordedBars, hhmmss
from fyerstrade.live.latency import LatencyWindow
from fyerstrade.live.session_store import Mark, SessionStore
from fyerstrade.live.status import EngineStatus
from fyerstrade.live.trader import LiveTrader
from fyerstrade.store.ticks import tick_row

__all__ = ["BAR_GRACE_SECONDS", "TICK_FLUSH_ROWS", "LiveSession"]

BAR_GRACE_SECONDS = 2
TICK_FLUSH_ROWS = 20_000


class LiveSession:
    """One segment of a trading day (see the module docstring)."""

    def __init__(
        self,
        *,
        segment: str,
        symbols: Sequence[str],
        session: Session,
        trade_end: int,
        trader: LiveTrader,
        store: SessionStore,
        history: GapFiller,
        resampler: Resampler | None,
        status: EngineStatus,
        tick_latency: LatencyWindow | None = None,
    ) -> None:
        self.segment = segment
        self.symbols = list(symbols)
        self.session = session
        self.trade_end = trade_end  # ticks from here on are stored, not traded
        self.trader = trader
        self.journal = trader.journal
        self.store = store
        self.history: HistoryBars = history
        self._api = history
        self.resampler = resampler
        self.status = status
        self.builder = BarBuilder(grace_seconds=BAR_GRACE_SECONDS)
        self.barrier = MinuteBarrier(self.builder, self.symbols)
        self._order = {s: k for k, s in enumerate(self.symbols)}
        self.tick_latency = tick_latency or LatencyWindow()  # receipt → processed, every tick
        self.n_ticks = 0  # ticks of the segment handled (marks are placed by it)
        self.killed = False  # the kill switch was applied in this segment
        self.mark_seq = 0
        self.bars_built = 0
        self._changes = 0  # bars queued, minutes dispatched, bars resampled on the clock
        self.observed_from: dict[str, int] = {}  # per symbol: ticks are complete from here
        self.gap_from: int | None = None  # a gap before the next tick starts here
        self.startup_gap = False  # that gap is the one before the session's first tick
        self.first_gap_seen = False  # the session's first tick (and its gap) were handled
        self.live_at = 0  # when the feed went live
        self.before_open: set[str] = set()  # symbols whose feed showed a pre-session trade
        self.last_session_tick = 0  # exchange time of the last in-session tick
        self.recorded: RecordedBars | None = None  # while replaying: the bars the run used
        self._matched: set[tuple[str, int]] = set()  # queued history minutes already matched
        self._partial: int | None = None  # the minute the last gap ended in (seen in part)

    @property
    def replaying(self) -> bool:
        return self.recorded is not None

    @property
    def changes(self) -> int:
        """A counter of what the session changed (a clock look that left it alone did nothing)."""
        return self._changes + self.trader.changes

    # ------------------------------------------------------------------ input

    def on_tick(self, t: Tick, *, persist: bool = True, recv_wall: float = 0.0) -> None:
        """A tick from the feed (``persist``: store it; a replay's are stored already)."""
        if t.symbol not in self.trader.engine.by_symbol:
            return
        in_session = self.session.open_ts <= t.ts < self.trade_end
        if in_session and self.gap_from is not None:
            # the gap before the segment's first tick (or since a restart's replay), handled
            # and marked before the tick counts: a replay applies the mark before this tick
            # too (applied after it, the gap would drop the bar the tick had begun)
            gap, self.gap_from = Gap(self.gap_from, t.ts), None
            self.on_gap(gap, startup=self.startup_gap)
        self.n_ticks += 1
        if persist:
            self.trader.trigger_ns = t.recv_ns
            if self.store.add_tick(tick_row(t, recv_wall)) >= TICK_FLUSH_ROWS:
                self.store.flush_live()
        status = self.status
        status.ticks += 1
        if t.ts > status.last_tick_ts:
            status.last_tick_ts = t.ts
        if in_session:
            self.last_session_tick = t.ts
            if self._partial is not None and t.ts >= self._partial + 60:
                self._complete_partial()
                self.dispatch_ready(t.ts)
            bar = self.builder.update(t.symbol, t.ts, t.ltp, t.volume, t.last_qty)
            if bar is not None:
                self.closed_bar(bar, "ticks")
                self.dispatch_ready(t.ts)
            if not self.barrier.hold(t):  # (held: the previous minute is not decided yet)
                self._trade(t)
        elif t.ts < self.session.open_ts:
            # the snapshot of a subscription made before the symbol's first trade of the
            # session (or a pre-open update): every trade of its session comes after it
            self.before_open.add(t.symbol)
        # (else pre-open snapshots, post-close updates, ticks after the run's end: stored only)
        trigger = self.trader.trigger_ns
        if trigger:
            if in_session:
                self.tick_latency.add(time.monotonic_ns() - trigger)
            self.trader.trigger_ns = 0

    def store_only(self, t: Tick, recv_wall: float) -> None:
        """A tick after the run's end: stored, counted, not traded."""
        self.n_ticks += 1
        self.store.add_tick(tick_row(t, recv_wall))
        self.status.ticks += 1

    def on_gap(self, gap: Gap, *, startup: bool = False) -> None:
        """A feed gap (``startup``: the segment's own gap before its first tick): recorded as
        a mark, then handled (:meth:`apply_gap`)."""
        seen_from = gap.end + 1  # ticks of the same second may have been missed
        if startup:
            # when the connection showed every symbol's last trade from before the session
            # first, it was subscribed before the open and missed nothing; else it came in
            # mid-session: a gap like any other, its first minute seen only in part (the
            # clock's reading of when the feed went live may lag; the trades it shows do not)
            self.startup_gap = False
            if self.before_open.issuperset(self.symbols):
                seen_from = min(gap.end, self.session.open_ts)
        else:
            self.before_open.clear()  # an interruption: what the next connection shows decides
        self.mark("gap", gap.start, gap.end, seen_from)
        self.apply_gap(gap, seen_from)

    def apply_gap(self, gap: Gap, seen_from: int) -> None:
        """Drop the incomplete bars and backfill the missed minutes (replaying: the history
        bars the live run stored); ticks count again from ``seen_from``."""
        self.first_gap_seen = True
        self.builder.restart()
        in_session = seen_from > self.session.open_ts  # else nothing was missed yet
        got = self.history.backfill(gap) if in_session else None
        kept = corrected = 0
        if got is not None:
            for bar in sorted(got.bars, key=lambda b: (b.ts, self._order.get(b.symbol, 0))):
                if self.closed_bar(bar, "history"):
                    kept += 1
                elif self._correct(bar, gap.end):
                    corrected += 1
        for sym in self.symbols:
            self.observed_from[sym] = seen_from
        if in_session:
            # the minute of the last second not seen whole (that of the gap's end): when the
            # feed came back in a minute's last second, the next minute is seen whole
            unseen = seen_from - 1
            self._partial = unseen - unseen % 60
        self.dispatch_ready(gap.end, before=gap.end - gap.end % 60)
        if in_session and not self.replaying:
            self.journal.engine_log(
                gap.end,
                f"feed gap {hhmmss(gap.start)}–{hhmmss(gap.end)} IST: "
                f"{kept} missed 1-minute bar(s) backfilled from history"
                + (
                    f"; {corrected} bar(s) of {hhmmss(gap.start - gap.start % 60)}, closed from "
                    "the ticks before the gap, corrected from history"
                    if corrected
                    else ""
                ),
                level="WARNING",
            )
        if got is not None and got.failed:
            first, last = gap.missed_minutes()
            why = "; ".join(f"{sym}: {err}" for sym, err in sorted(got.failed.items())[:3])
            more = f" and {len(got.failed) - 3} more" if len(got.failed) > 3 else ""
            self.journal.engine_log(
                gap.end,
                f"history failed for {len(got.failed)} symbol(s) after retries: their 1-minute "
                f"bars {hhmmss(first)}–{hhmmss(last)} IST stay missing ({why}{more}); "
                "trading goes on with the live bars",
                level="WARNING",
            )

    def on_clock(self, close_clock: int, now: int, *, clock_decides: bool) -> None:
        """What the clock does between ticks: close the bars of minutes that ended before
        ``close_clock`` (0: none), dispatch what is complete, and square off at ``now`` what
        is still open a minute past the square-off time — once the ticks' own time passed it
        (:meth:`LiveTrader.trade`), or by the clock alone when ``clock_decides`` (no tick is
        coming: a quiet market, the feed down). Stored as a mark when it changed anything."""
        before = self.changes
        mark = self.mark("clock", close_clock, now, int(clock_decides))
        self.apply_clock(close_clock, now, clock_decides=clock_decides)
        if mark is not None and self.changes == before and self.store.drop_last_mark(mark):
            self.mark_seq -= 1

    def apply_clock(self, close_clock: int, now: int, *, clock_decides: bool) -> None:
        if self._partial is not None and close_clock >= self._partial + 60:
            self._complete_partial()
        if close_clock:
            for bar in self.builder.on_clock(close_clock):
                self.closed_bar(bar, "ticks")
        # The resampler's buckets close on the same time as the 1-minute bars: while ticks
        # flow, their exchange time as seen a moment ago (a straggler of a bucket's last minute
        # may still come), the market clock only in a quiet market, and not at all while the
        # feed is down (close_clock 0: the gap's backfill completes the buckets).
        self.dispatch_ready(now if clock_decides and close_clock else close_clock)
        trader = self.trader
        guard = trader.guard
        if guard.square_off_overdue(now) and (
            clock_decides or trader.ticks_overdue >= guard.square_off_time(now) + 60
        ):
            trader.square_off_all(now, "square_off", only_intraday=True)

    # ------------------------------------------------------------------ marks

    def mark(self, kind: str, a: int = 0, b: int = 0, c: int = 0) -> Mark | None:
        """Store an event of the engine's own at its place in the tick stream (not while
        replaying: the replay applies the stored ones)."""
        if self.replaying:
            return None
        self.mark_seq += 1
        m = Mark(self.mark_seq, self.n_ticks, kind, a, b, c)
        self.store.add_mark(self.segment, m)
        return m

    def on_kill(self, now: int, reason: str) -> str:
        """The kill switch was pulled: cancel, close, halt (stored as a mark, so a restart does
        it again at the same place); returns what was done."""
        self.mark("kill", now)
        return self.apply_kill(now, reason)

    def apply_kill(self, now: int, reason: str = "kill switch") -> str:
        self.killed = True
        return self.trader.kill(now, reason)

    def on_unlock(self, now: int) -> None:
        """The kill switch was unlocked (by a person): entries are allowed again (a mark)."""
        self.mark("unlock", now)
        self.apply_unlock(now)

    def apply_unlock(self, now: int) -> None:
        self.killed = False
        self.trader.unlock(now)

    def apply_mark(self, m: Mark) -> None:
        if m.kind == "gap":
            self.apply_gap(Gap(m.a, m.b), m.c)
        elif m.kind == "clock":
            self.apply_clock(m.a, m.b, clock_decides=bool(m.c))
        elif m.kind == "kill":
            self.apply_kill(m.a)
        elif m.kind == "unlock":
            self.apply_unlock(m.a)
        else:
            raise EngineError(f"unknown mark {m.kind!r} in {self.segment}: upgrade fyerstrade")

    def replay_with(self, recorded: RecordedBars | None) -> None:
        """Replaying (``recorded``: the bars the live run used) or live again (None)."""
        self.recorded = recorded
        self.history = recorded if recorded is not None else self._api
        self.journal.replaying = self.trader.replaying = recorded is not None

    # ------------------------------------------------------------------ bars

    def closed_bar(self, bar: Bar, source: str) -> bool:
        """Queue a closed 1-minute bar for dispatch (False: a duplicate, dropped)."""
        barrier = self.barrier
        sym = bar.symbol
        if not barrier.is_new(bar):
            return False
        used = self.recorded.used(sym, bar.ts) if self.recorded is not None else None
        recorded = used is not None
        if (
            used is not None
            and used[1] == "history"
            and source == "ticks"
            and bar.ts >= self.observed_from.get(sym, 0)
        ):
            # the live run closed this minute, seen whole so far, from its ticks and a gap
            # found later corrected it (:meth:`_correct`): the same ticks give the same bar,
            # handed on as then; the gap's mark corrects it again
            used = None
        if used is not None:
            bar, source = used  # the bar the live run used
        elif source == "ticks" and bar.ts < self.observed_from.get(sym, 0):
            # seen only in part (the feed connected or came back during it): use history's bar
            better = self._history_bar(sym, bar.ts, "the ticks seen of it are used")
            if better is not None:
                bar, source = better, "history"
        self._changes += 1
        barrier.add(bar, source)
        if source == "history" and barrier.decided_before(bar.ts):
            # The strategy has seen every earlier minute, so its orders are all in: match them
            # on this unobserved minute now, before the symbol's next ticks reach the broker
            # (its dispatch may wait for other symbols' bars of the minute).
            self.trader.match_minute(bar)
            self._matched.add((sym, bar.ts))
        if not recorded:
            self.store.add_bar(bar, source)
        return True

    def _correct(self, bar: Bar, at: int) -> bool:
        """History's ``bar`` of the minute a feed gap began in, for a symbol whose bar of it
        was closed from its ticks before the gap was known (the clock closes a quiet symbol's
        minute, and a feed gone silent looks quiet until the gap shows): the market's bar takes
        its place (False: there was none, or it was the market's already; ``at``: the gap's
        end, when this is found).

        Still queued, the minute reaches the strategy with history's bar, matched by the bar
        rules as any minute seen in part. Handed on already, what the strategy decided on it
        stands (as a recovery, this restores what happened and decides nothing again): its bars
        from now on hold the market's bar (the indicators are recomputed), no order is matched
        on it again (orders placed at its close would fill on prices from before them), and
        ``live_bars`` and the engine's log (a WARNING with both bars) say so."""
        barrier = self.barrier
        sym = bar.symbol
        last = barrier.last.get(sym)
        if last is None or last[1] != "ticks" or last[0].ts != bar.ts:
            return False
        old = last[0]
        if _ohlcv(old) == _ohlcv(bar):
            return False
        self._changes += 1
        if barrier.replace(bar, "history"):
            if barrier.decided_before(bar.ts):
                self.trader.match_minute(bar)  # (as :meth:`closed_bar` does)
                self._matched.add((sym, bar.ts))
        elif self.resampler is None:
            self.trader.correct(bar)
        else:
            higher = self.resampler.correct(bar)
            if higher is not None:
                self.trader.correct(higher)
        if not self.replaying:
            self.store.replace_bar(bar, "history")
            self.journal.engine_log(
                at,
                f"the {hhmmss(bar.ts)} IST bar, closed from the ticks seen before a feed gap "
                f"that began in its minute, corrected from history: OHLCV {_fmt(old)} -> "
                f"{_fmt(bar)}",
                level="WARNING",
                symbol=sym,
            )
        return True

    def _complete_partial(self) -> None:
        """The minute the last gap ended in is over. A symbol that did not tick again in it
        has no bar of it (the gap dropped the one forming): that bar comes from history (none:
        it did not trade)."""
        minute, self._partial = self._partial, None
        assert minute is not None
        for sym in self.symbols:
            forming = self.builder.forming(sym)
            if self.barrier.last_minute.get(sym, -1) >= minute or (
                forming is not None and forming.ts == minute
            ):
                continue  # queued already, or forming from ticks after the gap
            bar = self._history_bar(sym, minute, "it stays missing")
            if bar is not None:
                self.closed_bar(bar, "history")

    def _history_bar(self, sym: str, minute: int, otherwise: str) -> Bar | None:
        """History's bar of a minute the feed saw only in part (None: it has none); when
        history cannot be asked, the engine's log says so and what happens ``otherwise``."""
        try:
            return self.history.bar(sym, minute)
        except AuthError:
            raise  # the login is gone: the engine stops and says so, as for a backfill
        except FyersTradeError as exc:
            self.journal.engine_log(
                minute + 60,
                f"the {hhmmss(minute)} IST bar, seen only in part, could not be fetched from "
                f"history ({exc}): {otherwise}",
                level="WARNING",
                symbol=sym,
            )
            return None

    def dispatch_ready(self, now: int, before: int | None = None) -> None:
        """Dispatch every queued minute no symbol is still forming a bar for; the resampler's
        buckets that ``now`` closes (0: none), none holding a minute still undecided (a
        symbol's bar of it still forming: it would come too late for its bucket); then the
        ticks that waited."""
        barrier = self.barrier
        while (ready := barrier.next_ready(before)) is not None:
            self._dispatch(*ready)
        if self.resampler is not None and now:
            undecided = barrier.undecided()
            if undecided is not None:
                now = min(now, undecided + self.resampler.grace_seconds)
            quiet = self.resampler.on_clock(now)
            if quiet:
                self._changes += 1
                self.trader.decide(quiet)
        self._release()

    def _dispatch(self, minute: int, items: list[tuple[Bar, str]]) -> None:
        self._changes += 1
        self.bars_built += len(items)
        self.status.bars += len(items)
        for bar, source in items:
            if source != "history":
                continue
            if (bar.symbol, bar.ts) in self._matched:
                self._matched.discard((bar.symbol, bar.ts))
            else:
                self.trader.match_minute(bar)
        bars = [b for b, _ in items]
        if self.resampler is None:
            self.trader.decide(bars)
        else:
            higher = self.resampler.on_bars(bars)
            if higher:
                self.trader.decide(higher)
        self.trader.commit(minute + 60)
        # the next minute's ticks that came while the strategy was deciding trade now
        self._release()

    def _release(self) -> None:
        for t in self.barrier.releasable():
            self._trade(t)

    def _trade(self, t: Tick) -> None:
        minute = t.ts - t.ts % 60
        # (a minute seen only in part after a gap is matched on its history bar instead)
        self.trader.trade(t, observed=minute >= self.observed_from.get(t.symbol, 0))

    # ------------------------------------------------------------------ end

    def finish_bars(self, until: int, now: int) -> None:
        """The end of the run: minutes that ended by ``until`` close and go to the strategy; a
        minute still running is no bar. Then every held tick trades."""
        for bar in self.builder.on_clock(until + BAR_GRACE_SECONDS):
            self.closed_bar(bar, "ticks")
        self.dispatch_ready(now, before=now + 60)
        self.release_all()

    def release_all(self) -> None:
        for t in self.barrier.release_all():
            self._trade(t)


def _ohlcv(bar: Bar) -> tuple[float, float, float, float, int]:
    return bar.open, bar.high, bar.low, bar.close, bar.volume


def _fmt(bar: Bar) -> str:
    return f"{bar.open:g}/{bar.high:g}/{bar.low:g}/{bar.close:g}/{bar.volume}"
