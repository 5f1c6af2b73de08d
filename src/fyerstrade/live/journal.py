"""The live engine's journal: fills, positions, equity and messages into ``trading_log.sqlite``.

It implements the engine's :class:`~fyerstrade.trading.journal.Journal` protocol. Records are
collected in memory while the engine handles one event (a tick or a bar) and written by
:meth:`LiveJournal.commit` in ONE transaction: the fills of the event with their realized P&L
(``live_paper_trades``), every position as it now stands (``live_positions``), and the equity
point. So a position row always agrees with the trades that produced it, even after a
``kill -9``.

Replaying a day after a crash goes through the same journal: a fill is keyed by
``(order_id, fill_seq)`` (``INSERT OR IGNORE``), so a fill recorded before the crash is not
recorded again; equity points and log lines at or before the last ones stored are skipped.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from fyerstrade.domain import Fill, RoundTrip
from fyerstrade.trading.journal import LogLine, Rejection
from fyerstrade.trading.portfolio import Portfolio

__all__ = ["LiveJournal"]

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
        self._dirty_positions = False
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
        return bool(self._pending or self._logs or self._dirty_positions)

    def commit(
        self, portfolio: Portfolio, ts: int, *, equity_point: tuple[float, float] | None = None
    ) -> int:
        """Write what the last event produced in one transaction; return the number of new
        fills. ``equity_point`` = (equity, exposure) adds a ``pt_portfolio_log`` row at ``ts``."""
        new = 0
        with self.conn:
            for p in self._pending:
                f = p.fill
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
            self.fills += len(self._pending)
            if self._dirty_positions:
                self._write_positions(portfolio, ts)
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
        self._dirty_positions = False
        return new

    def write_positions(self, portfolio: Portfolio, ts: int) -> None:
        """Rewrite ``live_positions`` from the portfolio (its own transaction)."""
        with self.conn:
            self._write_positions(portfolio, ts)

    def _write_positions(self, portfolio: Portfolio, ts: int) -> None:
        self.conn.execute("DELETE FROM live_positions")
        self.conn.executemany(
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
                    self.session_id,
                )
                for p in portfolio.positions.values()
                if p.quantity
            ],
        )
