"""The live engine: one trading day of paper (or real) trading, from the Fyers ticks to the
journal.

:class:`LiveEngine` assembles the pieces and runs them on one thread (the caller of
:meth:`LiveEngine.run`), which owns every database connection; the SDK's socket thread only puts
ticks on the feed's queue. The pieces, one idea each:

==============================  ===============================================================
:mod:`~fyerstrade.live.runner`  the loop: the feed's queue and the injected clocks (market,
                                monotonic, wall) into the session; quiet markets; the day's end
:mod:`~fyerstrade.live.session` the deterministic core: ticks, gaps and clock events → bars →
                                the strategy and the paper fills; marks of the engine's own
                                events in the tick stream
:mod:`~fyerstrade.live.barrier` the minute barrier: one minute at a time with all its symbols,
                                later ticks held until the minute is decided
:mod:`~fyerstrade.live.gaps`    missed minutes from the history API (or, replaying, as stored)
:mod:`~fyerstrade.live.trader`  the TradingEngine, the paper broker, the risk gate
:mod:`~fyerstrade.live.warmup`  instruments and the strategy's warm-up bars
:mod:`~fyerstrade.live.recovery` a restart: restore what happened, never decide again
:mod:`~fyerstrade.live.session_store` the live and trading databases: open, every statement
:mod:`~fyerstrade.live.journal` orders, fills, positions, equity and messages
:mod:`~fyerstrade.live.paper_setup` a paper start: resume a crashed segment or open a new one
:mod:`~fyerstrade.live.real_setup` REAL orders (``broker: fyers`` + FYERSTRADE_REAL_TRADING):
                                the start's reconciliation with Fyers and the FyersBroker
                                (:mod:`~fyerstrade.live.fyers_broker`) in the paper broker's place
:mod:`~fyerstrade.live.session_end` the run's end: last bars, square-off, working orders, the
                                segment's closing account
==============================  ===============================================================

A day's session is stored in ``live_sessions`` with the account it started from. A restart on
the same day after a crash or ``kill -9`` rebuilds the segment from that account and warm-up and
restores it (:class:`~fyerstrade.live.recovery.PaperReplay`); a clean stop closes the segment
and a later start the same day begins a new one from the stored account. With real orders every
start is a new segment from the account as Fyers shows it, after reconciling the day's orders
(never a replay). The kill switch is watched by the runner; notices go to the notifier.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence

from fyerstrade.calendar import get_calendar, ist_date, live_coverage_message
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.errors import AuthError, CalendarCoverageError, EngineError, FyersTradeError
from fyerstrade.fyers.client import FyersClient
from fyerstrade.fyers.feed import Feed, TickFeed
from fyerstrade.fyers.tokens import load_valid_token
from fyerstrade.gcfreeze import RunFreeze
from fyerstrade.live.bars import Resampler
from fyerstrade.live.clock import Clocks, LiveClock, Monotonic, Wall
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.fyers_broker import FyersBroker
from fyerstrade.live.gaps import GapFiller
from fyerstrade.live.journal import LiveJournal
from fyerstrade.live.killswitch import KillSwitch
from fyerstrade.live.latency import LatencyWindow
from fyerstrade.live.notify import NoticeKind, Notifier
from fyerstrade.live.paper_setup import PaperStart
from fyerstrade.live.real_gate import check_real_trading
from fyerstrade.live.real_restart import RestartReport
from fyerstrade.live.real_setup import RealStart
from fyerstrade.live.recovery import PaperReplay, Recovery, start_segment
from fyerstrade.live.runner import Runner
from fyerstrade.live.session import BAR_GRACE_SECONDS, LiveSession
from fyerstrade.live.session_end import end_session
from fyerstrade.live.session_store import SessionStore
from fyerstrade.live.status import EngineStatus, write_status
from fyerstrade.live.trader import LiveTrader, build_trader
from fyerstrade.live.warmup import load_warmup, today_so_far
from fyerstrade.trading.engine import TradingEngine

__all__ = ["LiveEngine", "run_engine"]

log = logging.getLogger(__name__)

GIL_SWITCH_SECONDS = 0.0005

FeedFactory = Callable[[Settings, str, Sequence[str], LiveClock], TickFeed]


class LiveEngine:
    """One trading day of paper trading for ``config`` (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        config: LiveConfig,
        *,
        clock: LiveClock,
        monotonic: Monotonic = time.monotonic,
        wall: Wall = time.time,
        access_token: str | None = None,
        feed_factory: FeedFactory | None = None,
        recovery: Recovery | None = None,
    ) -> None:
        self.settings = settings
        self.config = config.validated(settings)
        self.clock = clock
        self.clocks = Clocks(clock, monotonic, wall)
        self.symbols = list(self.config.symbols)
        self.resolution = Resolution(self.config.resolution)
        self._token = access_token
        self._feed_factory = feed_factory or self._feed
        self._recovery: Recovery = recovery or PaperReplay()
        self.status = EngineStatus(
            state="starting",
            pid=os.getpid(),
            started_at=wall(),
            strategy=self.config.strategy,
            symbols=self.symbols,
        )
        self.tick_latency = LatencyWindow()  # receipt → processed, every tick
        self.strategy_latency = LatencyWindow()  # receipt of a minute's last tick → strategy
        self.feed: TickFeed | None = None
        self.session: LiveSession | None = None
        self.trader: LiveTrader | None = None
        self.store: SessionStore | None = None
        self.kill_switch = KillSwitch(settings.data_dir)
        # REAL orders only with broker: fyers AND FYERSTRADE_REAL_TRADING=true (the typed
        # confirmation of the start was checked by the process that started this engine)
        self.real = check_real_trading(settings, self.config)
        self.segment_start: RealStart | PaperStart | None = None
        self.fyers: FyersBroker | None = None  # the real broker (None: paper)
        self.notifier = Notifier(self.config.notify, prefix="[REAL] " if self.real else "[PAPER] ")

    # ------------------------------------------------------------------ what tests look at

    @property
    def engine(self) -> TradingEngine | None:
        """The trading core of the running session (None before it is set up)."""
        return self.trader.engine if self.trader is not None else None

    @property
    def restart_report(self) -> RestartReport | None:
        """What a real start found at Fyers (None: paper, or not started yet)."""
        start = self.segment_start
        return start.report if isinstance(start, RealStart) else None

    @property
    def ticks_persisted(self) -> int:
        return self.store.ticks_written if self.store is not None else 0

    @property
    def bars_built(self) -> int:
        return self.session.bars_built if self.session is not None else 0

    # ------------------------------------------------------------------ public

    def run(self, stop: threading.Event, until: int) -> None:
        """Trade until market time ``until`` or until ``stop`` is set."""
        # The SDK's socket thread parses while this thread trades; a 0.5 ms GIL switch interval
        # (instead of 5) cuts the time a tick waits for this thread three-fold (`make bench`).
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, GIL_SWITCH_SECONDS))
        frozen = RunFreeze()
        try:
            session = self.prepare(until)
            frozen.freeze()  # what setup built lives all day: the collector's passes stay short
            runner = Runner(
                session,
                self.clocks,
                set_state=self._set_state,
                write_status=self._write_status,
                kill_switch=self.kill_switch,
                on_kill=self._killed,
            )
            self.notifier.notify(
                NoticeKind.START,
                "Engine started",
                f"{self.config.strategy} on {', '.join(self.symbols)}, session "
                f"{self.status.session_id}",
            )
            assert self._token is not None
            self.feed = self._feed_factory(self.settings, self._token, self.symbols, self.clock)
            self.feed.start()
            runner.run(self.feed, stop, until)
            stored = runner.drain(self.feed, until if not stop.is_set() else 0)
            if stored and stop.is_set():
                session.journal.engine_log(
                    session.trader.clock.now(),
                    f"stopped with {stored:,} ticks queued: stored, not traded",
                )
            self._finish(session, stopped=stop.is_set(), until=until)
        except AuthError as exc:
            self._set_state("auth_failed", str(exc))
            self.notifier.notify(NoticeKind.ERROR, "Engine stopped: login", str(exc))
            raise
        except FyersTradeError as exc:
            self._set_state("error", str(exc))
            self.notifier.notify(NoticeKind.ERROR, "Engine stopped on an error", str(exc))
            raise
        except Exception as exc:
            log.exception("live engine failed")
            self._set_state("error", f"{type(exc).__name__}: {exc}")
            self.notifier.notify(NoticeKind.ERROR, "Engine failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            frozen.unfreeze()
            self.close()
            sys.setswitchinterval(switch)

    def _feed(
        self, settings: Settings, token: str, symbols: Sequence[str], clock: LiveClock
    ) -> Feed:
        return Feed(
            settings, token, symbols, clock=clock.now_float, monotonic=self.clocks.monotonic
        )

    # ------------------------------------------------------------------ setup

    def prepare(self, until: int) -> LiveSession:
        """Open the stores, load the warm-up, open or resume today's segment (a resumed one is
        restored) and return the session, ready for ticks (:meth:`run` does this first; a test
        may drive the session itself, then :meth:`close`)."""
        settings, cfg = self.settings, self.config
        now = self.clock.now()
        day = ist_date(now)
        try:
            market = get_calendar().session(day)
        except CalendarCoverageError as exc:
            raise EngineError(live_coverage_message(exc)) from None
        if market is None:
            raise EngineError(f"NSE has no trading session on {day}; nothing to trade")
        session_id = day.isoformat()
        self.status.session_id = session_id
        if self._token is None:
            record = load_valid_token(settings)
            self._token = f"{record.app_id}:{record.access_token}"
        app_id, _, jwt = self._token.partition(":")
        client = FyersClient(settings, app_id=app_id, access_token=jwt)
        store = self.store = SessionStore.open(settings)
        instruments, warm = load_warmup(
            settings, store, self.symbols, self.resolution, day, cfg.warmup_bars
        )
        start = self.segment_start = (
            RealStart(settings, cfg, self._token, self.kill_switch)
            if self.real
            else PaperStart(cfg)
        )
        row = start.segment_row(store, store.trading, session_id, now, instruments)
        segment = f"{session_id}#{row.segment}"
        self.fyers = start.broker(segment, day, instruments, store.trading, self.clocks.monotonic)
        self._set_state("warming_up", "")
        journal = LiveJournal(store.trading, segment, cfg.strategy)
        journal.notices = self._journal_notice
        # a segment that starts after the open: the session's earlier minutes are warm-up (no
        # trading), not trades we pretend we made; a resumed segment rebuilds the same warm-up
        earlier = []
        if row.replay_from > market.open_ts + 60:
            args = (client, self.symbols, self.resolution, warm, market.open_ts, row.replay_from)
            earlier = today_so_far(*args)
        trader = self.trader = build_trader(
            settings,
            cfg,
            day=day,
            row=row,
            warm=warm,
            instruments=instruments,
            journal=journal,
            store=store,
            status=self.status,
            on_halt=self._halted,
            strategy_latency=self.strategy_latency,
            real=self.fyers,
            monotonic=self.clocks.monotonic,
        )
        if self.fyers is not None:
            self.fyers.start()
        resampler = (
            Resampler(self.resolution, grace_seconds=BAR_GRACE_SECONDS)
            if self.resolution is not Resolution.M1
            else None
        )
        session = self.session = LiveSession(
            segment=segment,
            symbols=self.symbols,
            session=market,
            trade_end=min(until, market.close_ts),
            trader=trader,
            store=store,
            history=GapFiller(client, self.symbols),
            resampler=resampler,
            status=self.status,
            tick_latency=self.tick_latency,
        )
        for bar in earlier:  # the warm-up's minutes of today: a tick of them is late
            store.add_bar(bar, "history")
            session.barrier.seen(bar.symbol, bar.ts)
        cash = trader.engine.portfolio.cash
        journal.engine_log(
            now,
            f"session {segment}: {cfg.strategy} on {', '.join(self.symbols)} "
            f"({self.resolution.value}-minute, {cfg.mode}); cash ₹{cash:,.2f}"
            + (", resuming after a restart" if row.resume else ""),
        )
        if row.resume:
            self._recovery.restore(session, now)
        else:
            start_segment(session, now)
        trader.commit(now)
        return session

    # ------------------------------------------------------------------ end

    def _finish(self, session: LiveSession, *, stopped: bool, until: int) -> None:
        trader = session.trader
        now = max(self.clock.now(), trader.clock.ts)
        equity = end_session(
            session,
            session_id=self.status.session_id,
            on_stop=self.config.on_stop,
            stopped=stopped,
            until=until,
            now=now,
        )
        self._set_state("stopped", "stopped by the user" if stopped else "session over")
        self.notifier.notify(
            NoticeKind.SUMMARY,
            "Session stopped" if stopped else "Daily summary",
            f"session {self.status.session_id}: {self.status.trades} fill(s), equity "
            f"₹{equity:,.2f}, day P&L ₹{equity - trader.start_equity:,.2f}",
        )

    # ------------------------------------------------------------------ risk and notices

    def _halted(self, why: str) -> None:
        """A risk limit stopped trading: that pulls the kill switch (recorded, with its reason;
        nothing unlocks it but a person)."""
        self._set_state("halted", why)
        if self.trader is not None and not self.trader.replaying:
            self.kill_switch.activate(why, "engine")

    def _killed(self, reason: str, done: str) -> None:
        self.notifier.notify(NoticeKind.KILL_SWITCH, "Kill switch", f"{reason}: {done}")

    def _journal_notice(self, kind: str, text: str) -> None:
        if kind == "fill":
            self.notifier.notify(NoticeKind.FILL, "Fill", text)
        else:
            self.notifier.notify(NoticeKind.REJECTION, "Order refused", text)

    def close(self) -> None:
        """Stop the feed, write what is queued, close the stores, send what notices are
        queued."""
        self.notifier.close()
        if self.fyers is not None:
            self.fyers.close()
        if self.feed is not None:
            self.feed.stop()
        if self.trader is not None:
            self.trader.watchdog.stop()
        if self.store is not None:
            self.store.close()

    # ------------------------------------------------------------------ status

    def _set_state(self, state: str, message: str) -> None:
        if state != self.status.state:
            log.info("live engine: %s%s", state, f" ({message})" if message else "")
        self.status.state = state
        self.status.message = message
        self._write_status()

    def _write_status(self) -> None:
        st = self.status
        st.updated_at = self.clocks.wall()
        st.market_time = self.clock.now()
        st.tick_p99_ms = round(self.tick_latency.percentile_ms(99), 3)
        st.strategy_p99_ms = round(self.strategy_latency.percentile_ms(99), 3)
        trader = self.trader
        if trader is not None:
            st.show_account(
                trader.engine.portfolio,
                equity=trader.equity(),
                start_equity=trader.start_equity,
                last_price=trader.broker.last_price,
            )
        try:
            write_status(self.settings.live_status_file, st)
        except OSError as exc:
            log.warning("cannot write the live status file: %s", exc)


def run_engine(
    settings: Settings,
    config: LiveConfig,
    clock: LiveClock,
    stop: threading.Event,
    until: int,
) -> None:
    """Run one day's live paper trading until market time ``until`` (or ``stop``)."""
    LiveEngine(settings, config, clock=clock).run(stop, until)
