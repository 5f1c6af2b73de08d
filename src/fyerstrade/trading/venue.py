"""The simulated venue: a broker that owns an order book and fills it by the bar fill rules.

It implements the :class:`~fyerstrade.trading.broker.Broker` port for backtests (fed bars by
the engine) and, through :class:`~fyerstrade.live.paper.PaperBroker` (fed ticks), for paper
trading, so paper and backtest fills come from the same rules. Every answer is an event to the
bound sink, reported at once:

* ``submit`` → ``OrderAccepted``; the order waits in the book. A market order submitted right
  after a ``quote`` fills there at once (``OrderFilled``): that is how the square-off, a risk
  exit, a manual stop and the end of the data close at the documented prices.
* ``on_bar(i)`` matches the book against bar ``i`` (market, then stops, then limits; see
  ``trading/fills.py``); an order placed in ``on_fill`` while bar ``i`` is being matched is
  matched against the rest of that bar (a stop or target placed at an entry's fill).
* At the fill, the venue's rules: a reduce-only order is clipped to the position it reduces
  (``OrderFilled`` with less than its quantity) or cancelled when nothing is left to reduce;
  an order that opens exposure needs the free margin at the fill price, or it is rejected
  (``OrderRejected``, "... at the fill").
* ``cancel`` → ``OrderCancelled``.
"""

from __future__ import annotations

from fyerstrade.domain import Order
from fyerstrade.trading.book import WorkingOrder, match_order
from fyerstrade.trading.broker import Account, EventSink
from fyerstrade.trading.enum_members import BUY, MARKET
from fyerstrade.trading.events import (
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    from_fields,
)
from fyerstrade.trading.fills import Slippage, fill_price
from fyerstrade.trading.orders import opening_quantity
from fyerstrade.trading.symbols import SymbolState

__all__ = ["SimulatedVenue"]

_accepted = from_fields(OrderAccepted)  # (order id, ts, broker id)
_filled = from_fields(OrderFilled)  # (order id, ts, quantity, price, broker id, trade id)


class SimulatedVenue:
    """Fills orders inside bars by the rules of :mod:`fyerstrade.trading.fills`."""

    def __init__(self, slippage: Slippage | None = None) -> None:
        self.slippage = slippage or Slippage()
        self._seq = 0
        self._books: dict[str, list[WorkingOrder]] = {}
        self._quotes: dict[str, tuple[float, int, bool]] = {}
        self._matching: str | None = None  # the symbol whose bar is being matched
        self._last_fill_price = 0.0
        self._sink: EventSink | None = None
        self._account: Account | None = None

    # ---- the Broker port --------------------------------------------------------------------
    def bind(self, sink: EventSink, account: Account) -> None:
        self._sink = sink
        self._account = account

    def submit(self, order: Order) -> None:
        sink, account = self._sink, self._account
        assert sink is not None and account is not None, "bind the venue to an engine first"
        symbol = order.symbol
        state = account.by_symbol[symbol]
        self._seq += 1
        order.broker_id = broker_id = f"SIM{self._seq}"
        quote = self._quotes.pop(symbol, None) if self._quotes else None
        sink.apply(_accepted((order.id, order.created_ts, broker_id)))
        w = self._working(state, order, state.cursor.i)
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = []
        book.append(w)
        if quote is not None and order.order_type is MARKET:
            price, ts, slip = quote
            if slip:
                price = self.slippage.apply(price, order.side, state.instrument.tick_size)
            self._fill(state, w, price, ts)

    def cancel(self, order_id: str) -> None:
        sink, account = self._sink, self._account
        assert sink is not None and account is not None
        for book in self._books.values():
            for k, w in enumerate(book):
                if w.order.id == order_id:
                    del book[k]
                    sink.apply(OrderCancelled(order_id, account.now(), w.order.broker_id))
                    return

    def quote(self, state: SymbolState, price: float, ts: int, *, slippage: bool = True) -> None:
        self._quotes[state.symbol] = (price, ts, slippage)

    def on_bar(self, state: SymbolState, i: int) -> None:
        """Match the orders eligible in bar ``i``: market first, then stops, then limits (so a
        stop beats a target in the same bar); orders placed by fills in this bar are matched
        against the same bar after the current pass."""
        book = self._books.get(state.symbol)
        if not book:
            return
        arrays = state.arrays
        open_ = arrays.open.item(i)
        ts = arrays.ts.item(i)
        high = low = open_  # a market fill needs the open only: the range is read when a
        ranged = False  # pass has a stop or a limit
        tick = state.instrument.tick_size
        slippage = self.slippage
        seen: set[int] = set()
        self._matching = state.symbol
        try:
            while True:
                submitted = self._seq
                if len(book) == 1:  # (the common case, without a comprehension's frame)
                    w = book[0]
                    batch = [w] if w.active_from <= i and w.seq not in seen else []
                else:
                    batch = [w for w in book if w.active_from <= i and w.seq not in seen]
                    batch.sort(key=match_order)
                if not batch:
                    return
                if not ranged and batch[-1].priority:  # (sorted: the last is the least
                    high = arrays.high.item(i)  # urgent; priority 0 is a market order)
                    low = arrays.low.item(i)
                    ranged = True
                for w in batch:
                    seen.add(w.seq)
                    if w not in book:
                        continue  # cancelled by an earlier fill of this pass
                    order = w.order
                    ref = w.ref_open if (w.ref_open is not None and w.active_from == i) else open_
                    price = fill_price(order, ref, high, low, tick, slippage)
                    if price is not None:
                        self._fill(state, w, price, ts)
                if self._seq == submitted:
                    return  # no order was placed during this pass: nothing new to match
        finally:
            self._matching = None

    # ---- the book -----------------------------------------------------------------------------
    def working(self, symbol: str) -> list[WorkingOrder]:
        """The orders working in the book for ``symbol`` (oldest first)."""
        return list(self._books.get(symbol, ()))

    def _working(self, state: SymbolState, order: Order, i: int) -> WorkingOrder:
        """A book entry for ``order``: from the next bar, or — placed while this symbol's bar is
        matched (from ``on_fill``) — a stop or limit from the rest of this bar, its open being
        the price of the fill that placed it."""
        same_bar = self._matching == order.symbol and order.order_type is not MARKET
        return WorkingOrder(
            order,
            i if same_bar else i + 1,
            order.reduce_only,
            self._last_fill_price if same_bar else None,
            self._seq,
        )

    def _fill(self, state: SymbolState, w: WorkingOrder, price: float, ts: int) -> None:
        """Execute ``w`` at ``price`` by the venue's rules at the fill (see the module
        docstring) and report it."""
        sink, account = self._sink, self._account
        assert sink is not None and account is not None
        self._books[state.symbol].remove(w)
        order = w.order
        held = account.portfolio.positions.get(state.symbol)
        pos = 0 if held is None else held.quantity
        qty = order.quantity - order.filled_quantity
        if w.reduce_only:
            reducible = abs(pos) if pos and (pos > 0) != (order.side is BUY) else 0
            if reducible == 0:
                nothing = "reduce-only: no position left to reduce"
                sink.apply(OrderCancelled(order.id, ts, order.broker_id, nothing))
                return
            qty = min(qty, reducible)
        else:
            opening = opening_quantity(pos, order.side, qty)
            if opening:
                reason = account.rules.funds_reason(
                    opening, price, order.product, account.free_margin()
                )
                if reason is not None:
                    sink.apply(
                        OrderRejected(order.id, ts, f"{reason} at the fill", order.broker_id)
                    )
                    return
        self._last_fill_price = price
        sink.apply(_filled((order.id, ts, qty, price, order.broker_id, "")))
