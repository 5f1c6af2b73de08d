"""The simulated broker and exchange behind the order endpoints (:class:`Exchange`).

Life of an order:

1. **Request** (``place``): the API layer's checks (:mod:`fyerstrade.sim.oms`); on success the
   order exists in *transit* (status 4), the reply is ``s: ok`` with its id, and the order
   socket says so.
2. **Verdict** (scheduled right after the reply, or ``order_reject_delay`` seconds later): the
   broker's risk checks and the exchange's (see :meth:`Exchange._risk_reason`). A failure
   rejects the order (status 5, reason in ``message``): *after* the acknowledgement, as Fyers
   does. Otherwise it is confirmed (status 6) and enters the book.
3. **Matching** on the simulator's market clock against the synthetic market's trades
   (:mod:`fyerstrade.sim.matching`): at once against the LTP, then against every later print
   (:meth:`Exchange.process`, run every few milliseconds by the server). Fills may be partial.
4. **End**: filled (2), cancelled by the client or an IOC remainder (1), expired at the end of
   its session (7).

Every change is pushed to listeners (the order socket) as the raw message Fyers sends; nothing is
kept for a client that was not listening (the real socket does not replay either).

Order requests (place, modify, cancel; each item of a multi-order) have their own window of
``order_per_second`` (10): a place beyond it is acknowledged and then rejected, a modify or
cancel beyond it is answered 429. Counters of every order request are in :class:`OrderCounters`.

Thread-safety: all methods take the exchange's lock; the server calls them on its event loop
thread, tests read snapshots from theirs.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from fyerstrade.calendar import ist_date
from fyerstrade.sim import orderviews as views
from fyerstrade.sim.account import Account, SimPosition
from fyerstrade.sim.counters import OrderCounters
from fyerstrade.sim.limits import SlidingWindowLimiter
from fyerstrade.sim.marketview import MarketView
from fyerstrade.sim.matching import (
    indian_amount,
    marketable,
    minute_cap,
    mpp_band,
    on_tick,
    protection_price,
    stop_triggered,
    stop_valid,
)
from fyerstrade.sim.oms import (
    CANCELLED,
    EXPIRED,
    FILLED,
    LIMIT,
    MARKET,
    PENDING,
    REJECTED,
    STOP,
    STOP_LIMIT,
    TRANSIT,
    ModifyRequest,
    PlaceRequest,
    Reply,
    SimOrder,
    SimTrade,
    error_reply,
    ok_reply,
)
from fyerstrade.sim.state import SimState
from fyerstrade.sim.ticks import SimTick
from fyerstrade.sim.universe import Kind

Listener = Callable[[str, dict[str, Any]], None]
Scheduler = Callable[[float, Callable[[], None]], None]

LATE_REJECT_REASON = "RED:Block Type:NonSqroff Reason:Block set by the simulator (fault)"
OPS_REASON = (
    "RED:Order rejected: more than {n} order requests in one second "
    "(exchange threshold for unregistered algos)"
)


def _immediate(delay: float, fn: Callable[[], None]) -> None:
    fn()


class Exchange:
    """The simulated client account, its orders and the matching engine."""

    def __init__(
        self,
        state: SimState,
        market_clock: Callable[[], float],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.clock = market_clock
        self.monotonic = monotonic
        self.schedule: Scheduler = _immediate
        self.counters = OrderCounters()
        self.listeners: list[Listener] = []
        self.lock = threading.RLock()
        self.market = MarketView(state)
        self._rate = SlidingWindowLimiter(state.config.order_per_second, 10**9, monotonic)
        self._seq = itertools.count(1)
        self._trade_seq = itertools.count(1)
        self.account = Account(state.config.funds)
        self.orders: dict[str, SimOrder] = {}
        self.trades: list[SimTrade] = []
        self._seen: dict[str, int] = {}  # symbol -> last market second matched

    def use_monotonic(self, monotonic: Callable[[], float]) -> None:
        """Run the order window and the request times on another clock (tests freeze it)."""
        with self.lock:
            self.monotonic = monotonic
            self._rate = SlidingWindowLimiter(self.state.config.order_per_second, 10**9, monotonic)

    @property
    def client_id(self) -> str:
        return self.state.config.fy_id

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ events

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(kind, payload)

    def emit_order(self, o: SimOrder) -> None:
        self._emit("orders", views.order_raw(o, self.client_id))

    def emit_position(self, p: SimPosition) -> None:
        self._emit(
            "positions", views.position_raw(p, self.market.ltp_or(p.inst, p.net_avg, self.now()))
        )

    def set_status(self, o: SimOrder, status: int, message: str = "") -> None:
        o.status = status
        o.updated_ts = self.now()
        if message:
            o.message = message
        o.history.append((o.updated_ts, status))
        self.emit_order(o)

    def _frozen(self, symbol: str) -> bool:
        return symbol in self.state.faults.frozen_symbols

    # ------------------------------------------------------------------ requests

    def admit_order_request(self, kind: str) -> bool:
        """Count an order request; False if it is over the order rate."""
        at = self.monotonic()
        self.counters.order_request(kind, at)
        if self._rate.admit() > 0:
            self.counters.refused_for_rate()
            return False
        return True

    def place(self, req: PlaceRequest, *, over_rate: bool = False, refuse: str = "") -> SimOrder:
        """Create an order in transit and schedule its verdict (the caller answers ``ok``).
        ``refuse``: reject it at once with this reason (the caller answers code -99)."""
        with self.lock:
            now = self.now()
            o = self.new_order(req, now)
            if refuse:
                self.set_status(o, REJECTED, refuse)
                return o
        faults = self.state.faults
        if over_rate:
            reason = OPS_REASON.format(n=self.state.config.order_per_second)
        elif faults.take("order_late_reject"):
            reason = LATE_REJECT_REASON
        else:
            reason = ""
        self.schedule(faults.order_reject_delay, lambda: self._verdict(o.id, reason))
        return o

    def new_order(self, req: PlaceRequest, now: int) -> SimOrder:
        seq = next(self._seq)
        o = SimOrder(
            id=f"{ist_date(now):%y%m%d}{seq:08d}",
            id_fyers=str(uuid.uuid4()),
            inst=req.inst,
            side=req.side,
            qty=req.qty,
            type=req.type,
            product=req.product,
            validity=req.validity,
            limit=req.limit,
            stop=req.stop,
            disclosed=req.disclosed,
            offline=req.offline,
            tag=req.tag,
            placed_ts=now,
            seq=seq,
            updated_ts=now,
        )
        self.orders[o.id] = o
        o.history.append((now, TRANSIT))
        self.emit_order(o)
        return o

    def _verdict(self, order_id: str, forced: str) -> None:
        with self.lock:
            o = self.orders.get(order_id)
            if o is None or o.status != TRANSIT:
                return  # cancelled while in transit
            now = self.now()
            reason = forced or self._risk_reason(o, now)
            if reason:
                self.set_status(o, REJECTED, reason)
                return
            o.exch_id = f"11{o.seq:014d}"
            o.expires_ts = self.market.next_session_close(now)
            self.set_status(o, PENDING, "Confirmed")
            if self.market.session_bounds(now) is not None:
                self.arrive(o, now)
            if o.validity == "IOC" and o.is_open:
                self.set_status(o, CANCELLED, "IOC order cancelled: not filled in full at once")

    def _risk_reason(self, o: SimOrder, now: int) -> str:
        """Why the broker or the exchange refuses ``o`` now ("" if it does not)."""
        inst = o.inst
        if inst.kind is Kind.INDEX:
            return "RED:Index symbols cannot be traded"
        lot = max(inst.lot, 1)
        if o.qty % lot:
            return f"RED:Quantity {o.qty} is not a multiple of the lot size {lot}"
        for name, price in (("LimitPrice", o.limit), ("StopPrice", o.stop)):
            if price and not on_tick(price, inst.tick):
                return f"{name} not a multiple of tick size {inst.tick:.4f}"
        if (o.product == "MARGIN") == (inst.kind is Kind.EQUITY) and o.product != "INTRADAY":
            return f"RED:Product {o.product} is not allowed for {inst.symbol}"
        is_open = self.market.session_bounds(now) is not None
        if o.offline and is_open:
            return "RED:After-market orders are accepted only outside market hours"
        if o.offline and o.validity == "IOC":
            return "RED:IOC orders cannot be placed after market hours"
        if not o.offline and not is_open:
            return "RED:Market is closed. Place an after-market order (offlineOrder) instead"
        low, high = self.market.band(inst, now)
        for name, price in (("Limit price", o.limit), ("Trigger price", o.stop)):
            if price and not low <= price <= high:
                return (
                    f"RED:{name} {price:.2f} is outside the day's price band {low:.2f} - {high:.2f}"
                )
        last = self.market.ltp(inst, now)
        stop_type = o.type in (STOP, STOP_LIMIT)
        if stop_type and last is not None and not stop_valid(o.side, o.stop, last.price):
            where = "above" if o.side > 0 else "below"
            return (
                f"RED:Trigger price {o.stop:.2f} must be {where} the last traded price "
                f"{last.price:.2f}"
            )
        price = o.limit or o.stop or (last.price if last is not None else 0.0)
        if not price:
            price = self.market.reference_close(inst, ist_date(now))
        need = self.account.order_margin(
            inst, o.product, o.side, o.qty, price, self._pending_signed(o)
        )
        available = self.available()
        if need > available + 1e-6:
            return (
                f"RED:Margin Shortfall:INR {indian_amount(need - available)} "
                f"Available:INR {indian_amount(max(available, 0.0))} "
                f"for C-{self.client_id} [FYERS_RISK_CUG]"
            )
        return ""

    def _pending_signed(self, exclude: SimOrder) -> int:
        return sum(
            o.side * o.remaining
            for o in self.orders.values()
            if o is not exclude
            and o.status == PENDING
            and o.inst.symbol == exclude.inst.symbol
            and o.product == exclude.product
        )

    def _blocked_by_orders(self) -> float:
        blocked = 0.0
        pending: dict[tuple[str, str], int] = {}
        for o in self.orders.values():
            if o.status != PENDING:
                continue
            key = (o.inst.symbol, o.product)
            price = o.working or o.limit or o.stop or self.market.ltp_or(o.inst, 0.0, self.now())
            blocked += self.account.order_margin(
                o.inst, o.product, o.side, o.remaining, price, pending.get(key, 0)
            )
            pending[key] = pending.get(key, 0) + o.side * o.remaining
        return blocked

    def _unrealized(self) -> float:
        now = self.now()
        return self.account.unrealized(lambda i: self.market.ltp_or(i, 0.0, now))

    def available(self) -> float:
        return self.account.available(self._blocked_by_orders(), self._unrealized())

    # ------------------------------------------------------------------ matching

    def _protect(self, o: SimOrder, reference: float, at: int) -> float:
        """The limit a market order (or a triggered SL-M) becomes around ``reference``."""
        band = mpp_band(o.inst.kind, reference)
        return protection_price(o.side, reference, band, o.inst.tick, self.market.band(o.inst, at))

    def arrive(self, o: SimOrder, now: int) -> None:
        """``o`` enters the book at ``now``: it trades against the LTP if marketable there."""
        self._seen.setdefault(o.inst.symbol, now)
        last = self.market.ltp(o.inst, now)
        if last is not None:
            self._enter(o, last, now, match=not self._frozen(o.inst.symbol))
            return
        # no print yet today: protect a market order around the previous close, trade later
        reference = self.market.reference_close(o.inst, ist_date(now))
        self._enter(o, SimTick(now, reference, 0, 0) if reference > 0 else None, now, match=False)

    def _enter(self, o: SimOrder, last: SimTick | None, at: int, *, match: bool) -> None:
        o.arrived = at
        if o.type == LIMIT:
            o.working = o.limit
        elif o.type == MARKET and last is not None:
            o.working = self._protect(o, last.price, at)
        if match and last is not None:
            self._take(o, last.price, at)

    def _take(self, o: SimOrder, price: float, at: int) -> None:
        """``o`` meets a print at ``price`` as the incoming order: it gets that price."""
        if o.type in (STOP, STOP_LIMIT) and not o.triggered:
            if not stop_triggered(o.side, o.stop, price):
                return
            self._trigger(o, price, at)
        if marketable(o.side, o.working, price):
            self._fill(o, price, at)

    def _trigger(self, o: SimOrder, price: float, at: int) -> None:
        o.triggered = True
        o.working = self._protect(o, price, at) if o.type == STOP else o.limit

    def _rest(self, o: SimOrder, print_: SimTick) -> None:
        """A print reaches ``o``, which was already in the book: it gets its own price (a stop
        triggered by the print is the incoming order and gets the print's)."""
        if o.arrived is None:  # an after-market order: the session's first print is its arrival
            self._enter(o, print_, print_.ts, match=True)
        elif o.type in (STOP, STOP_LIMIT) and not o.triggered:
            self._take(o, print_.price, print_.ts)
        elif marketable(o.side, o.working, print_.price):
            self._fill(o, o.working, print_.ts)

    def _fill(self, o: SimOrder, price: float, ts: int) -> None:
        minute = ts - ts % 60
        if o.minute != minute:
            o.minute, o.minute_filled = minute, 0
        participation = self.state.config.participation
        cap = minute_cap(self.market.minute_volume(o.inst, ts), participation, o.inst.lot)
        qty = min(o.remaining, cap - o.minute_filled)
        if qty <= 0:
            return
        o.minute_filled += qty
        o.avg = (o.avg * o.filled + price * qty) / (o.filled + qty)
        o.filled += qty
        trade = SimTrade(
            number=f"5{next(self._trade_seq):09d}",
            order_id=o.id,
            exch_order_id=o.exch_id or "",
            inst=o.inst,
            side=o.side,
            qty=qty,
            price=price,
            ts=ts,
            product=o.product,
            order_type=o.type,
            tag=o.tag,
        )
        self.trades.append(trade)
        position = self.account.position(o.inst, o.product)
        position.apply(o.side, qty, price)
        self._emit("trades", views.trade_raw(trade, self.client_id))
        if o.remaining == 0:
            self.set_status(o, FILLED, "TRADE CONFIRMED")
        else:
            o.updated_ts = self.now()
            self.emit_order(o)
        self.emit_position(position)

    def process(self) -> None:
        """Match resting orders against the prints up to the market clock; expire orders whose
        session has closed. The server calls this every few milliseconds."""
        with self.lock:
            now = self.now()
            by_symbol: dict[str, list[SimOrder]] = {}
            for o in self.orders.values():
                if o.status == PENDING:
                    by_symbol.setdefault(o.inst.symbol, []).append(o)
            for symbol in [s for s in self._seen if s not in by_symbol]:
                del self._seen[symbol]
            for symbol, orders in by_symbol.items():
                since = self._seen.get(symbol)
                if since is None:
                    since = min(o.arrived if o.arrived is not None else o.placed_ts for o in orders)
                if now <= since:
                    continue
                self._seen[symbol] = now
                if self._frozen(symbol):
                    continue
                for print_ in self.market.ticks(orders[0].inst, since, now):
                    for o in orders:
                        if o.status != PENDING:
                            continue
                        if o.arrived is not None and o.arrived >= print_.ts:
                            continue
                        self._rest(o, print_)
            for o in self.orders.values():
                if o.status == PENDING and o.expires_ts and now >= o.expires_ts:
                    self.set_status(o, EXPIRED, "Order expired at the end of the session")

    # ------------------------------------------------------------------ modify, cancel

    def modify(self, req: ModifyRequest) -> Reply:
        with self.lock:
            o = self.orders.get(req.id)
            if o is None:
                return error_reply(-51, "Invalid order id")
            if o.status == TRANSIT:
                return error_reply(-163, "Modification failed: the order is not confirmed yet")
            if o.status != PENDING:
                return self._terminalerror_reply(o)
            new_type = req.type if req.type is not None else o.type
            qty = req.qty if req.qty is not None else o.qty
            limit = req.limit if req.limit is not None else o.limit
            stop = req.stop if req.stop is not None else o.stop
            if new_type in (MARKET, STOP):
                limit = 0.0
            if new_type in (LIMIT, MARKET):
                stop = 0.0
            problem = self._modify_problem(o, new_type, qty, limit, stop)
            if problem:
                return error_reply(-50, problem)
            o.type, o.qty, o.limit, o.stop = new_type, qty, limit, stop
            o.triggered = False
            now = self.now()
            self.set_status(o, PENDING, "Modified")
            if self.market.session_bounds(now) is not None and not self._frozen(o.inst.symbol):
                self.arrive(o, now)
            else:
                o.working = o.limit
            return ok_reply(1102, "Successfully modified order", id=o.id)

    def _modify_problem(self, o: SimOrder, type_: int, qty: int, limit: float, stop: float) -> str:
        inst = o.inst
        if qty <= o.filled:
            return f"Invalid qty: {o.filled} are already filled"
        if qty % max(inst.lot, 1):
            return f"Invalid qty: not a multiple of the lot size {inst.lot}"
        if type_ in (LIMIT, STOP_LIMIT) and limit <= 0:
            return "Invalid limitPrice: a limit order needs a limit price"
        if type_ in (STOP, STOP_LIMIT) and stop <= 0:
            return "Invalid stopPrice: a stop order needs a trigger price"
        for name, price in (("LimitPrice", limit), ("StopPrice", stop)):
            if price and not on_tick(price, inst.tick):
                return f"{name} not a multiple of tick size {inst.tick:.4f}"
        low, high = self.market.band(inst, self.now())
        for name, price in (("limitPrice", limit), ("stopPrice", stop)):
            if price and not low <= price <= high:
                return f"Invalid {name}: outside the day's price band {low:.2f} - {high:.2f}"
        return ""

    @staticmethod
    def _terminalerror_reply(o: SimOrder) -> Reply:
        if o.status == FILLED:
            return error_reply(-162, "Order is already traded")
        if o.status == REJECTED:
            return error_reply(-164, "Order is already rejected")
        return error_reply(-161, "Order is already cancelled")

    def cancel(self, order_id: str) -> Reply:
        with self.lock:
            o = self.orders.get(order_id)
            if o is None:
                return error_reply(-51, "Invalid order id")
            if not o.is_open:
                return self._terminalerror_reply(o)
            self.set_status(o, CANCELLED, "Cancelled by the client")
            return ok_reply(1103, "Successfully cancelled order", id=o.id)

    # ------------------------------------------------------------------ positions

    # ------------------------------------------------------------------ reads

    def order_rows(self, order_id: str | None = None, tag: str | None = None) -> list[Any]:
        with self.lock:
            return [
                views.order_row(o, self.client_id)
                for o in self.orders.values()
                if (order_id is None or o.id == order_id) and (tag is None or o.tag == tag)
            ]

    def trade_rows(self, tag: str | None = None) -> list[Any]:
        with self.lock:
            return [
                views.trade_row(t, self.client_id)
                for t in self.trades
                if tag is None or t.tag == tag
            ]

    def position_rows(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                views.position_row(p, self.market.ltp_or(p.inst, p.net_avg, self.now()))
                for p in self.account.positions.values()
                if p.buy_qty or p.sell_qty
            ]

    def fund_rows(self) -> list[dict[str, Any]]:
        with self.lock:
            used = self.account.position_margin() + self._blocked_by_orders()
            return views.fund_rows(self.account, used, self._unrealized())

    def net_positions(self) -> dict[str, int]:
        """``{position id: net quantity}`` of the open positions (for tests)."""
        with self.lock:
            return {p.id: p.net_qty for p in self.account.open_positions()}

    def open_orders(self) -> list[SimOrder]:
        with self.lock:
            return [o for o in self.orders.values() if o.is_open]

    def snapshot(self) -> dict[str, Any]:
        """Orders, trades, positions and counters (``GET /_sim/orders``)."""
        return {
            "orders": self.order_rows(),
            "trades": self.trade_rows(),
            "positions": self.position_rows(),
            "counters": self.counters.snapshot(),
        }

    def reset(self) -> None:
        """Forget orders, trades, positions and counters (a new day's empty account)."""
        with self.lock:
            self.orders.clear()
            self.trades.clear()
            self.account = Account(self.state.config.funds)
            self._seen.clear()
            self.use_monotonic(time.monotonic)
        self.counters.reset()


_exchanges: weakref.WeakKeyDictionary[SimState, Exchange] = weakref.WeakKeyDictionary()
_exchanges_lock = threading.Lock()


def exchange_for(state: SimState) -> Exchange:
    """The exchange of a simulator state (created on first use, on the data socket's market
    clock so that orders trade against the ticks the data socket streams)."""
    from fyerstrade.sim.datasocket import hub_for

    with _exchanges_lock:
        ex = _exchanges.get(state)
        if ex is None:
            ex = _exchanges[state] = Exchange(state, lambda: hub_for(state).clock.now())
        return ex
