"""The trading side of a live session: the one :class:`TradingEngine` with the paper broker,
the journal and the session guard, and what the session asks of them.

* :meth:`LiveTrader.decide`: strategy-resolution bars of one close time → ``on_bars`` at that
  close time (the strategy's clock; the engine's session guard checks the daily loss there, as
  in a backtest, and a breach halts: orders cancelled, positions closed at the next ticks, no
  new entries), the paper broker's pending matches, the equity point;
* :meth:`LiveTrader.trade`: a tick that may trade → the square-off at the first tick at or after
  the square-off time (the guard says when), then the paper broker's matching;
* :meth:`LiveTrader.match_minute`: a 1-minute bar not seen tick by tick (history) → matching by
  the backtest's bar rules;
* :meth:`LiveTrader.square_off_all`: close every (intraday) position at its last price;
* :meth:`LiveTrader.kill`: the kill switch (cancel everything, close everything, halt);
* :meth:`LiveTrader.poll`: with real orders, what Fyers said (events, holds, contradictions);
* :meth:`LiveTrader.commit`: the live records first (ticks, bars, marks), then the journal, and
  only then the orders it recorded go to a real broker;
* :meth:`LiveTrader.end_orders`: the run is over, the orders still working end.

Every event the broker reports passes the journal (:class:`RecordedEvents`:
``live_order_events``) on its way to ``engine.apply``.

:func:`build_trader` assembles it from a live config.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np

from fyerstrade.calendar import get_calendar
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings
from fyerstrade.domain import (
    Bar,
    Instrument,
    OrderType,
    Position,
    ProductType,
    Resolution,
    Tick,
)
from fyerstrade.errors import OrderStateError, ReconciliationError
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.fyers_broker import FyersBroker
from fyerstrade.live.journal import LiveJournal
from fyerstrade.live.latency import LatencyWindow
from fyerstrade.live.paper import PaperBroker
from fyerstrade.live.session_store import SessionRow, SessionStore
from fyerstrade.live.status import EngineStatus
from fyerstrade.live.warmup import close_times
from fyerstrade.live.watchdog import Watchdog
from fyerstrade.strategies.registry import get_strategy
from fyerstrade.trading.assembly import build_engine, slippage
from fyerstrade.trading.clock import SimulatedClock
from fyerstrade.trading.engine import TradingEngine
from fyerstrade.trading.events import OrderEvent
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.symbols import SymbolState

__all__ = ["LiveTrader", "RecordedEvents", "build_trader"]


class RecordedEvents:
    """The engine's event sink with the journal in front: what the broker reports is recorded
    as it came (the broker's word is the record), then booked."""

    def __init__(self, engine: TradingEngine, journal: LiveJournal) -> None:
        self.engine = engine
        self.journal = journal

    def apply(self, event: OrderEvent) -> None:
        self.journal.record_event(event)
        self.engine.apply(event)


HOLD = "an order's outcome is unknown at Fyers"


class LiveTrader:
    """See the module docstring. ``on_halt(message)`` is told when a risk limit stops trading."""

    def __init__(
        self,
        engine: TradingEngine,
        broker: PaperBroker | FyersBroker,
        journal: LiveJournal,
        clock: SimulatedClock,
        store: SessionStore,
        status: EngineStatus,
        *,
        resolution: Resolution,
        on_halt: Callable[[str], None],
        watchdog: Watchdog,
        strategy_latency: LatencyWindow | None = None,
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.journal = journal
        self.guard = engine.guard
        self.risk = engine.guard.risk  # its halt stops entries (a risk limit, the kill switch)
        self.clock = clock
        self.store = store
        self.status = status
        self.resolution = resolution
        self.on_halt = on_halt
        self.changes = 0  # square-offs done (the session's effects counter reads it)
        self.ticks_overdue = 0  # the last traded tick past a square-off time plus a minute
        self.replaying = False
        self.real = broker if isinstance(broker, FyersBroker) else None
        self.untrusted = ""  # why our books cannot be trusted against Fyers' (real orders)
        self.trigger_ns = 0  # receipt time of the tick that completed the minute (0: none)
        # that receipt → the strategy
        self.strategy_latency = strategy_latency or LatencyWindow()
        # a strategy call that does not return stops trading (strategy_seconds)
        self.watchdog = watchdog
        self.start_equity = engine.equity()

    # ------------------------------------------------------------------ the strategy

    def decide(self, bars: Sequence[Bar]) -> None:
        """Hand strategy-resolution bars to the engine, one call per timestamp, at the bars'
        close time (the strategy's clock, as in a backtest)."""
        engine = self.engine
        groups: dict[int, list[Bar]] = defaultdict(list)
        for b in bars:
            groups[b.ts].append(b)
        calendar = get_calendar()
        for ts in sorted(groups):
            group = [b for b in groups[ts] if self._appendable(b)]
            if not group:
                continue
            close_ts = int(close_times(calendar, np.array([ts], np.int64), self.resolution)[0])
            self.clock.ts = close_ts
            if self.trigger_ns:
                self.strategy_latency.add(time.monotonic_ns() - self.trigger_ns)
            before = self.risk.halted
            symbols = [b.symbol for b in group]
            with self.watchdog.watching("on_data", symbols, ts):
                engine.on_bars(group, close_ts)
            with self.watchdog.watching("on_fill", symbols, ts):  # fills call on_fill
                self.broker.match_pending()
            equity = engine.equity()
            gross = engine.portfolio.gross_exposure
            exposure = gross / equity if equity > 0 else 0.0
            halted = self.risk.halted
            if halted and halted != before:  # the guard halted at this close (a risk limit)
                self.journal.engine_log(close_ts, halted + ": squaring off", "WARNING")
                self.on_halt(halted)
            self.commit(close_ts, equity_point=(equity, exposure))

    def correct(self, bar: Bar) -> None:
        """A strategy-resolution bar handed on earlier, replaced by the market's (see
        ``TradingEngine.correct_bar``): decisions from now on see it, the past ones stand."""
        with self.watchdog.watching("indicators", bar.symbol, bar.ts):
            self.engine.correct_bar(bar)

    def _appendable(self, bar: Bar) -> bool:
        st = self.engine.by_symbol[bar.symbol]
        n = len(st.arrays)
        return not n or bar.ts > int(st.arrays.ts[n - 1])

    # ------------------------------------------------------------------ the market

    def trade(self, t: Tick, *, observed: bool) -> None:
        """``t``'s part in trading: the square-off time, then the paper broker's matching
        (``observed``: the tick's minute is seen tick by tick, not taken from history)."""
        engine = self.engine
        if t.ts > self.clock.ts:
            self.clock.ts = t.ts
        if self.guard.square_off_due(t.symbol, t.ts):
            if engine.portfolio.quantity(t.symbol):
                self.journal.engine_log(t.ts, "square-off time: closing", symbol=t.symbol)
            engine.square_off(t.symbol, t.ltp, t.ts)
        if t.ts > self.ticks_overdue and self.guard.square_off_overdue(t.ts):
            # the first tick a minute past the square-off time: the symbols that did not tick
            # since close at their last price, here in the tick stream, not at whichever look
            # at the clock comes first (an engine behind its feed would close them before it
            # traded the square-off minute's ticks); later looks at the clock close what is left
            if self.ticks_overdue < self.guard.square_off_time(t.ts):
                self.square_off_all(t.ts, "square_off", only_intraday=True)
            self.ticks_overdue = t.ts
        if observed:
            with self.watchdog.watching("on_fill", t.symbol, t.ts):  # fills call on_fill
                self.broker.on_tick(engine.by_symbol[t.symbol], t.ltp, t.ts)
        if self.journal.has_pending:
            self.commit(t.ts)

    def match_minute(self, bar: Bar) -> None:
        """Match the symbol's working orders on a minute not seen tick by tick."""
        engine = self.engine
        st = engine.by_symbol[bar.symbol]
        with self.watchdog.watching("on_fill", bar.symbol, bar.ts):  # fills call on_fill
            self.broker.on_minute_bar(st, (bar.ts, bar.open, bar.high, bar.low, bar.close))

    def square_off_all(
        self, ts: int, tag: str, *, only_intraday: bool, keep_exits: bool = False
    ) -> None:
        """Close every open position (``only_intraday``: the INTRADAY ones) at its last price
        (``keep_exits``: market exits already working stay, see ``TradingEngine.square_off``)."""
        engine = self.engine
        for sym, pos in list(engine.portfolio.positions.items()):
            if not pos.quantity or (only_intraday and pos.product is not ProductType.INTRADAY):
                continue
            price = self.broker.last_price(sym)
            if price is None:
                st = engine.by_symbol[sym]
                price = st.close_at(len(st.arrays) - 1) if len(st.arrays) else pos.avg_price
            # (nothing more when its exit is already on its way to the broker)
            sent = engine.square_off(sym, price, max(ts, self.clock.ts), tag, keep_exits=keep_exits)
            if sent:
                self.changes += 1
                self.journal.engine_log(ts, f"{tag}: closing {sent} at {price:.2f}", symbol=sym)
        self.commit(ts)

    def settle(self, ts: int, seconds: float = 30.0) -> bool:
        """With real orders: apply what Fyers says until nothing is on its way and no order is
        working, or ``seconds`` of real time passed (False). Paper: nothing to wait for."""
        real = self.real
        if real is None:
            return True
        deadline = time.monotonic() + seconds
        while True:
            self.poll(ts)
            if self.untrusted or (not real.in_flight and not self.engine.open_orders()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def end_orders(self, ts: int, *, stopped: bool) -> None:
        """The run is over: the orders still working expire (cancelled: ``stopped``)."""
        ended = self.broker.end_orders(ts, stopped=stopped)
        if ended:
            what = (
                "cancelled at Fyers (nothing watches them once the engine is gone)"
                if self.real is not None
                else "cancelled (stopped)"
                if stopped
                else "expired at the session's end"
            )
            self.journal.engine_log(ts, f"{ended} working order(s) {what}")
        self.commit(ts)

    def kill(self, ts: int, reason: str) -> str:
        """The kill switch: cancel every working order (stops included), close every position
        and halt new entries; returns what was done, for the switch's record."""
        engine = self.engine
        # a market exit already working (the daily-loss halt's, a strategy's close) closes what
        # the switch would close: it stays, to fill where it was sent (a cancel and a new exit
        # instead raced it at a real broker, and made a paper halt's exit depend on which came
        # first, the next tick or the runner's next look at the switch)
        working = [
            o
            for o in engine.open_orders()
            if not (o.reduce_only and o.order_type is OrderType.MARKET)
        ]
        for order in working:
            engine.cancel(order)
        held = [s for s, p in engine.portfolio.positions.items() if p.quantity]
        self.risk.halted = f"kill switch: {reason}"
        self.journal.engine_log(ts, f"kill switch ({reason}): cancelling and closing", "WARNING")
        if self.untrusted:
            # our books disagree with Fyers': the broker closes what Fyers shows instead
            self.commit(ts)
            self.changes += 1
            return "our books disagree with Fyers': Fyers' own view is being flattened"
        self.square_off_all(ts, "kill", only_intraday=False, keep_exits=True)
        self.changes += 1
        left = [s for s, p in engine.portfolio.positions.items() if p.quantity]
        done = f"cancelled {len(working)} order(s), closed {len(held)} position(s)"
        closing = [s for s in left if engine.unclosed(s) == 0]
        if closing and len(closing) == len(left):
            return (
                f"{done}; NOT FLAT until the market exits on their way fill: {', '.join(closing)}"
            )
        if engine.open_orders() or left:
            return f"{done}; NOT FLAT: still open {', '.join(left) or 'orders'}"
        return f"{done}; nothing is working or open"

    def keep_flat(self, ts: int) -> None:
        """While the kill switch is on (real orders): a position left by a fill that raced the
        cancels is closed too, once nothing is on its way."""
        real = self.real
        if real is None or self.untrusted or real.in_flight or self.engine.open_orders():
            return
        if any(p.quantity for p in self.engine.portfolio.positions.values()):
            self.square_off_all(ts, "kill", only_intraday=False)

    def poll(self, ts: int) -> None:
        """With real orders: apply what Fyers said; hold entries while an order's outcome is
        unknown; a contradiction halts trading (``on_halt``) and flattens by Fyers' view."""
        real = self.real
        if real is None:
            return
        try:
            real.poll(ts)
        except (ReconciliationError, OrderStateError) as exc:
            if not self.untrusted:
                self.untrusted = str(exc)
                self.journal.engine_log(ts, f"trading stopped: {exc}", "ERROR")
                self.risk.halted = f"reconciliation: {exc}"
                real.flatten()
                self.commit(ts)
                self.on_halt(self.risk.halted)
            return
        if real.held:
            if not self.risk.halted:
                oid, why = next(iter(real.held.items()))
                self.risk.halted = f"{HOLD} ({oid}: {why}): no new entries until it settles"
                self.journal.engine_log(ts, self.risk.halted, "WARNING")
        elif self.risk.halted.startswith(HOLD):
            self.risk.halted = ""
            self.journal.engine_log(ts, "the unknown order settled: entries allowed again")
        self.commit(ts)

    def unlock(self, ts: int) -> None:
        """The kill switch is off again: entries are allowed (a risk limit still breached halts
        them again at the next check)."""
        if self.risk.halted.startswith("kill switch"):
            self.risk.halted = ""
        self.journal.engine_log(ts, "kill switch unlocked: entries allowed again", "WARNING")

    def commit(self, ts: int, *, equity_point: tuple[float, float] | None = None) -> None:
        """Ticks, marks and bars first, then the trading records that depend on them."""
        if self.journal.has_pending or equity_point is not None:
            self.store.flush_live(bars=True)
            new = self.journal.commit(self.engine.portfolio, ts, equity_point=equity_point)
            self.status.trades += new if not self.replaying else 0
        real = self.real
        if real is not None and real.pending:
            real.flush()  # recorded (the transaction above) before sent

    def equity(self) -> float:
        return self.engine.equity()


def build_trader(
    settings: Settings,
    config: LiveConfig,
    *,
    day: date,
    row: SessionRow,
    warm: dict[str, CandleArrays],
    instruments: dict[str, Instrument],
    journal: LiveJournal,
    store: SessionStore,
    status: EngineStatus,
    on_halt: Callable[[str], None],
    strategy_latency: LatencyWindow | None = None,
    real: FyersBroker | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> LiveTrader:
    """The engine (``trading/assembly.py``, as a backtest builds it) with the paper broker (or
    ``real``: the Fyers broker) for ``config``, starting from the segment's account (``row``)
    with ``warm`` as the strategy's warm-up."""
    resolution = Resolution(config.resolution)
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
    calendar = get_calendar()
    states: list[SymbolState] = []
    for k, sym in enumerate(config.symbols):
        arrays = warm[sym]
        closes = close_times(calendar, arrays.ts, resolution)
        st = SymbolState(k, sym, arrays, resolution, instruments[sym], closes)
        st.cursor.i = len(arrays) - 1
        states.append(st)
    cls = get_strategy(config.strategy, settings)
    strategy = cls(**config.params)
    watchdog = Watchdog(
        config.strategy,
        config.strategy_seconds,
        monotonic=monotonic,
        strategy_cls=cls,
        on_stuck=on_halt,
    )
    # (the engine hands every order to the journal before it reaches the broker)
    broker: PaperBroker | FyersBroker = real if real is not None else PaperBroker(slippage(config))
    clock = SimulatedClock(row.replay_from)
    engine = build_engine(
        config, strategy, states, clock=clock, broker=broker, portfolio=portfolio, journal=journal
    )
    broker.bind(RecordedEvents(engine, journal), engine)
    with watchdog.watching("init", config.symbols, 0):
        engine.start()
    return LiveTrader(
        engine,
        broker,
        journal,
        clock,
        store,
        status,
        resolution=resolution,
        on_halt=on_halt,
        watchdog=watchdog,
        strategy_latency=strategy_latency,
    )
