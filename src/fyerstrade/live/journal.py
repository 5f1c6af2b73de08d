"""The live engine's journal: orders, fills, positions, equity and messages into
``trading_log.sqlite``.

It implements the engine's :class:`~fyerstrade.trading.journal.Journal` protocol. Records are
collected in memory while the engine handles one event (a tick or a bar) and written by
:meth:`LiveJournal.commit` in ONE transaction: the orders handed to the broker
(``live_orders``, with their status as it now stands), every event the broker reported about
them (``live_order_events``, in the order it came), the fills of the event with their
realized P&L (``live_paper_trades``), every position as it now stands (``live_positions``), and
the equity point. So a position row always agrees with the trades that produced it, and an
order row with its fills, even after a ``kill -9``.

Replaying a day after a crash goes through the same journal in *checking* mode
(:attr:`LiveJournal.replaying`): an order or a fill that was recorded before the crash is not
written again but compared with what was recorded, and any difference raises
:class:`RecoveryError` (the replay would have decided something the live run did not: the
recorded day stands and trading stops). Broker events are checked the same way. Orders, events
and fills the crash kept from being recorded are written as usual; equity points and log lines
at or before the last ones stored are skipped.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from fyerstrade.domain import Fill, Order, OrderStatus, RoundTrip
from fyerstrade.errors import EngineError
from fyerstrade.trading.events import OrderEvent
from fyerstrade.trading.journal import LogLine, Rejection
from fyerstrade.trading.portfolio import Portfolio

__all__ = ["LiveJournal", "RecoveryError", "write_positions"]


class RecoveryError(EngineError):
    """Replaying the day after a restart came to a decision the live run did not record."""


_ORDER_COLUMNS = (
    "symbol, side, quantity, order_type, product, limit_price, stop_price, tag, created_ts"
)


def _order_key(o: Order) -> tuple[object, ...]:
    return (
        o.symbol,
        str(o.side),
        o.quantity,
        str(o.order_type),
        str(o.product),
        o.limit_price,
        o.stop_price,
        o.tag,
        o.created_ts,
    )


def _order_state(o: Order) -> tuple[object, ...]:
    return (str(o.status), o.filled_quantity, o.avg_fill_price, o.reject_reason)


def _event_row(event: OrderEvent) -> tuple[object, ...]:
    """(kind, ts, quantity, price, reason, broker_id, trade_id) of a broker event."""
    kind = _EVENT_KINDS[type(event).__name__]
    quantity = getattr(event, "quantity", 0)
    price = getattr(event, "price", None)
    reason = getattr(event, "reason", "")
    trade_id = getattr(event, "trade_id", "")
    return (kind, event.ts, quantity, price, reason, event.broker_id, trade_id)


_EVENT_KINDS = {
    "OrderAccepted": "accepted",
    "OrderPartiallyFilled": "partially_filled",
    "OrderFilled": "filled",
    "OrderCancelled": "cancelled",
    "OrderRejected": "rejected",
    "OrderExpired": "expired",
    "OrderUnknown": "unknown",
}

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _PendingFill:
    fill: Fill
    seq: int
    realized: float = 0.0


class LiveJournal:
    def __init__(self, conn: sqlite3.Connection, session_id: str, strategy: str) -> None:
        self.conn = conn
        self.session_id = session_id
        self.strategy = strategy
        self.fills = 0  # fills recorded (or found recorded) this session
        self._pending: list[_PendingFill] = []
        self._logs: list[tuple[int, str, str, str | None, str]] = []
        self._fill_seqs: dict[str, int] = {}
        self._events: list[tuple[str, int, tuple[object, ...]]] = []  # (order id, seq, row)
        self._event_seqs: dict[str, int] = {}
        self._dirty_positions = False
        self.replaying = False  # checking mode (see the module docstring)
        self._new_orders: list[Order] = []
        self._orders: dict[str, tuple[Order, tuple[object, ...]]] = {}  # id -> (order, written)
        self._checked: set[str] = set()  # orders found recorded while replaying
        # told (kind, text) of each new fill and refused order once it is committed, never while
        # replaying (the notifications)
        self.notices: Callable[[str, str], None] | None = None
        self._notes: list[tuple[str, str]] = []
        row = conn.execute(
            "SELECT MAX(ts) FROM pt_portfolio_log WHERE session_id = ?", (session_id,)
        ).fetchone()
        self._last_equity_ts = int(row[0]) if row and row[0] is not None else -1
        row = conn.execute(
            "SELECT MAX(ts) FROM pt_live_debug_log WHERE source LIKE ?", (f"{session_id}%",)
        ).fetchone()
        self._last_log_ts = int(row[0]) if row and row[0] is not None else -1

    def order_id(self, order_id: str) -> str:
        """The stored order id: unique across sessions."""
        return f"{self.session_id}/{order_id}"

    # ---- orders -----------------------------------------------------------------------------
    def record_order(self, order: Order) -> None:
        """``order`` is about to reach the broker: written at the next commit, and its status
        followed until it is final."""
        self._new_orders.append(order)

    def record_event(self, event: OrderEvent) -> None:
        """What the broker reported about an order: written at the next commit, in the order
        the events came."""
        seq = self._event_seqs.get(event.order_id, 0) + 1
        self._event_seqs[event.order_id] = seq
        self._events.append((event.order_id, seq, _event_row(event)))

    # ---- the Journal protocol ---------------------------------------------------------------
    def record_fill(self, fill: Fill) -> None:
        seq = self._fill_seqs.get(fill.order_id, 0) + 1
        self._fill_seqs[fill.order_id] = seq
        self._pending.append(_PendingFill(fill, seq))
        self._dirty_positions = True

    def record_trade(self, trade: RoundTrip) -> None:
        # the round trip closed by the fill recorded just before it
        if self._pending:
            self._pending[-1].realized += trade.pnl

    def record_rejection(self, rejection: Rejection) -> None:
        message = (
            f"order refused: {rejection.side} {rejection.quantity} {rejection.symbol}: "
            f"{rejection.reason}"
        )
        self._log(rejection.ts, "WARNING", "engine", rejection.symbol, message)
        if not self.replaying:
            self._notes.append(("rejection", message))

    def record_log(self, line: LogLine) -> None:
        self._log(line.ts, line.level, "strategy", line.symbol, line.message)

    # ---- the engine's own records -----------------------------------------------------------
    def engine_log(self, ts: int, message: str, level: str = "INFO", symbol: str = "") -> None:
        """A message of the live engine itself (connects, gaps, risk, square-off)."""
        self._log(ts, level, "engine", symbol, message)
        log.log(logging.getLevelName(level), "%s", message)

    def _log(self, ts: int, level: str, source: str, symbol: str, message: str) -> None:
        if ts < self._last_log_ts:
            return  # already written before a restart
        self._logs.append((ts, level, f"{self.session_id}:{source}", symbol or None, message))

    @property
    def has_pending(self) -> bool:
        dirty = self._dirty_positions and not self.replaying
        return bool(self._pending or self._logs or dirty or self._new_orders or self._events)

    def commit(
        self, portfolio: Portfolio, ts: int, *, equity_point: tuple[float, float] | None = None
    ) -> int:
        """Write what the last event produced in one transaction; return the number of new
        fills. ``equity_point`` = (equity, exposure) adds a ``pt_portfolio_log`` row at ``ts``."""
        new = 0
        with self.conn:
            self._write_orders(ts)
            self._write_events()
            for p in self._pending:
                f = p.fill
                if self.replaying and self._recorded_fill(p):
                    continue
                cur = self.conn.execute(
                    "INSERT OR IGNORE INTO live_paper_trades (session_id, order_id, fill_seq, ts,"
                    " symbol, side, quantity, price, costs, product, tag, strategy, realized_pnl)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        self.session_id,
                        self.order_id(f.order_id),
                        p.seq,
                        f.ts,
                        f.symbol,
                        str(f.side),
                        f.quantity,
                        f.price,
                        f.costs,
                        str(f.product),
                        f.tag,
                        self.strategy,
                        p.realized,
                    ),
                )
                new += cur.rowcount
                if cur.rowcount and not self.replaying:
                    self._notes.append(("fill", _fill_text(f, p.realized)))
            self.fills += len(self._pending)
            if self._dirty_positions and not self.replaying:
                # (while replaying the table keeps the recorded positions: they are rewritten
                # once the replay has caught up with them)
                self._write_positions(portfolio, ts)
                self._dirty_positions = False
            if equity_point is not None and ts > self._last_equity_ts:
                equity, exposure = equity_point
                realized = sum(p.realized_pnl for p in portfolio.positions.values())
                self.conn.execute(
                    "INSERT INTO pt_portfolio_log (session_id, ts, equity, cash, exposure,"
                    " realized_pnl, unrealized_pnl) VALUES (?,?,?,?,?,?,?)",
                    (
                        self.session_id,
                        ts,
                        equity,
                        portfolio.cash,
                        exposure,
                        realized,
                        portfolio.unrealized_pnl,
                    ),
                )
                self._last_equity_ts = ts
            if self._logs:
                self.conn.executemany(
                    "INSERT INTO pt_live_debug_log (ts, level, source, symbol, message)"
                    " VALUES (?,?,?,?,?)",
                    self._logs,
                )
        self._pending.clear()
        self._logs.clear()
        notes, self._notes = self._notes, []
        if self.notices is not None:
            for kind, text in notes:
                self.notices(kind, text)
        return new

    def _write_orders(self, ts: int) -> None:
        conn = self.conn
        for o in self._new_orders:
            oid = self.order_id(o.id)
            if self.replaying:
                row = conn.execute(
                    f"SELECT {_ORDER_COLUMNS}, status, filled_quantity, avg_fill_price,"
                    " reject_reason FROM live_orders WHERE order_id = ?",
                    (oid,),
                ).fetchone()
                if row is not None:
                    key, stored = tuple(row[:9]), tuple(row[9:])
                    if key != _order_key(o):
                        raise RecoveryError(
                            f"replaying the day placed order {o.id} as {_describe(_order_key(o))}"
                            f" where the live run recorded {_describe(key)}"
                        )
                    self._orders[o.id] = (o, stored)
                    self._checked.add(o.id)  # its status is written once the replay is over
                    continue
            conn.execute(
                f"INSERT INTO live_orders (order_id, session_id, {_ORDER_COLUMNS}, status,"
                " filled_quantity, avg_fill_price, reject_reason, updated_ts)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (oid, self.session_id, *_order_key(o), *_order_state(o), ts),
            )
            self._orders[o.id] = (o, _order_state(o))
        self._new_orders.clear()
        done = []
        for oid, (o, written) in list(self._orders.items()):
            state = _order_state(o)
            if state != written:
                if self.replaying and oid in self._checked:
                    continue  # recorded before the crash: written when the replay is over
                conn.execute(
                    "UPDATE live_orders SET status = ?, filled_quantity = ?,"
                    " avg_fill_price = ?, reject_reason = ?, updated_ts = ?"
                    " WHERE order_id = ?",
                    (*state, ts, self.order_id(oid)),
                )
                self._orders[oid] = (o, state)
            if state[0] not in _OPEN:
                done.append(oid)
        for oid in done:
            del self._orders[oid]
            self._checked.discard(oid)

    def _write_events(self) -> None:
        conn = self.conn
        for order_id, seq, row in self._events:
            oid = self.order_id(order_id)
            if self.replaying:
                got = conn.execute(
                    "SELECT kind, ts, quantity, price, reason, broker_id, trade_id"
                    " FROM live_order_events WHERE order_id = ? AND seq = ?",
                    (oid, seq),
                ).fetchone()
                if got is not None:
                    if tuple(got) != row:
                        raise RecoveryError(
                            f"replaying the day, the broker reported {_describe(row)} for order"
                            f" {order_id} (event {seq}) where the live run recorded"
                            f" {_describe(tuple(got))}"
                        )
                    continue
            conn.execute(
                "INSERT INTO live_order_events (order_id, seq, session_id, kind, ts, quantity,"
                " price, reason, broker_id, trade_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (oid, seq, self.session_id, *row),
            )
        self._events.clear()

    def _recorded_fill(self, p: _PendingFill) -> bool:
        """In checking mode: True when the fill is recorded (and equal), else False (write it)."""
        f = p.fill
        row = self.conn.execute(
            "SELECT symbol, side, quantity, price, ts FROM live_paper_trades"
            " WHERE order_id = ? AND fill_seq = ?",
            (self.order_id(f.order_id), p.seq),
        ).fetchone()
        if row is None:
            return False
        got = (f.symbol, str(f.side), f.quantity, f.price, f.ts)
        if tuple(row) != got:
            raise RecoveryError(
                f"replaying the day filled {f.order_id} #{p.seq} as {_describe(got)} where the "
                f"live run recorded {_describe(tuple(row))}"
            )
        return True

    def write_positions(self, portfolio: Portfolio, ts: int) -> None:
        """Rewrite ``live_positions`` from the portfolio (its own transaction)."""
        with self.conn:
            self._write_positions(portfolio, ts)

    def _write_positions(self, portfolio: Portfolio, ts: int) -> None:
        write_positions(self.conn, portfolio, ts, self.session_id)


def write_positions(
    conn: sqlite3.Connection, portfolio: Portfolio, ts: int, session_id: str
) -> None:
    """Replace ``live_positions`` with the open positions of ``portfolio`` (in the caller's
    transaction)."""
    conn.execute("DELETE FROM live_positions")
    conn.executemany(
        "INSERT INTO live_positions (symbol, quantity, avg_price, realized_pnl, product,"
        " opened_ts, updated_ts, session_id) VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                p.symbol,
                p.quantity,
                p.avg_price,
                p.realized_pnl,
                str(p.product),
                p.opened_ts,
                ts,
                session_id,
            )
            for p in portfolio.positions.values()
            if p.quantity
        ],
    )


_OPEN = frozenset(str(s) for s in OrderStatus if s.is_open)


def _fill_text(f: Fill, realized: float) -> str:
    done = f", realized {realized:,.2f}" if realized else ""
    return f"{f.side} {f.quantity} {f.symbol} at {f.price:,.2f} ({f.tag or 'order'}{done})"


def _describe(values: tuple[object, ...]) -> str:
    return " ".join("-" if v is None else str(v) for v in values)
