"""The live engine: Fyers ticks → 1-minute bars → the one :class:`TradingEngine`, paper fills,
everything recorded. One thread (the caller of :meth:`LiveEngine.run`) owns every database
connection; the SDK's socket thread only puts ticks on the feed's queue.

Time is injected (:class:`~fyerstrade.live.clock.Clocks`): the market clock says what time it is
on the exchange, the monotonic clock paces flushes and measures silence. Nothing the engine
decides depends on how fast the machine runs: bars close on the ticks' exchange time, and only
a market that has been silent for a market minute *and* two monotonic seconds closes its bars
on the clock.

Life of a tick (:meth:`LiveEngine._on_tick`)::

    feed queue → live_ticks batch (one connection, flushed every 50 ms and before any trade)
               → BarBuilder (may close the symbol's previous minute)
               → held until the strategy has decided on the previous minute (every symbol's bar
                 of it closed and dispatched), then traded:
               → square-off at the first tick at/after the square-off time (intraday)
               → PaperBroker.on_tick (fills by the backtest's fill rules) → journal commit

Life of a bar: closed 1-minute bars wait until every symbol's bar of that minute is closed (a
later tick, or the exchange time of other symbols' ticks past the minute plus a grace), so the
strategy sees one timestamp at a time with all its symbols, exactly as the backtest groups bars
by close time, and decides at that close time (the clock of its ``Context``). Then:
``live_bars`` → Resampler (when the strategy trades 5-minute, … bars) →
``TradingEngine.on_bars`` (indicators, square-off marks, ``on_data``) → orders (recorded in
``live_orders``) → the paper broker → equity point, risk check. A tick of the next minute that
arrived meanwhile is traded only now: a fill never comes before the decision it follows, however
the symbols' ticks interleave.

Gaps: after a reconnect the feed reports a :class:`~fyerstrade.fyers.feed.Gap`; the forming bars
are dropped, the missed minutes come from the history API (and are matched by the bar rules),
and the first minute after the gap, seen only in part, is replaced by its history bar when it
closes. No bar is lost or counted twice.

Crash recovery (:meth:`LiveEngine._replay`): the day's ticks are stored as they arrive, and what
the engine did between ticks on its own (a bar closed on the clock, a gap, the clock's
square-off) is stored as a mark at its place in the tick stream (``live_marks``). A restart on
the same day (after a crash or ``kill -9``) rebuilds the engine from the segment's starting
account and warm-up and replays the stored ticks and marks in their order, with the bars the
live run used, so every decision is taken on exactly what the live run saw. The journal checks
the replay against what was recorded: an order or fill recorded before the crash is never
written again, and one that differs stops the engine with the difference named
(:class:`~fyerstrade.live.journal.RecoveryError`). The minutes missed while down are then
backfilled like any gap. A clean stop closes the segment; a later start the same day begins a
new segment from the stored account.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import queue
import sqlite3
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from fyerstrade.calendar import IST_OFFSET, get_calendar, ist_date, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings
from fyerstrade.domain import (
    DAY_SECONDS,
    Bar,
    Instrument,
    Position,
    ProductType,
    Resolution,
    Tick,
)
from fyerstrade.errors import (
    AuthError,
    CalendarCoverageError,
    EngineError,
    FyersTradeError,
    UnknownSymbolError,
)
from fyerstrade.fyers.client import FyersClient
from fyerstrade.fyers.feed import Backfilled, Feed, FeedStatus, Gap, backfill
from fyerstrade.fyers.tokens import load_valid_token
from fyerstrade.live.bars import BarBuilder, Resampler
from fyerstrade.live.clock import LiveClock, Monotonic, Wall
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.journal import LiveJournal
from fyerstrade.live.latency import LatencyWindow
from fyerstrade.live.paper import PaperBroker
from fyerstrade.live.session_store import Mark, SessionRow, SessionStore
from fyerstrade.live.status import EngineStatus, write_status
from fyerstrade.store.checkpoint import WalCheckpointer
from fyerstrade.store.ticks import LiveTickRow, tick_row
from fyerstrade.strategies.registry import get_strategy
from fyerstrade.trading.clock import SimulatedClock
from fyerstrade.trading.costs import CostModel, FyersCostModel, ZeroCostModel
from fyerstrade.trading.engine import TradingEngine
from fyerstrade.trading.fills import Slippage
from fyerstrade.trading.orders import OrderRules
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.risk import RiskGate
from fyerstrade.trading.session import SessionRules
from fyerstrade.trading.symbols import SymbolState

__all__ = ["LiveEngine", "run_engine"]

log = logging.getLogger(__name__)

TICK_FLUSH_SECONDS = 0.05  # monotonic seconds between live_ticks batches (small ones: see _loop)
TICK_FLUSH_ROWS = 20_000
HOUSEKEEPING_SECONDS = 0.2  # monotonic seconds between clock checks (quiet symbols' bars)
STATUS_SECONDS = 1.0
BAR_GRACE_SECONDS = 2
QUIET_MARKET_SECONDS = 60  # market seconds without any tick after which bars close anyway
QUIET_WALL_SECONDS = 2.0  # ... provided no tick arrived for this many monotonic seconds either
CLOSE_LAG_WALL_SECONDS = 0.5  # other symbols' exchange time closes a bar only this much later
HISTORY_RETRIES = 4  # a just-finished minute may reach the history API a moment late
GIL_SWITCH_SECONDS = 0.0005
LIVE_WAIT_SECONDS = 30.0  # monotonic seconds to wait for the first connection before saying so

FeedFactory = Callable[[Settings, str, Sequence[str], LiveClock], Feed]
BarRow = tuple[str, int, float, float, float, float, int, str]


def _default_feed(settings: Settings, token: str, symbols: Sequence[str], clock: LiveClock) -> Feed:
    return Feed(settings, token, symbols, clock=clock.now_float)


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
        feed_factory: FeedFactory = _default_feed,
    ) -> None:
        self.settings = settings
        self.config = config.validated(settings)
        self.clock = clock
        self._mono = monotonic
        self._wall = wall
        self.symbols = list(self.config.symbols)
        self.resolution = Resolution(self.config.resolution)
        self._token = access_token
        self._feed_factory = feed_factory
        self.status = EngineStatus(
            state="starting",
            pid=os.getpid(),
            started_at=wall(),
            strategy=self.config.strategy,
            symbols=self.symbols,
        )
        self.feed: Feed | None = None
        self.engine: TradingEngine | None = None
        self.ticks_persisted = 0
        self.bars_built = 0
        self.tick_latency = LatencyWindow()  # receipt → processed, every tick
        self.strategy_latency = LatencyWindow()  # receipt of a minute's last tick → strategy
        self._trigger_ns = 0  # receipt time of the tick being processed (0: none)
        self._tick_rows: list[LiveTickRow] = []
        self._bar_rows: list[BarRow] = []
        self._marks: list[tuple[object, ...]] = []  # live_marks rows not yet written
        self._mark_seq = 0
        self._segment = ""  # "<day>#<segment>": the key of this segment's marks
        self._n_ticks = 0  # ticks of the segment handled so far (marks are placed by it)
        self._effects = 0  # counts what the engine changed (bars closed, dispatches, exits)
        self._pending: dict[int, list[tuple[Bar, str]]] = defaultdict(list)
        self._held: deque[Tick] = deque()  # ticks waiting for the previous minute's decision
        self._last_minute: dict[str, int] = {}
        self._observed_from: dict[str, int] = {}
        self._gap_from: int | None = None
        self._squared: set[str] = set()
        self._last_flush = 0.0
        self._last_status = 0.0
        self._replaying = False
        self._stored: dict[tuple[str, int], tuple[Bar, str]] = {}  # while replaying
        self._startup_gap = False  # the next gap is the one before the session's first tick
        self._replayed_gap = False  # a replay went through a gap (so past the first tick)
        self._live_at = 0
        self._last_session_tick = 0  # exchange time of the last in-session tick
        self._last_tick_mono = 0.0
        self._seen_ticks = -1  # ticks handled at the last look at the clock
        self._quiet_clock = 0  # market time since which no tick arrived
        self._dispatched_through = 0  # the last minute handed to the strategy
        self._matched: set[tuple[str, int]] = set()  # pending history minutes already matched
        self._trade_end = 0  # ticks from here on are stored, not traded (the run's end)
        self._exchange_marks: deque[tuple[float, int]] = deque()  # (monotonic, last tick ts)
        self._client: FyersClient | None = None
        self._live: sqlite3.Connection | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._trading: sqlite3.Connection | None = None
        self.store: SessionStore | None = None

    # ------------------------------------------------------------------ public

    def run(self, stop: threading.Event, until: int) -> None:
        """Trade until market time ``until`` or until ``stop`` is set."""
        # The SDK's socket thread parses while this thread trades; a 0.5 ms GIL switch interval
        # (instead of 5) cuts the time a tick waits for this thread three-fold (`make bench`).
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, GIL_SWITCH_SECONDS))
        try:
            self._setup(until)
            # what setup built (warm-up arrays, instruments, the calendar) lives all day: out of
            # the collector's sight, its full passes stay short, not a pause of several ms
            gc.freeze()
            self._loop(stop, until)
            self._drain(until if not stop.is_set() else 0)
            self._finish(stopped=stop.is_set(), until=until)
        except AuthError as exc:
            self._set_state("auth_failed", str(exc))
            raise
        except FyersTradeError as exc:
            self._set_state("error", str(exc))
            raise
        except Exception as exc:
            log.exception("live engine failed")
            self._set_state("error", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            gc.unfreeze()
            self._close()
            sys.setswitchinterval(switch)

    # ------------------------------------------------------------------ setup

    def _setup(self, until: int) -> None:
        from fyerstrade.store.db import open_historical, open_live, open_trading

        settings, cfg = self.settings, self.config
        now = self.clock.now()
        self.day = ist_date(now)
        try:
            session = get_calendar().session(self.day)
        except CalendarCoverageError as exc:
            raise EngineError(str(exc)) from None
        if session is None:
            raise EngineError(f"NSE has no trading session on {self.day}; nothing to trade")
        self.session = session
        self._trade_end = min(until, session.close_ts)
        self.session_id = self.day.isoformat()
        self.status.session_id = self.session_id
        self._sq_ts = ist_epoch(self.day, cfg.square_off) if cfg.mode == "intraday" else None
        if self._token is None:
            record = load_valid_token(settings)
            self._token = f"{record.app_id}:{record.access_token}"
        app_id, _, jwt = self._token.partition(":")
        self._client = FyersClient(settings, app_id=app_id, access_token=jwt)
        self._live = open_live(settings)
        self._checkpointer = WalCheckpointer(settings.live_db, self._live)
        self._checkpointer.start()
        self._trading = open_trading(settings)
        self.store = SessionStore(self._live, self._trading)
        hist = open_historical(settings)
        try:
            instruments = self._instruments(hist)
            warm = self._warmup_bars(hist)
        finally:
            hist.close()
        row = self._session_row(now)
        self._segment = f"{self.session_id}#{row.segment}"
        self._set_state("warming_up", "")
        self.journal = LiveJournal(self._trading, self._segment, self.config.strategy)
        portfolio = Portfolio(row.start_cash)
        for p in row.positions:
            sym = str(p["symbol"])
            portfolio.positions[sym] = Position(
                sym,
                quantity=int(str(p["quantity"])),
                avg_price=float(str(p["avg_price"])),
                product=ProductType(str(p["product"])),
                opened_ts=int(str(p.get("opened_ts") or 0)),
                last_price=float(str(p["avg_price"])),
            )
        # a segment that starts after the open: the session's earlier minutes are warm-up (no
        # trading), not trades we pretend we made; a resumed segment rebuilds the same warm-up
        started = row.replay_from
        if started > session.open_ts + 60:
            self._append_today_history(warm, session.open_ts, started)
        states: list[SymbolState] = []
        calendar = get_calendar()
        for k, sym in enumerate(self.symbols):
            arrays = warm[sym]
            close_ts = _close_times(calendar, arrays.ts, self.resolution)
            st = SymbolState(k, sym, arrays, self.resolution, instruments[sym], close_ts)
            st.cursor.i = len(arrays) - 1
            states.append(st)
        strategy = get_strategy(cfg.strategy, settings)(**cfg.params)
        costs: CostModel = FyersCostModel() if cfg.costs else ZeroCostModel()
        self.broker = PaperBroker(
            Slippage(cfg.slippage_ticks, cfg.slippage_bps), on_submit=self.journal.record_order
        )
        self.sim_clock = SimulatedClock(started)
        self.risk = RiskGate(
            max_daily_loss=cfg.risk.max_daily_loss, max_open_positions=cfg.risk.max_open_positions
        )
        mode = cfg.mode

        def default_product(st: SymbolState) -> ProductType:
            if mode == "intraday":
                return ProductType.INTRADAY
            return ProductType.MARGIN if st.instrument.is_derivative else ProductType.CNC

        self.engine = TradingEngine(
            strategy,
            states,
            clock=self.sim_clock,
            broker=self.broker,
            portfolio=portfolio,
            rules=OrderRules(
                SessionRules(mode, cfg.entry_start, cfg.entry_end, cfg.square_off),
                cfg.intraday_leverage,
            ),
            costs=costs,
            journal=self.journal,
            default_product=default_product,
            fixed_quantity=cfg.quantity,
            risk=self.risk,
        )
        self.engine.start()
        self.builder = BarBuilder(grace_seconds=BAR_GRACE_SECONDS)
        self.resampler = (
            Resampler(self.resolution, grace_seconds=BAR_GRACE_SECONDS)
            if self.resolution is not Resolution.M1
            else None
        )
        self.start_equity = self.engine.equity()
        self.risk.new_day(self.start_equity)
        self.journal.engine_log(
            now,
            f"session {self.journal.session_id}: {cfg.strategy} on {', '.join(self.symbols)} "
            f"({self.resolution.value}-minute, {mode}); cash ₹{portfolio.cash:,.2f}"
            + (", resuming after a restart" if row.resume else ""),
        )
        if row.resume:
            self._replay(now)
        else:
            self._mark("start", self.store.last_tick_id())
            self._flush_live()
            # whatever the market does between now and the first tick is backfilled
            self._gap_from = now
            self._startup_gap = True
        self._commit(now)

    def _instruments(self, hist: sqlite3.Connection) -> dict[str, Instrument]:
        from fyerstrade.store.candles import candle_timestamps
        from fyerstrade.store.symbols import get_instrument

        out: dict[str, Instrument] = {}
        for sym in self.symbols:
            ins = get_instrument(hist, sym, self.day)
            if ins is None:
                if not len(candle_timestamps(hist, sym, Resolution.M1)):
                    raise UnknownSymbolError(
                        f"unknown symbol {sym!r}: not in the symbol master; check the spelling "
                        "(e.g. NSE:SBIN-EQ) or run `fyerstrade data symbols`"
                    )
                ins = Instrument(sym)
            out[sym] = ins
        return out

    def _warmup_bars(self, hist: sqlite3.Connection) -> dict[str, CandleArrays]:
        """The last ``warmup_bars`` stored bars of the strategy's resolution before today."""
        from fyerstrade.store.candles import load_candles

        n = self.config.warmup_bars
        hi = ist_epoch(self.day) - 1
        per_day = max(1, 375 * 60 // self.resolution.seconds)
        lo = hi - (math.ceil(n / per_day) * 2 + 7) * DAY_SECONDS
        out: dict[str, CandleArrays] = {}
        for sym in self.symbols:
            arrays = load_candles(hist, sym, self.resolution, lo, hi) if n else CandleArrays.empty()
            if n:
                arrays = self._with_earlier_live_days(sym, arrays, lo, hi)
            if len(arrays) > n:
                arrays = arrays.slice(len(arrays) - n, len(arrays))
            if len(arrays) < n:
                log.warning(
                    "%s: only %d of %d warm-up bars stored; fetch more with `fyerstrade data "
                    "fetch --symbol %s --resolution %s`",
                    sym,
                    len(arrays),
                    n,
                    sym,
                    self.resolution.value,
                )
            out[sym] = arrays
        return out

    def _with_earlier_live_days(
        self, symbol: str, stored: CandleArrays, lo: int, hi: int
    ) -> CandleArrays:
        """``stored`` plus the bars the engine built on earlier days the history store lacks
        (a positional strategy traded yesterday live, and nobody fetched its candles since)."""
        assert self._live is not None
        rows = self._live.execute(
            "SELECT ts, open, high, low, close, volume FROM live_bars"
            " WHERE symbol = ? AND ts BETWEEN ? AND ? ORDER BY ts",
            (symbol, lo, hi),
        ).fetchall()
        have_days = {int(d) for d in (stored.ts + IST_OFFSET) // DAY_SECONDS}
        bars = [
            Bar(symbol, Resolution.M1, ts, o, h, low, c, v)
            for ts, o, h, low, c, v in rows
            if (ts + IST_OFFSET) // DAY_SECONDS not in have_days
        ]
        if not bars:
            return stored
        if self.resolution is not Resolution.M1:
            resampler = Resampler(self.resolution)
            bars = resampler.on_bars(bars) + resampler.flush()
        merged = _concat(stored, bars)
        order = np.argsort(merged.ts, kind="stable")
        log.info("%s: warm-up includes %d bar(s) built live on earlier days", symbol, len(bars))
        return CandleArrays(*(getattr(merged, f)[order] for f in _FIELDS))

    def _append_today_history(self, warm: dict[str, CandleArrays], open_ts: int, now: int) -> None:
        """A late start: today's complete minutes so far join the warm-up."""
        assert self._client is not None
        last = now - now % 60 - 60
        if last < open_ts:
            return
        for sym in self.symbols:
            bars = [
                Bar(sym, Resolution.M1, ts, o, h, lo, c, v)
                for ts, o, h, lo, c, v in self._client.history(sym, Resolution.M1, open_ts, last)
                if open_ts <= ts <= last
            ]
            for b in bars:
                self._bar_rows.append(
                    (sym, b.ts, b.open, b.high, b.low, b.close, b.volume, "history")
                )
                self._last_minute[sym] = b.ts
            if self.resolution is not Resolution.M1:
                rs = Resampler(self.resolution)
                bars = rs.on_bars(bars) + [
                    b for b in rs.flush() if b.ts + self.resolution.seconds <= now
                ]
            if not bars:
                continue

    def _session_row(self, now: int) -> SessionRow:
        """Today's segment: resume a crashed one, or open a new one from the stored account."""
        store = self.store
        assert store is not None
        config_json = json.dumps(self.config.to_yaml_dict(), sort_keys=True)
        found = store.session_row(self.session_id)
        if found is not None:
            row, status, stored_config = found
            if status == "running" and stored_config == config_json:
                if any(m.kind == "start" for m in store.marks(f"{self.session_id}#{row.segment}")):
                    return row
                log.warning(
                    "the crashed segment %s#%d has no record of where its ticks begin (an "
                    "older fyerstrade ran it): starting a new segment",
                    self.session_id,
                    row.segment,
                )
            elif status == "running":
                log.warning("the live config changed since the last start: starting a new segment")
        segment = found[0].segment + 1 if found is not None else 1
        account = store.stored_account(
            self.config.capital, self.symbols, ProductType.INTRADAY.value
        )
        for sym, qty, product in account.dropped:
            log.warning(
                "dropping a stale paper position %s %d (%s) from an earlier session",
                sym,
                qty,
                product,
            )
        store.open_segment(
            self.session_id,
            segment,
            strategy=self.config.strategy,
            config_json=config_json,
            account=account,
            now=now,
        )
        return SessionRow(segment, now, account.cash, account.positions, False)

    # ------------------------------------------------------------------ recovery

    def _replay(self, now: int) -> None:
        """Replay this segment's stored ticks and marks in their order, with the bars the live
        run used (see the module docstring); the journal checks every order and fill."""
        store = self.store
        assert store is not None and self.engine is not None
        marks = store.marks(self._segment)
        start = next(m for m in marks if m.kind == "start")
        marks = [m for m in marks if m.kind != "start"]
        self._mark_seq = max((m.seq for m in marks), default=start.seq)
        open_ts = self.session.open_ts
        self._stored = {
            (b.symbol, b.ts): (b, src)
            for b, src in store.bars_between(self.symbols, open_ts, self.session.close_ts)
        }
        self._replaying = self.journal.replaying = True
        k = 0
        try:
            for t in store.ticks_after(start.a, self.symbols):
                while k < len(marks) and marks[k].at_tick <= self._n_ticks:
                    self._apply_mark(marks[k])
                    k += 1
                self._on_tick(t, persist=False)
            for m in marks[k:]:
                self._apply_mark(m)
        finally:
            self._replaying = self.journal.replaying = False
            self._stored = {}
        if self._replayed_gap:
            # the live run saw the session's first tick: what is missed since its last one is
            # a gap like any other
            self._gap_from = self._last_session_tick
        else:
            self._gap_from = now
            self._startup_gap = True
        held = sum(1 for p in self.engine.portfolio.positions.values() if p.quantity)
        last = self._last_session_tick
        self.journal.engine_log(
            self.sim_clock.now(),
            f"replayed {self._n_ticks:,} stored ticks"
            + (f" up to {_hhmmss(last)} IST" if last else "")
            + f"; {held} open position(s) restored",
        )

    def _apply_mark(self, m: Mark) -> None:
        if m.kind == "gap":
            self._replayed_gap = True
            self._apply_gap(Gap(m.a, m.b), m.c)
        elif m.kind == "clock":
            self._on_clock(m.a, m.b)
        else:
            raise EngineError(f"unknown mark {m.kind!r} in {self._segment}: upgrade fyerstrade")

    def _mark(self, kind: str, a: int = 0, b: int = 0, c: int = 0) -> None:
        """Store an event of the engine's own at its place in the tick stream (not while
        replaying: the replay applies the stored ones)."""
        if self._replaying:
            return
        self._mark_seq += 1
        self._marks.append((self._segment, self._mark_seq, self._n_ticks, kind, a, b, c))

    # ------------------------------------------------------------------ loop

    def _loop(self, stop: threading.Event, until: int) -> None:
        assert self._token is not None
        feed = self.feed = self._feed_factory(self.settings, self._token, self.symbols, self.clock)
        feed.start()
        waited = self._mono()
        while not feed.wait_live(0.2):
            if feed.status is FeedStatus.AUTH_FAILED or not feed.running:
                raise feed.error or AuthError("the data socket refused the token")
            if stop.is_set() or self.clock.now() >= until:
                return
            if self._mono() - waited > LIVE_WAIT_SECONDS:
                self._set_state("reconnecting", "waiting for the Fyers data socket")
        now = self._live_at = self.clock.now()
        for sym in self.symbols:
            self._observed_from.setdefault(sym, now)
        self._set_state("running", "")
        ticks = feed.ticks
        next_house = 0.0
        while not stop.is_set():
            deadline = self._mono() + HOUSEKEEPING_SECONDS
            try:
                item: Tick | Gap | None = ticks.get(timeout=HOUSEKEEPING_SECONDS)
            except queue.Empty:
                item = None
            while item is not None:
                if isinstance(item, Gap):
                    self._on_gap(item)
                else:
                    self._on_tick(item)
                if self._mono() >= deadline:
                    break
                try:
                    item = ticks.get_nowait()
                except queue.Empty:
                    item = None
            mono = self._mono()
            if self._tick_rows and mono - self._last_flush >= TICK_FLUSH_SECONDS:
                self._flush_live()  # small batches often: a long write delays the next tick
            if mono >= next_house:
                next_house = mono + HOUSEKEEPING_SECONDS
                if self._housekeeping(until):
                    return
            if feed.status is FeedStatus.AUTH_FAILED:
                raise feed.error or AuthError("the data socket refused the token")

    def _drain(self, until: int) -> None:
        """Stop the feed and take what it had queued. Ticks before ``until`` (the session's
        end; 0 on a stop) are the session's and traded as usual; the rest are only stored."""
        feed = self.feed
        if feed is None:
            return
        feed.stop()
        stored = 0
        while True:
            try:
                item = feed.ticks.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, Tick):
                if item.end < until:
                    self._on_gap(item)
            elif item.ts < until:
                self._on_tick(item)
            else:
                stored += 1
                self._n_ticks += 1
                self._tick_rows.append(tick_row(item, self._wall()))
                self.status.ticks += 1
        self._flush_live()
        if stored and not until:
            self.journal.engine_log(
                self.sim_clock.now(), f"stopped with {stored:,} ticks queued: stored, not traded"
            )

    def _lagged_exchange_time(self) -> int:
        """The exchange time of the ticks seen :data:`CLOSE_LAG_WALL_SECONDS` ago (0: none).

        Symbols' updates are not strictly ordered across symbols: a burst may carry one
        symbol's tick at 10:01:02 before another's at 10:00:59. Closing a quiet symbol's bar on
        the exchange time seen half a monotonic second earlier lets such stragglers in, at any
        clock speed, while a real-time quiet symbol still closes about 2.5 s after its minute."""
        marks = self._exchange_marks
        mono = self._mono()
        marks.append((mono, self.status.last_tick_ts))
        horizon = mono - CLOSE_LAG_WALL_SECONDS
        while len(marks) > 1 and marks[1][0] <= horizon:
            marks.popleft()
        return marks[0][1] if marks[0][0] <= horizon else 0

    def _quiet(self, now: int) -> bool:
        """No tick for a market minute and for :data:`QUIET_WALL_SECONDS` monotonic seconds:
        both, so that neither a fast simulated clock nor a paused market (or a busy machine
        that delivers late) passes for a quiet one."""
        mono = self._mono()
        if self._n_ticks != self._seen_ticks:
            self._seen_ticks = self._n_ticks
            self._quiet_clock = now
            self._last_tick_mono = mono
        return (
            now - self._quiet_clock >= QUIET_MARKET_SECONDS
            and mono - self._last_tick_mono > QUIET_WALL_SECONDS
        )

    def _housekeeping(self, until: int) -> bool:
        """Close quiet symbols' bars, flush ticks, write the status; True when the day is over."""
        now = self.clock.now()
        quiet = self._quiet(now)
        # Quiet symbols' bars close when the exchange time of other symbols' ticks has passed
        # their minute (plus the grace); a market with no tick at all closes them a minute
        # late. Never while the feed is down, nor after a reconnect before its first tick (the
        # gap comes with it): a stall or a drop is backfilled, not guessed.
        close_clock = 0
        feed = self.feed
        if feed is not None and feed.status is FeedStatus.LIVE and not feed.gap_open:
            close_clock = self._lagged_exchange_time()
            if quiet:
                close_clock = max(close_clock, now - QUIET_MARKET_SECONDS)
        # what the clock does is a mark in the tick stream (dropped when it did nothing)
        effects, marks = self._effects, len(self._marks)
        self._mark("clock", close_clock, now)
        self._on_clock(close_clock, now)
        if self._effects == effects and len(self._marks) == marks + 1:
            self._marks.pop()
            self._mark_seq -= 1
        mono = self._mono()
        if self._tick_rows and mono - self._last_flush >= TICK_FLUSH_SECONDS:
            self._flush_live()
        self._commit(now)
        if mono - self._last_status >= STATUS_SECONDS:
            self._write_status()
        if feed is not None:
            state = self.status.state
            if feed.status is FeedStatus.RECONNECTING and state == "running":
                self._set_state("reconnecting", "the data socket dropped; reconnecting")
            elif feed.status is FeedStatus.LIVE and state == "reconnecting":
                self._set_state("halted" if self.risk.halted else "running", self.risk.halted)
        return self._day_over(now, until, quiet)

    def _on_clock(self, close_clock: int, now: int) -> None:
        """What the clock does between ticks (replayed from its mark after a restart): close
        the bars of minutes that ended before ``close_clock``, dispatch what is complete, and
        square off at ``now`` when the square-off minute passed without a tick."""
        if close_clock:
            for bar in self.builder.on_clock(close_clock):
                self._closed_minute_bar(bar, "ticks")
        self._dispatch_ready(now)
        if self._sq_ts is not None and now >= self._sq_ts + 60:
            self._square_off_all(now, "square_off", only_intraday=True)

    def _day_over(self, now: int, until: int, quiet: bool) -> bool:
        """Market time ``until`` has come, and the ticks of the minutes before it are in: the
        exchange time seen half a monotonic second ago is past it (plus the grace), or the
        market has been quiet (no tick for a market minute and two monotonic seconds)."""
        if now < until:
            return False
        end = min(until, self.session.close_ts)
        return self._lagged_exchange_time() >= end + BAR_GRACE_SECONDS or quiet

    # ------------------------------------------------------------------ ticks

    def _on_tick(self, t: Tick, *, persist: bool = True) -> None:
        st = self._state(t.symbol)
        if st is None:
            return
        self._n_ticks += 1
        if persist:
            self._trigger_ns = t.recv_ns
            self._tick_rows.append(tick_row(t, self._wall()))
            if len(self._tick_rows) >= TICK_FLUSH_ROWS:
                self._flush_live()
        self.status.ticks += 1
        self.status.last_tick_ts = max(self.status.last_tick_ts, t.ts)
        if not self.session.open_ts <= t.ts < self._trade_end:
            # pre-open snapshots, post-close updates, ticks after the run's end: stored only
            self._trigger_ns = 0
            return
        if self._gap_from is not None:
            gap, self._gap_from = Gap(self._gap_from, t.ts), None
            self._on_gap(gap)
        self._last_session_tick = t.ts
        bar = self.builder.update(t.symbol, t.ts, t.ltp, t.volume, t.last_qty)
        if bar is not None:
            self._closed_minute_bar(bar, "ticks")
            self._dispatch_ready(t.ts)
        if self._held or not self._tradeable(t.ts - t.ts % 60):
            self._held.append(t)  # the strategy has not decided on the previous minute yet
        else:
            self._trade(t)
        if self._trigger_ns:
            self.tick_latency.add(time.monotonic_ns() - self._trigger_ns)
            self._trigger_ns = 0

    def _tradeable(self, minute: int) -> bool:
        """Whether every minute before ``minute`` has been handed to the strategy (no bar of
        an earlier minute is forming or waiting for the other symbols')."""
        oldest = self.builder.oldest_forming()
        if self._pending:
            first = min(self._pending)
            oldest = first if oldest is None else min(oldest, first)
        return oldest is None or oldest >= minute

    def _release_held(self) -> None:
        """Trade the held ticks whose previous minute has now been decided, in arrival order."""
        held = self._held
        while held and self._tradeable(held[0].ts - held[0].ts % 60):
            self._trade(held.popleft())

    def _trade(self, t: Tick) -> None:
        """The tick's part in trading: the square-off time, then the paper broker's matching."""
        engine = self.engine
        assert engine is not None
        st = engine.by_symbol[t.symbol]
        if t.ts > self.sim_clock.ts:
            self.sim_clock.ts = t.ts
        if self._sq_ts is not None and t.ts >= self._sq_ts and t.symbol not in self._squared:
            self._squared.add(t.symbol)
            if engine.portfolio.quantity(t.symbol):
                self.journal.engine_log(t.ts, "square-off time: closing", symbol=t.symbol)
            engine.square_off(t.symbol, t.ltp, t.ts)
        minute = t.ts - t.ts % 60
        if minute >= self._observed_from.get(t.symbol, 0):
            # (a minute seen only in part after a gap is matched on its history bar instead)
            self.broker.on_tick(st, t.ltp, t.ts, engine)
        if self.journal.has_pending:
            self._commit(t.ts)

    def _on_gap(self, gap: Gap) -> None:
        """A feed gap: recorded as a mark, then handled (:meth:`_apply_gap`)."""
        seen_from = gap.end + 1  # ticks of the same second may have been missed
        if self._startup_gap:
            # for the gap before the first tick: from the moment the feed went live (before the
            # open: the open)
            self._startup_gap = False
            seen_from = min(gap.end, max(self._live_at, self.session.open_ts))
        self._mark("gap", gap.start, gap.end, seen_from)
        self._apply_gap(gap, seen_from)

    def _apply_gap(self, gap: Gap, seen_from: int) -> None:
        """Drop the incomplete bars and backfill the missed minutes from history (replaying:
        the history bars the live run stored); ticks count again from ``seen_from``."""
        self.builder.restart()
        in_session = seen_from > self.session.open_ts  # else nothing was missed yet
        if self._replaying:
            first, last = gap.missed_minutes()
            bars = [
                bar
                for (_, ts), (bar, src) in self._stored.items()
                if src == "history" and first <= ts <= last
            ]
            got = Backfilled(bars, {})
        elif in_session:
            assert self._client is not None
            got = backfill(self._client, self.symbols, gap)
            if got.bars:
                got.bars.extend(self._late_minutes(got.bars, gap, skip=got.failed))
        else:
            got = Backfilled([], {})
        kept = 0
        for bar in sorted(got.bars, key=lambda b: b.ts):
            if self._closed_minute_bar(bar, "history"):
                kept += 1
        for sym in self.symbols:
            self._observed_from[sym] = seen_from
        self._dispatch_ready(gap.end, before=gap.end - gap.end % 60)
        if in_session and not self._replaying:
            self.journal.engine_log(
                gap.end,
                f"feed gap {_hhmmss(gap.start)}–{_hhmmss(gap.end)} IST: "
                f"{kept} missed 1-minute bar(s) backfilled from history",
                level="WARNING",
            )
        if got.failed:
            first, last = gap.missed_minutes()
            why = "; ".join(f"{sym}: {err}" for sym, err in sorted(got.failed.items())[:3])
            more = f" and {len(got.failed) - 3} more" if len(got.failed) > 3 else ""
            message = (
                f"history failed for {len(got.failed)} symbol(s) after retries: their 1-minute "
                f"bars {_hhmmss(first)}–{_hhmmss(last)} IST stay missing ({why}{more}); "
                "trading goes on with the live bars"
            )
            log.warning("%s", message)
            self.journal.engine_log(gap.end, message, level="WARNING")

    def _late_minutes(self, bars: list[Bar], gap: Gap, skip: Mapping[str, str]) -> list[Bar]:
        """The gap's last minute for the symbols whose history did not have it yet (it had
        only just ended): asked again a few times, half a second apart. Symbols in ``skip``
        (their history failed) are not asked again."""
        assert self._client is not None
        last = gap.missed_minutes()[1]
        have = {b.symbol for b in bars if b.ts == last}
        missing = [s for s in self.symbols if s not in have and s not in skip]
        out: list[Bar] = []
        pause = threading.Event()
        for _ in range(HISTORY_RETRIES):
            if not missing:
                break
            pause.wait(0.5)  # a backoff for the remote API (it decides nothing)
            for sym in list(missing):
                bar = self._history_bar(sym, last)
                if bar is not None:
                    out.append(bar)
                    missing.remove(sym)
        return out

    # ------------------------------------------------------------------ bars

    def _closed_minute_bar(self, bar: Bar, source: str) -> bool:
        """Queue a closed 1-minute bar for dispatch (False: a duplicate, dropped)."""
        sym = bar.symbol
        if bar.ts <= self._last_minute.get(sym, -1):
            return False
        stored = self._stored.get((sym, bar.ts)) if self._replaying else None
        if stored is not None:
            bar, source = stored  # the bar the live run used
        elif source == "ticks" and bar.ts < self._observed_from.get(sym, 0):
            # seen only in part (the feed connected or came back during it): use history's bar
            better = self._history_bar(sym, bar.ts)
            if better is not None:
                bar, source = better, "history"
        self._effects += 1
        self._last_minute[sym] = bar.ts
        self._pending[bar.ts].append((bar, source))
        if source == "history" and bar.ts - 60 <= self._dispatched_through:
            # The strategy has seen every earlier minute, so its orders are all in: match them
            # on this unobserved minute now, before the symbol's next ticks reach the broker
            # (its dispatch may wait for other symbols' bars of the minute).
            self._match_minute(bar)
            self._matched.add((sym, bar.ts))
        if not self._replaying or stored is None:
            row = (sym, bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume, source)
            self._bar_rows.append(row)
        return True

    def _history_bar(self, symbol: str, ts: int) -> Bar | None:
        assert self._client is not None
        try:
            rows = self._client.history(symbol, Resolution.M1, ts, ts)
        except FyersTradeError as exc:
            log.warning("%s: could not fetch the %s bar from history: %s", symbol, _hhmmss(ts), exc)
            return None
        for t, o, h, lo, c, v in rows:
            if t == ts:
                return Bar(symbol, Resolution.M1, t, o, h, lo, c, v)
        return None

    def _dispatch_ready(self, now: int, before: int | None = None) -> None:
        """Dispatch every pending minute no symbol is still forming a bar for."""
        if self._pending:
            forming = self.builder.oldest_forming()
            for minute in sorted(self._pending):
                complete = forming is None or minute < forming
                if before is not None and minute < before:
                    complete = True
                if not complete:
                    break
                self._dispatch(minute, self._pending.pop(minute))
        if self.resampler is not None:
            quiet = self.resampler.on_clock(now)
            if quiet:
                self._effects += 1
                self._dispatch_primary(quiet)
        self._release_held()

    def _dispatch(self, minute: int, items: list[tuple[Bar, str]]) -> None:
        engine = self.engine
        assert engine is not None
        self._effects += 1
        order = {s: k for k, s in enumerate(self.symbols)}
        items.sort(key=lambda it: order.get(it[0].symbol, 0))
        self.bars_built += len(items)
        self.status.bars += len(items)
        for bar, source in items:
            if source != "history":
                continue
            if (bar.symbol, bar.ts) in self._matched:
                self._matched.discard((bar.symbol, bar.ts))
            else:
                self._match_minute(bar)
        self._dispatched_through = minute
        bars = [b for b, _ in items]
        if self.resampler is None:
            self._dispatch_primary(bars)
        else:
            higher = self.resampler.on_bars(bars)
            if higher:
                self._dispatch_primary(higher)
        self._commit(minute + 60)
        # the next minute's ticks that came while the strategy was deciding trade now
        self._release_held()

    def _match_minute(self, bar: Bar) -> None:
        """Match the symbol's working orders on a minute not seen tick by tick."""
        engine = self.engine
        assert engine is not None
        st = engine.by_symbol[bar.symbol]
        self.broker.on_minute_bar(st, (bar.ts, bar.open, bar.high, bar.low, bar.close), engine)

    def _dispatch_primary(self, bars: list[Bar]) -> None:
        """Hand strategy-resolution bars to the engine, one call per timestamp, at the bars'
        close time (the strategy's clock, as in a backtest)."""
        engine = self.engine
        assert engine is not None
        groups: dict[int, list[Bar]] = defaultdict(list)
        for b in bars:
            groups[b.ts].append(b)
        calendar = get_calendar()
        for ts in sorted(groups):
            group = [b for b in groups[ts] if self._appendable(engine, b)]
            if not group:
                continue
            close_ts = int(_close_times(calendar, np.array([ts], np.int64), self.resolution)[0])
            self.sim_clock.ts = close_ts
            if self._trigger_ns:
                self.strategy_latency.add(time.monotonic_ns() - self._trigger_ns)
            engine.on_bars(group, close_ts)
            self.broker.match_pending(engine)
            equity = engine.equity()
            gross = engine.portfolio.gross_exposure
            exposure = gross / equity if equity > 0 else 0.0
            self._commit(close_ts, equity_point=(equity, exposure))
            if self.risk.check_loss(equity):
                self.journal.engine_log(close_ts, self.risk.halted + ": squaring off", "WARNING")
                self._square_off_all(close_ts, "risk", only_intraday=False)
                self._set_state("halted", self.risk.halted)

    @staticmethod
    def _appendable(engine: TradingEngine, bar: Bar) -> bool:
        st = engine.by_symbol[bar.symbol]
        n = len(st.arrays)
        return not n or bar.ts > int(st.arrays.ts[n - 1])

    def _square_off_all(self, ts: int, tag: str, *, only_intraday: bool) -> None:
        engine = self.engine
        assert engine is not None
        for sym, pos in list(engine.portfolio.positions.items()):
            if not pos.quantity or (only_intraday and pos.product is not ProductType.INTRADAY):
                continue
            self._effects += 1
            price = self.broker.last_price(sym)
            if price is None:
                st = engine.by_symbol[sym]
                price = st.close_at(len(st.arrays) - 1) if len(st.arrays) else pos.avg_price
            self.journal.engine_log(ts, f"{tag}: closing {pos.quantity} at {price:.2f}", symbol=sym)
            engine.square_off(sym, price, max(ts, self.sim_clock.ts), tag)
        self._commit(ts)

    # ------------------------------------------------------------------ persistence

    def _flush_live(self, *, bars: bool = False) -> None:
        """The batched ticks, the marks (and, with ``bars``, the closed bars) to the live
        database, in one transaction."""
        store = self.store
        if store is None or self._live is None:
            return
        ticks, self._tick_rows = self._tick_rows, []
        marks, self._marks = self._marks, []
        closed: list[BarRow] = []
        if bars:
            closed, self._bar_rows = self._bar_rows, []
        store.write_live(ticks, closed, marks)
        self.ticks_persisted += len(ticks)
        self._last_flush = self._mono()

    def _commit(self, ts: int, *, equity_point: tuple[float, float] | None = None) -> None:
        """Ticks, marks and bars first, then the trading records that depend on them."""
        if self.engine is None:
            return
        if self.journal.has_pending or equity_point is not None:
            self._flush_live(bars=True)
            new = self.journal.commit(self.engine.portfolio, ts, equity_point=equity_point)
            self.status.trades += new if not self._replaying else 0

    # ------------------------------------------------------------------ end

    def _finish(self, *, stopped: bool, until: int) -> None:
        engine = self.engine
        store = self.store
        if engine is None or store is None:
            return
        now = max(self.clock.now(), self.sim_clock.ts)
        # minutes that ended by the end of the run close now; a minute still running is no bar
        for bar in self.builder.on_clock(until + BAR_GRACE_SECONDS) if not stopped else []:
            self._closed_minute_bar(bar, "ticks")
        if not stopped:
            self._dispatch_ready(now, before=now + 60)
        while self._held:  # every minute is decided: the last ticks trade
            self._trade(self._held.popleft())
        if stopped and self.config.on_stop == "square_off":
            self._square_off_all(now, "manual", only_intraday=False)
        elif self._sq_ts is not None:
            # at the end of the run's trading (not when the engine got round to it)
            self._square_off_all(
                max(self._trade_end, self.sim_clock.ts), "square_off", only_intraday=True
            )
        engine.finish(close_positions=False)
        equity = engine.equity()
        self.journal.engine_log(
            now,
            f"session {'stopped' if stopped else 'closed'}: equity ₹{equity:,.2f} "
            f"(day P&L ₹{equity - self.start_equity:,.2f})",
        )
        self._flush_live(bars=True)
        self.journal.commit(engine.portfolio, now, equity_point=(equity, 0.0))
        store.close_segment(
            self.session_id,
            status="stopped" if stopped else "closed",
            now=now,
            cash=engine.portfolio.cash,
            equity=equity,
        )
        self._set_state("stopped", "stopped by the user" if stopped else "session over")

    def _close(self) -> None:
        if self.feed is not None:
            self.feed.stop()
        for conn in (self._live, self._trading):
            if conn is not None:
                try:
                    if conn is self._live:
                        self._flush_live(bars=True)
                finally:
                    if conn is self._live and self._checkpointer is not None:
                        self._checkpointer.stop()
                    conn.close()
        self._live = self._trading = None
        self.store = None

    # ------------------------------------------------------------------ status

    def _state(self, symbol: str) -> SymbolState | None:
        engine = self.engine
        return None if engine is None else engine.by_symbol.get(symbol)

    def _set_state(self, state: str, message: str) -> None:
        if state != self.status.state:
            log.info("live engine: %s%s", state, f" ({message})" if message else "")
        self.status.state = state
        self.status.message = message
        self._write_status()

    def _write_status(self) -> None:
        st = self.status
        engine = self.engine
        st.updated_at = self._wall()
        st.market_time = self.clock.now()
        st.tick_p99_ms = round(self.tick_latency.percentile_ms(99), 3)
        st.strategy_p99_ms = round(self.strategy_latency.percentile_ms(99), 3)
        if engine is not None:
            equity = engine.equity()
            st.equity, st.cash = equity, engine.portfolio.cash
            st.day_pnl = equity - self.start_equity
            positions = []
            for sym, pos in engine.portfolio.positions.items():
                if not pos.quantity:
                    continue
                last = self.broker.last_price(sym) or pos.last_price
                positions.append(
                    {
                        "symbol": sym,
                        "quantity": pos.quantity,
                        "avg_price": pos.avg_price,
                        "last_price": last,
                        "unrealized_pnl": (last - pos.avg_price) * pos.quantity,
                        "product": str(pos.product),
                    }
                )
            st.positions = positions
        try:
            write_status(self.settings.live_status_file, st)
        except OSError as exc:
            log.warning("cannot write the live status file: %s", exc)
        self._last_status = self._mono()


_FIELDS = ("ts", "open", "high", "low", "close", "volume")


def _concat(arrays: CandleArrays, bars: Sequence[Bar]) -> CandleArrays:
    """``arrays`` followed by ``bars``."""
    extra = CandleArrays.from_rows([(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars])
    return CandleArrays(*(np.concatenate((getattr(arrays, f), getattr(extra, f))) for f in _FIELDS))


def _close_times(calendar: object, ts: np.ndarray, resolution: Resolution) -> np.ndarray:
    from fyerstrade.calendar import NSECalendar

    assert isinstance(calendar, NSECalendar)
    try:
        return calendar.bar_close_times(ts, resolution)
    except CalendarCoverageError:
        return ts.astype(np.int64) + resolution.seconds


def _hhmmss(ts: int) -> str:
    from fyerstrade.calendar import to_ist

    return to_ist(ts).strftime("%H:%M:%S")


def run_engine(
    settings: Settings,
    config: LiveConfig,
    clock: LiveClock,
    stop: threading.Event,
    until: int,
) -> None:
    """Run one day's live paper trading until market time ``until`` (or ``stop``)."""
    LiveEngine(settings, config, clock=clock).run(stop, until)
