"""A restart with real orders reconciles with Fyers, never replays (:func:`reconcile_restart`).

A paper day is replayed after a crash (:class:`~fyerstrade.live.recovery.PaperReplay`); a real
one cannot be: the orders are out at the exchange. What the crashed run recorded
(``live_orders``, ``live_paper_trades``, ``live_positions``) is compared with what Fyers shows:

1. every order the day's segments recorded is looked up by its tag
   (:func:`~fyerstrade.live.fyers_tracker.fyers_tag`) in the orderbook and tradebook: fills the
   crash kept from being recorded are booked (costs, realized P&L, the order's status); an order
   recorded but not in the orderbook never reached Fyers and is marked rejected — **nothing is
   ever sent again**;
2. an order of the crashed run still working at Fyers is cancelled (the restarted strategy does
   not know it), and its last fills booked;
3. our net positions are compared with Fyers' for the traded symbols. **What Fyers shows wins**:
   a difference is adopted (Fyers' quantity and average price) and reported, one line each, and
   the caller halts trading with that report.

The result is written in one transaction; the new segment then starts from the reconciled
account (:meth:`~fyerstrade.live.session_store.SessionStore.stored_account`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from fyerstrade.domain import (
    OPEN_STATUSES,
    Fill,
    Instrument,
    OrderStatus,
    Position,
    ProductType,
    Side,
)
from fyerstrade.fyers.order_gateway import OrderGateway
from fyerstrade.live.fyers_tracker import FyersTracker, fyers_tag
from fyerstrade.live.journal import write_positions
from fyerstrade.live.position_check import broker_net, position_differences
from fyerstrade.trading.costs import CostModel
from fyerstrade.trading.events import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderUnknown,
)
from fyerstrade.trading.portfolio import Portfolio

__all__ = ["RestartReport", "reconcile_restart"]

_OPEN = frozenset(str(s) for s in OPEN_STATUSES)


@dataclass(slots=True)
class RestartReport:
    """What the reconciliation did (``done``) and what differed (``differences``: halt)."""

    done: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    booked: int = 0  # fills booked that the crash had kept from the journal
    cancelled: int = 0  # orders of the crashed run cancelled at Fyers
    never_sent: int = 0  # recorded orders Fyers never saw
    cash: float = 0.0  # the account after it
    equity: float = 0.0

    def describe(self) -> str:
        head = "; ".join(self.done) or "nothing to reconcile"
        if self.differences:
            return f"{head}; DIFFERENCES (Fyers' positions adopted): {'; '.join(self.differences)}"
        return head


@dataclass(slots=True)
class _Row:
    order_id: str
    segment: str
    symbol: str
    side: Side
    quantity: int
    product: ProductType
    tag: str
    status: str
    filled: int
    avg: float
    broker_id: str
    reason: str = ""
    fills: list[tuple[Fill, float]] = field(default_factory=list)  # (fill, realized P&L)
    changed: bool = False


def _rows(conn: sqlite3.Connection, day: date) -> dict[str, _Row]:
    out: dict[str, _Row] = {}
    for r in conn.execute(
        "SELECT order_id, session_id, symbol, side, quantity, product, tag, status,"
        " filled_quantity, avg_fill_price, broker_id, reject_reason FROM live_orders"
        " WHERE session_id LIKE ? ORDER BY created_ts, rowid",
        (f"{day.isoformat()}#%",),
    ):
        out[str(r[0])] = _Row(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            Side(str(r[3])),
            int(r[4]),
            ProductType(str(r[5])),
            str(r[6]),
            str(r[7]),
            int(r[8]),
            float(r[9]),
            str(r[10] or ""),
            str(r[11] or ""),
        )
    return out


def tracker_for_day(
    conn: sqlite3.Connection, day: date, *, settle_seconds: int = 30
) -> FyersTracker:
    """A tracker that knows every order the day's segments recorded (their tags are ours)."""
    tracker = FyersTracker(day, settle_seconds=settle_seconds)
    for row in _rows(conn, day).values():
        _track(tracker, row, day)
    return tracker


def _track(tracker: FyersTracker, row: _Row, day: date) -> None:
    local = row.order_id.rsplit("/", 1)[-1]
    tracker.track(
        row.order_id,
        fyers_tag(row.segment, local, day),
        row.symbol,
        row.side,
        row.quantity,
        0,
        broker_id=row.broker_id,
        booked=row.filled,
        done=row.status not in _OPEN,
        accepted=row.status in ("PENDING", "PARTIALLY_FILLED"),
        unknown=row.status == "UNKNOWN",
    )


def reconcile_restart(
    conn: sqlite3.Connection,
    gateway: OrderGateway,
    *,
    day: date,
    symbols: Sequence[str],
    instruments: Mapping[str, Instrument],
    costs: CostModel,
    capital: float,
    now: int,
    segment: str,
) -> RestartReport:
    """Reconcile the day's records with Fyers (see the module docstring); writes the result
    (positions, the account's cash and a log line under ``segment``, the crashed one)."""
    report = RestartReport()
    rows = _rows(conn, day)
    tracker = FyersTracker(day, settle_seconds=0)  # the crashed process sends nothing more
    for row in rows.values():
        _track(tracker, row, day)
    orders, trades = gateway.orderbook(), gateway.tradebook()
    events = tracker.reconcile(orders, trades, now)
    ours = set(tracker.working())
    working = [o for o in orders if o.state.is_working and o.tag and tracker.knows(o.tag)]
    for o in working:
        gateway.cancel(o.broker_id)
        report.cancelled += 1
    if working or ours:
        orders, trades = gateway.orderbook(), gateway.tradebook()
        events += tracker.reconcile(orders, trades, now)
    positions = gateway.positions()

    portfolio = _portfolio(conn, capital)
    costs = costs.for_run()
    for event in events:
        _book(rows[event.order_id], event, portfolio, instruments, costs, report)
    # what Fyers shows wins
    held = {s: p.quantity for s, p in portfolio.positions.items()}
    report.differences = position_differences(held, positions, symbols=symbols)
    fyers = broker_net(positions)
    avg = {p.symbol: p.net_avg for p in positions if p.net_qty}
    product = {p.symbol: p.product for p in positions if p.net_qty}
    for symbol in symbols:
        qty = fyers.get(symbol, 0)
        if qty != held.get(symbol, 0):
            pos = portfolio.position(symbol)
            pos.quantity, pos.avg_price = qty, avg.get(symbol, pos.avg_price)
            pos.product = product.get(symbol) or pos.product
            pos.last_price = pos.avg_price
    if report.booked:
        report.done.append(f"booked {report.booked} fill(s) the crash had not recorded")
    if report.never_sent:
        report.done.append(
            f"{report.never_sent} recorded order(s) never reached Fyers (not re-sent)"
        )
    if report.cancelled:
        report.done.append(f"cancelled {report.cancelled} order(s) the crashed run left working")
    report.cash, report.equity = portfolio.cash, portfolio.equity
    _write(conn, rows, portfolio, now, report, segment)
    return report


def _portfolio(conn: sqlite3.Connection, capital: float) -> Portfolio:
    last = conn.execute(
        "SELECT cash FROM pt_portfolio_log ORDER BY ts DESC, rowid DESC LIMIT 1"
    ).fetchone()
    portfolio = Portfolio(float(last[0]) if last is not None else capital)
    for sym, qty, avg, realized, product, opened in conn.execute(
        "SELECT symbol, quantity, avg_price, realized_pnl, product, opened_ts FROM live_positions"
    ):
        portfolio.positions[str(sym)] = Position(
            str(sym),
            quantity=int(qty),
            avg_price=float(avg),
            realized_pnl=float(realized),
            product=ProductType(str(product)),
            opened_ts=int(opened or 0),
            last_price=float(avg),
        )
    return portfolio


def _book(
    row: _Row,
    event: OrderEvent,
    portfolio: Portfolio,
    instruments: Mapping[str, Instrument],
    costs: CostModel,
    report: RestartReport,
) -> None:
    row.changed = True
    if event.broker_id:
        row.broker_id = event.broker_id
    if isinstance(event, OrderFilled | OrderPartiallyFilled):
        qty, price = event.quantity, event.price
        inst = instruments.get(row.symbol)
        charge = (
            costs.fill_costs(inst, row.product, row.side, qty, price, event.ts) if inst else 0.0
        )
        fill = Fill(
            row.order_id, row.symbol, row.side, qty, price, event.ts, charge, row.product, row.tag
        )
        row.avg = (row.avg * row.filled + price * qty) / (row.filled + qty)
        row.filled += qty
        row.status = "FILLED" if isinstance(event, OrderFilled) else "PARTIALLY_FILLED"
        row.fills.append((fill, sum(t.pnl for t in portfolio.apply(fill))))
        report.booked += 1
        return
    if isinstance(event, OrderAccepted):
        row.status = "PENDING"
    elif isinstance(event, OrderCancelled):
        row.status, row.reason = "CANCELLED", event.reason or row.reason
    elif isinstance(event, OrderExpired):
        row.status, row.reason = "EXPIRED", event.reason or row.reason
    elif isinstance(event, OrderRejected):
        row.status, row.reason = "REJECTED", event.reason
        if "never showed it" in event.reason:
            report.never_sent += 1
    elif isinstance(event, OrderUnknown):
        row.status = str(OrderStatus.UNKNOWN)


def _write(
    conn: sqlite3.Connection,
    rows: Mapping[str, _Row],
    portfolio: Portfolio,
    now: int,
    report: RestartReport,
    segment: str,
) -> None:
    with conn:
        for row in rows.values():
            if not row.changed:
                continue
            seq = conn.execute(
                "SELECT COALESCE(MAX(fill_seq), 0) FROM live_paper_trades WHERE order_id = ?",
                (row.order_id,),
            ).fetchone()[0]
            for fill, realized in row.fills:
                seq += 1
                conn.execute(
                    "INSERT INTO live_paper_trades (session_id, order_id, fill_seq, ts, symbol,"
                    " side, quantity, price, costs, product, tag, strategy, realized_pnl)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        row.segment,
                        row.order_id,
                        seq,
                        fill.ts,
                        fill.symbol,
                        str(fill.side),
                        fill.quantity,
                        fill.price,
                        fill.costs,
                        str(fill.product),
                        fill.tag,
                        "",
                        realized,
                    ),
                )
            conn.execute(
                "UPDATE live_orders SET status = ?, filled_quantity = ?, avg_fill_price = ?,"
                " reject_reason = ?, broker_id = ?, updated_ts = ? WHERE order_id = ?",
                (row.status, row.filled, row.avg, row.reason, row.broker_id, now, row.order_id),
            )
        write_positions(conn, portfolio, now, segment)
        conn.execute(
            "INSERT INTO pt_portfolio_log (session_id, ts, equity, cash, exposure, realized_pnl,"
            " unrealized_pnl) VALUES (?,?,?,?,?,?,?)",
            (segment, now, portfolio.equity, portfolio.cash, 0.0, 0.0, 0.0),
        )
        conn.execute(
            "INSERT INTO pt_live_debug_log (ts, level, source, symbol, message) VALUES (?,?,?,?,?)",
            (
                now,
                "WARNING" if report.differences else "INFO",
                "engine-restart",
                None,
                "restart with real orders, reconciled with Fyers: " + report.describe(),
            ),
        )
