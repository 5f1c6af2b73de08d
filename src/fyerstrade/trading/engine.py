"""TradingEngine: the one trading core. bar → strategy → risk checks → broker → fill →
portfolio → journal.

Everything that differs between a backtest and live trading is injected: the clock (simulated
or wall), the bar source (it advances each symbol's cursor and the clock, then calls
:meth:`TradingEngine.step`), the broker (simulated fills, paper fills, Fyers), the cost model and
the journal. The engine itself has no notion of "live".

Life of a timestamp (:meth:`step`; :meth:`replay` makes the same calls for one symbol's bars,
skipping those with nothing to do):

1. a new IST day starts the day's loss count (when a daily-loss limit is set);
2. for each symbol with a new bar ``i`` (:meth:`_bar_opens`): the intraday square-off at the open
   of ``i`` if it is the day's square-off bar; the broker matches its book against bar ``i``
   (fills → portfolio → journal → ``strategy.on_fill``); higher-resolution bars move on;
3. ``strategy.on_data(ctx)`` once for the timestamp (orders it places are eligible from bar
   ``i + 1``); for a strategy that declares ``wake_on``, only when that indicator is non-zero
   at the bar of an updated symbol (``ctx.updated`` then lists those symbols);
4. the intraday square-off at the close of ``i`` when the day has no bar at/after the
   square-off time;
5. with a daily-loss limit: the account marked to the closes; at the limit the session guard
   halts (every order cancelled, every position closed by a market order, no entry today).

The session rules (entry window, square-off, risk limits) are the
:class:`~fyerstrade.trading.guard.SessionGuard`'s; the engine asks it and acts.

Life of an order: ``ctx.buy`` → :meth:`TradingEngine.place` (quantity and product defaults,
tick rounding, :class:`~fyerstrade.trading.orders.OrderRules` checks; a refusal here is a
``Rejection``, never an order the broker saw) → journal (the order, before it is sent) →
``broker.submit`` → the broker reports events (``trading/events.py``: accepted, partially
filled, filled, cancelled, rejected, …) and :meth:`TradingEngine.apply` books exactly those:
the order's state (``trading/order_states.py``; an impossible move stops the run), charges from
the cost model for a fill → ``Portfolio.apply`` → journal (fill, closed round trips) →
``strategy.on_fill``.

Every exit is an order: the square-off, a risk exit, a manual stop and the end of the data
``quote`` the price the market stands at to the broker and submit a reduce-only market order,
which the simulated venue fills there (a real broker: wherever the exchange fills it).

A strategy exception anywhere becomes a :class:`~fyerstrade.errors.StrategyError` naming the
strategy, the symbol and the bar (IST), and the run stops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fyerstrade.calendar import to_ist
from fyerstrade.domain import (
    Bar,
    Fill,
    Order,
    OrderStatus,
    ProductType,
    Side,
    round_to_tick,
)
from fyerstrade.errors import InputError, OrderStateError, StrategyError, StrategyInterrupted
from fyerstrade.strategies.base import Strategy, wake_indicator
from fyerstrade.strategies.location import error_location
from fyerstrade.trading.bars import Cursor, LookAheadError, items
from fyerstrade.trading.broker import Broker
from fyerstrade.trading.clock import Clock, SimulatedClock
from fyerstrade.trading.context import Context
from fyerstrade.trading.costs import CostModel, ZeroCostModel
from fyerstrade.trading.enum_members import (
    BUY,
    FILLED,
    INTRADAY,
    LIMIT,
    MARKET,
    PARTIALLY_FILLED,
    PENDING,
    REJECTED,
    SELL,
    STOP,
    STOP_LIMIT,
    SUBMITTED,
)
from fyerstrade.trading.events import (
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
)
from fyerstrade.trading.guard import SessionGuard
from fyerstrade.trading.journal import Journal, LogLine, Rejection
from fyerstrade.trading.order_states import (
    EVENT_STATUS,
    OPEN,
    TRANSITIONS,
    check_transition,
    next_status,
)
from fyerstrade.trading.orders import OrderRules, opening_quantity
from fyerstrade.trading.portfolio import Portfolio
from fyerstrade.trading.symbols import SymbolState

_FILLS = (OrderFilled, OrderPartiallyFilled)

# sizing by capital keeps this headroom for a gap to the next open and for charges
SIZING_HEADROOM = 0.01


class TradingEngine:
    """Routes bars, orders and fills between the strategy and the injected parts."""

    def __init__(
        self,
        strategy: Strategy,
        states: Sequence[SymbolState],
        *,
        clock: Clock,
        broker: Broker,
        portfolio: Portfolio,
        rules: OrderRules,
        costs: CostModel,
        journal: Journal,
        default_product: Callable[[SymbolState], ProductType],
        fixed_quantity: int | None = None,
        guard: SessionGuard | None = None,
    ) -> None:
        self.strategy = strategy
        self.states = list(states)
        self.by_symbol = {s.symbol: s for s in self.states}
        self.clock = clock
        self.broker = broker
        self.portfolio = portfolio
        self.rules = rules
        self.costs = costs.for_run()  # per-run state (the DP charge) starts empty
        self.journal = journal
        self.default_product = default_product
        self.fixed_quantity = fixed_quantity
        self.guard = guard or SessionGuard()
        self._watch_loss = self.guard.watches_loss
        self.orders: dict[str, Order] = {}
        self.step_index = -1
        self._replaying: Cursor | None = None  # a replay's cursor: its bar i is the step index
        # (step, cash after, symbol index, quantity after) for every fill: the equity curve is
        # rebuilt from these and the closes after the run, without per-bar bookkeeping
        self.fill_events: list[tuple[int, float, int, int]] = []
        self._order_seq = 0
        self._focus: SymbolState | None = None
        self._has_on_fill = type(strategy).on_fill is not Strategy.on_fill
        self._wake = wake_indicator(type(strategy))
        self._zero_costs = isinstance(costs, ZeroCostModel)
        self.ctx = Context(self)
        broker.bind(self, self)

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Compute indicators, then ``init`` and ``on_start``."""
        for st in self.states:
            self._focus = st
            try:
                values = self.strategy.indicators(st.arrays)
                st.set_indicators(values)
            except KeyboardInterrupt as exc:
                raise self._interrupted(exc, st, "indicators") from None
            except Exception as exc:
                raise self._strategy_error(exc, st, "indicators") from exc
            if self._wake is not None and self._wake not in st.indicator_views:
                name = self.strategy.name or type(self.strategy).__name__
                raise StrategyError(
                    f"strategy {name} declares wake_on={self._wake!r} but its indicators() "
                    f"gives no {self._wake!r} for {st.symbol}: add it, or drop wake_on"
                )
        self._focus = self.states[0] if self.states else None
        self._guard(self.strategy.init, "init")
        self._guard(self.strategy.on_start, "on_start")
        if self._watch_loss:
            self.guard.begin(self.equity())

    def step(self, updated: Sequence[SymbolState], names: tuple[str, ...]) -> None:
        """Process one timestamp: ``updated`` symbols have a new bar at their cursor, and the
        clock stands at that bar's close (see the module docstring)."""
        self.step_index += 1
        if self._watch_loss:
            self._timestamp_opens()
        for st in updated:
            i = st.cursor.i
            if st.orders or st.higher or (st.sq_open and i in st.sq_open):
                self._bar_opens(st, i)
        wake = self._wake
        if wake is not None:  # the strategy acts only where its wake indicator is non-zero
            due = [st for st in updated if st.indicator_views[wake].last != 0.0]
            if due:
                self._on_data(due, tuple(st.symbol for st in due))
        else:
            self._on_data(updated, names)
        for st in updated:
            if st.sq_close and st.cursor.i in st.sq_close:
                self._square_off(st, st.cursor.i, at_close=True)
        if self._watch_loss:
            self._timestamp_closes()

    def _on_data(self, updated: Sequence[SymbolState], names: tuple[str, ...]) -> None:
        ctx = self.ctx
        ctx.updated = names
        self._focus = updated[0]
        try:
            self.strategy.on_data(ctx)
        except StrategyError:
            raise
        except KeyboardInterrupt as exc:
            raise self._interrupted(exc, self._focus, "on_data") from None
        except Exception as exc:
            raise self._strategy_error(exc, self._focus, "on_data") from exc

    def _bar_opens(self, st: SymbolState, i: int) -> None:
        """Bar ``i`` of ``st`` has traded, before the strategy sees it: the square-off at its
        open (the day's square-off bar), the broker's book matched against it, the
        higher-resolution bars moved on."""
        if st.sq_open and i in st.sq_open:
            self._square_off(st, i, at_close=False)
        if st.orders:
            self.broker.on_bar(st, i)
        if st.higher:
            now = self.clock.now()
            for hb in st.higher.values():
                hb.update(now)

    def _timestamp_opens(self) -> None:
        """A new IST day: the day's loss counts from the previous close (and a halt ends)."""
        self.guard.new_day(self.clock.now())

    def _timestamp_closes(self) -> None:
        """The account at the closes against the daily-loss limit; at the limit, halt."""
        if self.guard.check_loss(self.equity()):
            self.halt(self.guard.halted)

    def on_bars(self, bars: Sequence[Bar], close_ts: int) -> None:
        """Entry point of a live bar source: ``bars`` (one per symbol) closed at ``close_ts``.

        Each bar is appended to its symbol, the strategy's indicators are recomputed over the
        bars so far (only closed bars exist, so nothing can look ahead), the first bar at or
        after the square-off time is marked, and the timestamp is processed by :meth:`step`.
        The clock is the source's (a wall clock live). A square-off for a day whose bars stop
        before the square-off time is the live scheduler's job (it has the wall clock).

        At the square-off instant (``close_ts`` at or after the square-off time, the next bar
        of a symbol its day's square-off bar) the order is the backtest's: the strategy
        decides on the bar that closes then, and the square-off at the next bar's open comes
        before anything trades, so the orders it placed never trade. A live source trades
        between the two (a real broker is sent what was decided as soon as the engine returns),
        so the square-off's cancels (:meth:`_square_off_cancels`) are made here, right after
        the strategy; the position closes at the square-off's own price, the first tick at or
        after the square-off time (``square_off``), as the backtest closes it at that open."""
        updated: list[SymbolState] = []
        guard = self.guard
        for bar in bars:
            st = self.state(bar.symbol)
            i = st.append_bar(bar, close_ts)
            self._recompute_indicators(st)
            st.cursor.i = i
            if guard.intraday:
                prev = int(st.arrays.ts[i - 1]) if i else None
                st.sq_open = frozenset({i}) if guard.first_late_bar(prev, bar.ts) else frozenset()
            updated.append(st)
        self.step(updated, tuple(s.symbol for s in updated))
        if guard.intraday:
            for st in self.states:
                if not st.orders:
                    continue
                n = len(st.arrays)
                last = int(st.arrays.ts[n - 1]) if n else None
                if guard.first_late_bar(last, close_ts):
                    self._square_off_cancels(st)  # (the next bar opens with the square-off)

    def correct_bar(self, bar: Bar) -> bool:
        """A live bar source found that a bar it handed on earlier was not the market's (built
        from part of its minute before a feed gap was known): ``bar`` takes its place in the
        symbol's bars and the indicators are recomputed, so every decision from now on sees the
        market's bar. What was decided on the old bar stands (False: no such bar, nothing
        changed)."""
        st = self.state(bar.symbol)
        if not st.replace_bar(bar):
            return False
        self._focus = st
        self._recompute_indicators(st)
        return True

    def _recompute_indicators(self, st: SymbolState) -> None:
        """The strategy's indicators over the symbol's bars as they are now (live: after a bar
        was added or corrected); its errors contained like any of its code's."""
        try:
            st.set_indicators(self.strategy.indicators(st.arrays))
        except KeyboardInterrupt as exc:
            raise self._interrupted(exc, st, "indicators") from None
        except Exception as exc:
            raise self._strategy_error(exc, st, "indicators") from exc

    def replay(self, state: SymbolState, clock: SimulatedClock, start: int, stop: int) -> None:
        """Steps over bars ``start..stop-1`` of a one-symbol run: the calls :meth:`step` makes
        (:meth:`_bar_opens`, the strategy, the square-off at the close, the guard), skipping
        those with nothing to do. This loop is the backtest's hot path: no allocation per bar."""
        if stop <= start:
            return
        cursor = state.cursor
        self.ctx.updated = (state.symbol,)
        self._replaying = cursor  # (the step index is the cursor's: no store per bar)
        try:
            if self._wake is None or self._watch_loss:
                # a list of Python ints for this stretch only (reading numpy scalars per bar
                # is slower, a list for the whole run costs memory)
                self._replay(state, clock, state.close_ts[start:stop].tolist(), start)
            else:
                self._replay_due(state, clock, start, stop)
        finally:
            self._replaying = None
            self.step_index = cursor.i

    def _replay(
        self, state: SymbolState, clock: SimulatedClock, close_ts: list[int], start: int
    ) -> None:
        """The loop of :meth:`replay`."""
        cursor = state.cursor
        sq_open = state.sq_open
        sq_close = state.sq_close
        orders = state.orders
        higher = state.higher
        watch = self._watch_loss
        on_data = self.strategy.on_data
        ctx = self.ctx
        for i, now in enumerate(close_ts, start):
            cursor.i = i
            clock.ts = now
            if watch:
                self._timestamp_opens()
            if orders or higher or (sq_open and i in sq_open):
                self._bar_opens(state, i)
            try:
                on_data(ctx)
            except StrategyError:
                raise
            except KeyboardInterrupt as exc:
                raise self._interrupted(exc, state, "on_data") from None
            except Exception as exc:
                raise self._strategy_error(exc, state, "on_data") from exc
            if sq_close and i in sq_close:
                self._square_off(state, i, at_close=True)
            if watch:
                self._timestamp_closes()

    def _replay_due(self, state: SymbolState, clock: SimulatedClock, start: int, stop: int) -> None:
        """:meth:`_replay` for a strategy that declares ``wake_on``: it visits only the bars
        where something can happen (the wake indicator is non-zero, a square-off falls, or
        orders work) and makes there the calls :meth:`_replay` makes. On the bars it passes
        over, those calls do nothing: no order to match, no square-off, and an ``on_data``
        that the strategy declared idle. (A daily-loss limit looks at every close: such runs
        take :meth:`_replay`.) The cursor and the clock end at the last bar, as there."""
        name = self._wake
        assert name is not None
        close_ts = items(state.close_ts)  # (no list: the loop reads a few bars of the stretch)
        wake = state.indicator_arrays[name]
        due = wake[start:stop] != 0.0  # (NaN is non-zero, as for the live step)
        sq_open = state.sq_open
        sq_close = state.sq_close
        for marks in (sq_open, sq_close):
            for j in marks:
                if start <= j < stop:
                    due[j - start] = True
        acts = items(wake)  # the wake value of a bar
        cursor = state.cursor
        orders = state.orders
        higher = state.higher
        bar_opens = self._bar_opens
        # a bar between due bars is never a square-off bar: with no higher-resolution bars to
        # move on, its _bar_opens is the broker's matching alone
        match = self.broker.on_bar
        one = (state,)
        names = self.ctx.updated
        i = start  # the first bar not yet visited
        # (the end of the stretch closes the gap after the last due bar)
        for k in [*np.flatnonzero(due).tolist(), stop - start]:
            j = start + k
            while orders and i < j:  # working orders are matched bar by bar until done
                cursor.i = i
                clock.ts = close_ts[i]
                if higher:
                    bar_opens(state, i)
                else:
                    match(state, i)
                i += 1
            if j == stop:
                break
            cursor.i = j
            clock.ts = close_ts[j]
            if orders or higher or (sq_open and j in sq_open):
                bar_opens(state, j)
            if acts[j] != 0.0:
                self._on_data(one, names)
            if sq_close and j in sq_close:
                self._square_off(state, j, at_close=True)
            i = j + 1
        cursor.i = stop - 1
        clock.ts = close_ts[stop - 1]

    def finish(self, close_positions: bool = True) -> None:
        """End of data: optionally close every open position at its last close
        (``end_of_data``), then ``on_stop``."""
        if close_positions:
            for st in self.states:
                i = st.cursor.i
                qty = self.portfolio.quantity(st.symbol)
                if qty and i >= 0:
                    self._cancel_all(st)
                    at, ts = st.close_at(i), st.close_ts_at(i)
                    self._exit(st, qty, at, ts, "end_of_data", slippage=False)
        self._guard(self.strategy.on_stop, "on_stop")

    # ---- orders ---------------------------------------------------------------------------
    def place(
        self,
        symbol: str,
        side: Side,
        quantity: int | None,
        limit: float | None = None,
        stop: float | None = None,
        product: ProductType | None = None,
        tag: str = "",
        reduce_only: bool = False,
    ) -> Order:
        """Check an order and hand it to the broker; a refused order comes back REJECTED
        (with ``reject_reason``) and is recorded in the journal."""
        st = self.by_symbol.get(symbol)
        if st is None:
            st = self.state(symbol)  # raises, naming the run's symbols
        self._focus = st
        now = self.clock.now()
        held = self.portfolio.positions.get(symbol)
        pos = 0 if held is None else held.quantity
        if product is None:
            product = held.product if pos and held is not None else self.default_product(st)
        instrument = st.instrument if st.lookup is None else st.instrument_at(now)
        if quantity is None:
            quantity = self.size(symbol, product)
        if limit is None:
            kind = MARKET if stop is None else STOP
        else:
            kind = LIMIT if stop is None else STOP_LIMIT
        tick = instrument.tick_size
        self._order_seq += 1
        order = Order(
            f"O{self._order_seq}",  # (positional: a keyword call is slower on this hot path)
            symbol,
            side,
            int(quantity),
            kind,
            product,
            None if limit is None else round_to_tick(limit, tick),
            None if stop is None else round_to_tick(stop, tick),
            now,
            tag=tag,
            reduce_only=reduce_only,
        )
        self.orders[order.id] = order
        reason = self.rules.static_reason(order, instrument, pos, now)
        opening = opening_quantity(pos, side, order.quantity)
        if reason is None and opening:
            limits = not reduce_only
            reason = self.guard.entry_reason(symbol, now, self._exposed, limits=limits)
            if reason is None and limits:
                ref = order.limit_price or order.stop_price or self._last_price(st)
                reason = self.rules.funds_reason(opening, ref, product, self.free_margin())
        if reason is not None:
            check_transition(order, REJECTED, "refused before the broker")
            order.status = REJECTED
            order.reject_reason = reason
            self._record_rejection(order, reason, now)
            return order
        self._submit(st, order)
        return order

    def cancel(self, order: Order | str) -> bool:
        """Ask the broker to cancel an open order; False when it is no longer open. (The
        simulated venue answers at once; a real broker's ``OrderCancelled`` — or a fill that
        came first — arrives as an event.)"""
        o = self.orders.get(order) if isinstance(order, str) else order
        if o is None or o.status not in OPEN:
            return False
        self.broker.cancel(o.id)
        return True

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that may still fill, oldest first (per symbol in the run's order)."""
        states = self.states if symbol is None else [self.state(symbol)]
        return [o for st in states for o in st.orders]

    def size(self, symbol: str, product: ProductType) -> int:
        """The entry quantity when a strategy gives none: the fixed quantity of the run, or
        as many lots as the free margin buys at the last close (with headroom)."""
        if self.fixed_quantity is not None:
            return self.fixed_quantity
        st = self.state(symbol)
        price = self._last_price(st)
        lot = max(1, st.instrument_at(self.clock.now()).lot_size)
        if price <= 0:
            return 0
        budget = self.free_margin() * self.rules.leverage(product)
        lots = math.floor(budget / (price * (1 + SIZING_HEADROOM)) / lot)
        return max(0, lots * lot)

    def halt(self, reason: str) -> None:
        """Stop trading for the day (the guard's daily-loss limit): every open order cancelled,
        every position closed with a market order (tag ``risk``) — at the next bar's open in a
        backtest, at the next tick live."""
        now = self.clock.now()
        self.log(f"{reason}: cancelling every order, closing every position", "WARNING")
        for st in self.states:
            self._cancel_all(st)
        for st in self.states:
            qty = self.unclosed(st.symbol)
            if qty:
                self._exit(st, qty, 0.0, now, "risk", at_market=True)

    def square_off(
        self,
        symbol: str,
        price: float,
        ts: int,
        tag: str = "square_off",
        *,
        keep_exits: bool = False,
    ) -> int:
        """Close ``symbol``'s position now at market ``price`` (plus slippage) and cancel its
        working orders: a live source calls this at the first tick at or after the square-off
        time (the backtest does the same at the open of that bar) and for a risk halt. Returns
        the signed quantity it sent to close (0: none; what exits already on their way to the
        broker close is not closed twice, see :meth:`unclosed`). ``keep_exits``: market exits
        already working are left to fill (the kill switch: they close what it would close)."""
        st = self.state(symbol)
        for o in list(st.orders):
            if not (keep_exits and o.reduce_only and o.order_type is MARKET):
                self.cancel(o)
        qty = self.unclosed(symbol)
        if qty:
            self._exit(st, qty, price, ts, tag)
        return qty

    def skip_order_id(self) -> None:
        """Use up the next order id without an order."""
        self._order_seq += 1

    def unclosed(self, symbol: str) -> int:
        """``symbol``'s position (signed) less what its working market exits will close.

        A market exit (reduce-only) is filled where it is sent by the simulated venues, but a
        real broker answers a moment later: until then the position still shows, and a second
        exit for it — the strategy's close and the square-off in the same second, the
        square-off asked again at the next look at the clock — would sell it twice and open
        the opposite position at the broker. Cancels asked for first count once they are
        answered: a simulated venue's at once, so there nothing is deducted."""
        held = self.portfolio.positions.get(symbol)
        qty = 0 if held is None else held.quantity
        return self._after_market_orders(symbol, qty, exits_only=True) if qty else qty

    def expected(self, symbol: str) -> int:
        """``symbol``'s position (signed) once its working market orders fill: the filled
        position plus what they buy, less what they sell (see :meth:`unclosed`; here entries
        count too). Limit and stop orders are not counted: they may never fill."""
        held = self.portfolio.positions.get(symbol)
        qty = 0 if held is None else held.quantity
        return self._after_market_orders(symbol, qty, exits_only=False)

    def _after_market_orders(self, symbol: str, qty: int, *, exits_only: bool) -> int:
        for o in self.by_symbol[symbol].orders:
            if o.order_type is MARKET and (o.reduce_only or not exits_only):
                qty += o.remaining if o.side is BUY else -o.remaining
        return qty

    def _exposed(self) -> set[str]:
        """Symbols holding a position or a working entry order (for the risk gate)."""
        out = {s for s, p in self.portfolio.positions.items() if p.quantity}
        for st in self.states:
            if any(not o.reduce_only for o in st.orders):
                out.add(st.symbol)
        return out

    # ---- events (reported by the broker) -------------------------------------------------
    def apply(self, event: OrderEvent) -> None:
        """Book what the broker reports about an order (see ``trading/events.py``): the order's
        new state (OrderStateError when it cannot take it), and for a fill the charges, the
        portfolio, the journal and ``strategy.on_fill``."""
        order = self.orders.get(event.order_id)
        if order is None:
            raise OrderStateError(
                f"the broker reported {type(event).__name__} for order {event.order_id}, "
                "which this engine never placed: trading stops"
            )
        kind = type(event)
        status = EVENT_STATUS[kind]
        if status not in TRANSITIONS[order.status]:
            check_transition(order, status, kind.__name__)  # raises, naming the move
        order.updated_ts = event.ts
        if event.broker_id:
            order.broker_id = event.broker_id
        if isinstance(event, _FILLS):
            self._fill(order, event, status)
            return
        order.status = status
        if status is PENDING:
            return  # accepted: nothing else to book
        if status not in OPEN:
            self.by_symbol[order.symbol].orders.remove(order)
        if isinstance(event, OrderRejected):
            order.reject_reason = event.reason
            self._record_rejection(order, event.reason, event.ts)
        elif not isinstance(event, OrderAccepted) and event.reason:
            order.reject_reason = event.reason

    def _fill(
        self, order: Order, event: OrderFilled | OrderPartiallyFilled, status: OrderStatus
    ) -> None:
        """Book an execution of ``order`` (``event.quantity`` at ``event.price``)."""
        qty, price, ts = event.quantity, event.price, event.ts
        filled = order.filled_quantity
        left = order.quantity - filled
        if not 0 < qty <= left or (status is PARTIALLY_FILLED and qty == left):
            next_status(order, event)  # raises: an overfill, or a "partial" fill of all left
        state = self.by_symbol[order.symbol]
        if self._zero_costs:
            costs = 0.0
        else:
            # each fill is charged as one executed order (trading/costs.py's convention)
            instrument = state.instrument if state.lookup is None else state.instrument_at(ts)
            costs = self.costs.fill_costs(instrument, order.product, order.side, qty, price, ts)
        fill = Fill(
            order.id, state.symbol, order.side, qty, price, ts, costs, order.product, order.tag
        )
        order.avg_fill_price = (
            price if filled == 0 else (order.avg_fill_price * filled + price * qty) / (filled + qty)
        )
        order.filled_quantity = filled + qty
        order.status = status
        if status is FILLED:
            state.orders.remove(order)
        # booked: portfolio, journal, the equity curve's event; reduce-only orders end when flat
        portfolio = self.portfolio
        journal = self.journal
        if order.reduce_only:
            pos = portfolio.positions.get(state.symbol)
            before = 0 if pos is None else pos.quantity
        trips = portfolio.apply(fill)
        journal.record_fill(fill)
        for rt in trips:
            journal.record_trade(rt)
        held = portfolio.positions[state.symbol].quantity
        step = self.step_index if self._replaying is None else self._replaying.i
        self.fill_events.append((step, portfolio.cash, state.index, held))
        if held == 0 and state.orders:
            for o in list(state.orders):
                if o.reduce_only:
                    self.cancel(o)
        if order.reduce_only and opening_quantity(before, order.side, qty):
            self._close_beyond(state, order, held, ts)
        if self._has_on_fill:
            self._guard(lambda ctx: self.strategy.on_fill(ctx, fill), "on_fill", state)

    # ---- money ----------------------------------------------------------------------------
    def now(self) -> int:
        return self.clock.now()

    def mark_to_market(self) -> None:
        for sym, pos in self.portfolio.positions.items():
            if pos.quantity:
                pos.last_price = self._last_price(self.by_symbol[sym])

    def equity(self) -> float:
        self.mark_to_market()
        return self.portfolio.equity

    def free_margin(self) -> float:
        """Equity minus the margin blocked by open positions (one pass, marks positions)."""
        pf = self.portfolio
        free = pf.cash
        lev = self.rules.leverages
        for symbol, pos in pf.positions.items():
            q = pos.quantity
            if q:
                price = pos.last_price = self._last_price(self.by_symbol[symbol])
                free += q * price - abs(q) * pos.avg_price / lev[pos.product]
        return free

    # ---- internals ------------------------------------------------------------------------
    def _submit(self, st: SymbolState, order: Order) -> None:
        """Record ``order`` (NEW) and send it to the broker (its answers come back as events)."""
        order.status = SUBMITTED
        st.orders.append(order)
        self.journal.record_order(order)
        self.broker.submit(order)

    def _exit(
        self,
        st: SymbolState,
        qty: int,
        price: float,
        ts: int,
        tag: str,
        *,
        slippage: bool = True,
        at_market: bool = False,
    ) -> None:
        """Close the position ``qty`` with a reduce-only market order, the market standing at
        ``price`` at ``ts`` (square-off, a live risk exit, manual stop, end of data), or with
        ``at_market`` where the market trades next (the guard's halt). Exits skip the order
        checks: closing is always allowed, whatever the lot size in force today."""
        pos = self.portfolio.positions[st.symbol]
        self._order_seq += 1
        order = Order(
            f"O{self._order_seq}",
            st.symbol,
            SELL if qty > 0 else BUY,
            abs(qty),
            MARKET,
            pos.product,
            created_ts=ts,
            tag=tag,
            reduce_only=True,
        )
        self.orders[order.id] = order
        if not at_market:
            self.broker.quote(st, price, ts, slippage=slippage)
        self._submit(st, order)

    def _close_beyond(self, st: SymbolState, order: Order, held: int, ts: int) -> None:
        """A reduce-only ``order`` filled beyond the position and opened ``held`` the other way.
        The simulated venues clip a reduce-only fill; Fyers has no reduce-only for equities, so
        there two exits racing each other (a target limit and the close, say) can both fill
        before the second's cancel arrives. The promise was "only reduce": what it opened is
        closed at once with a market order (tag ``risk``), and the log says so."""
        what = f"{'long' if held > 0 else 'short'} {abs(held)}"
        qty = self.unclosed(st.symbol)
        if (qty > 0) != (held > 0):
            qty = 0  # (what it opened is being closed already)
        self.log(
            f"reduce-only order {order.id} ({order.tag or order.side.value}) filled beyond the "
            f"position and left it {what} (the broker has no reduce-only here; its cancel came "
            f"too late): "
            + (f"closing {abs(qty)} with a market order" if qty else "an exit is on its way"),
            "WARNING",
            st.symbol,
        )
        if qty:
            self._exit(st, qty, 0.0, ts, "risk_reduce_only", at_market=True)

    def _square_off_cancels(self, st: SymbolState) -> None:
        """The square-off's first step: ``st``'s working INTRADAY orders are cancelled."""
        for o in list(st.orders):
            if o.product is INTRADAY:
                self.cancel(o)

    def _square_off(self, st: SymbolState, i: int, *, at_close: bool) -> None:
        self._square_off_cancels(st)
        pos = self.portfolio.positions.get(st.symbol)
        if pos is None or pos.quantity == 0 or pos.product is not INTRADAY:
            return
        qty = self.unclosed(st.symbol)
        if not qty:
            return
        if at_close:
            self._exit(st, qty, st.close_at(i), st.close_ts_at(i), "square_off")
        else:
            self._exit(st, qty, st.open_at(i), int(st.arrays.ts[i]), "square_off")

    def _cancel_all(self, st: SymbolState) -> None:
        for o in list(st.orders):
            self.cancel(o)

    def _record_rejection(self, order: Order, reason: str, ts: int) -> None:
        self.journal.record_rejection(
            Rejection(ts, order.symbol, order.side, order.quantity, reason)
        )

    def _last_price(self, st: SymbolState) -> float:
        i = st.cursor.i
        if i >= 0:
            return float(st.arrays.close.item(i))  # (st.close_at, without the call)
        return st.open_at(0) if len(st.arrays) else 0.0

    def state(self, symbol: str) -> SymbolState:
        """The run's state of ``symbol`` (InputError naming the run's symbols when unknown)."""
        st = self.by_symbol.get(symbol)
        if st is None:
            known = ", ".join(self.by_symbol)
            raise InputError(f"symbol {symbol!r} is not part of this run ({known})")
        self._focus = st
        return st

    def log(self, message: str, level: str = "INFO", symbol: str = "") -> None:
        self.journal.record_log(LogLine(self.clock.now(), level.upper(), symbol, message))

    def _guard(
        self, fn: Callable[[Context], Any], where: str, state: SymbolState | None = None
    ) -> None:
        if state is not None:
            self._focus = state
        try:
            fn(self.ctx)
        except StrategyError:
            raise
        except KeyboardInterrupt as exc:
            raise self._interrupted(exc, self._focus, where) from None
        except Exception as exc:
            raise self._strategy_error(exc, self._focus, where) from exc

    def _interrupted(
        self, exc: KeyboardInterrupt, st: SymbolState | None, where: str
    ) -> StrategyInterrupted:
        """Ctrl-C while strategy code ran: where it was (an ``on_data`` that never returns is
        otherwise a silent hang)."""
        if isinstance(exc, StrategyInterrupted):
            return exc
        name = self.strategy.name or type(self.strategy).__name__
        where_in_file = error_location(exc, type(self.strategy))
        at = f", at {where_in_file}" if where_in_file else ""
        return StrategyInterrupted(f"strategy {name} was running {where}{self._at(st)}{at}")

    @staticmethod
    def _at(st: SymbolState | None) -> str:
        """`` on SYMBOL at bar T IST`` for the symbol the strategy is looking at."""
        if st is None:
            return ""
        i = st.cursor.i
        bar = (
            f" at bar {to_ist(int(st.arrays.ts[i])).strftime('%Y-%m-%d %H:%M')} IST"
            if i >= 0
            else ""
        )
        return f" on {st.symbol}{bar}"

    def _strategy_error(
        self, exc: BaseException, st: SymbolState | None, where: str | None
    ) -> StrategyError:
        name = self.strategy.name or type(self.strategy).__name__
        doing = f"strategy {name} failed" + (f" in {where}" if where else "") + self._at(st)
        kind = "look-ahead" if isinstance(exc, LookAheadError) else type(exc).__name__
        where_in_file = error_location(exc, type(self.strategy))
        at = f" at {where_in_file}" if where_in_file else ""
        return StrategyError(f"{doing}: {kind}: {exc}{at}")
