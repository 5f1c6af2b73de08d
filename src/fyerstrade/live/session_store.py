"""The live engine's records of a trading day, in one place: every statement the live runner
sends to ``live_market_data.sqlite`` and to the session tables of ``trading_log.sqlite``.

Live database (one connection, the engine thread's):

* ``live_ticks``: every tick as it arrived (a batch per flush);
* ``live_bars``: every closed 1-minute bar the strategy was handed, from ticks or history;
* ``live_marks``: what the engine did between ticks (a quiet symbol's bar closed on the clock, a
  square-off at the clock's square-off time, a feed gap) and where a segment's ticks begin, each
  at its place in the tick stream.

Trading database: ``live_sessions`` (a day's segment: the account it started with, its config,
where its replay starts, how it ended) and the account a new segment starts from.

The journal of fills, positions and equity is :class:`~fyerstrade.live.journal.LiveJournal`;
``live_orders`` is written by it too, in the same transactions as the fills.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fyerstrade.config import Settings
from fyerstrade.domain import Bar, Resolution, Tick
from fyerstrade.live.config import LiveConfig
from fyerstrade.store.checkpoint import WalCheckpointer
from fyerstrade.store.ticks import INSERT_LIVE_TICKS, LiveTickRow

__all__ = ["Mark", "SessionRow", "SessionStore", "StoredAccount", "config_json"]

BarRow = tuple[str, int, float, float, float, float, int, str]


def config_json(config: LiveConfig) -> str:
    """The config a segment ran with, as stored (a crashed segment resumes only under the same)."""
    return json.dumps(config.to_yaml_dict(), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Mark:
    """An event of the engine's own in the tick stream: ``at_tick`` ticks of the segment were
    handled before it. Kinds: ``start`` (``a`` = the last ``live_ticks`` id before the segment),
    ``gap`` (``a``, ``b`` = the gap's start and end, ``c`` = from when every tick was seen),
    ``clock`` (``a`` = the clock time bars were closed up to, 0 for none; ``b`` = market time;
    ``c`` = 1 when the clock alone could square off: a quiet market or the feed down)."""

    seq: int
    at_tick: int
    kind: str
    a: int = 0
    b: int = 0
    c: int = 0


@dataclass(frozen=True, slots=True)
class SessionRow:
    """Today's segment as stored in ``live_sessions``."""

    segment: int
    replay_from: int
    start_cash: float
    positions: list[dict[str, object]]
    resume: bool


@dataclass(frozen=True, slots=True)
class StoredAccount:
    cash: float
    positions: list[dict[str, object]]
    dropped: list[tuple[str, int, str]]  # stale positions not carried: (symbol, qty, product)


class SessionStore:
    """SQL of the live runner over its two connections (``live``, ``trading``).

    Ticks, closed bars and marks are collected (:meth:`add_tick`, :meth:`add_bar`,
    :meth:`add_mark`) and written together by :meth:`flush_live`: small batches often, and
    always before the trading records that depend on them are committed."""

    def __init__(
        self,
        live: sqlite3.Connection,
        trading: sqlite3.Connection,
        checkpointer: WalCheckpointer | None = None,
    ) -> None:
        self.live = live
        self.trading = trading
        self.ticks_written = 0
        self._ticks: list[LiveTickRow] = []
        self._bars: list[BarRow] = []
        self._fixes: list[BarRow] = []  # bars replacing the stored bar of their minute
        self._marks: list[tuple[object, ...]] = []
        self._checkpointer = checkpointer
        self._closed = False

    @classmethod
    def open(cls, settings: Settings) -> SessionStore:
        """Both databases of a live run, each checked first (a damaged store is refused before
        anything trades: quick_check, well under a second), the live database's WAL kept short
        by a background checkpointer. :meth:`close` writes what is queued and closes them."""
        from fyerstrade.store.db import open_live, open_trading

        live = open_live(settings, verify=True)
        checkpointer = WalCheckpointer(settings.live_db, live)
        checkpointer.start()
        try:
            trading = open_trading(settings, verify=True)
        except BaseException:
            checkpointer.stop()
            live.close()
            raise
        return cls(live, trading, checkpointer)

    def close(self) -> None:
        """Write the queued ticks, bars and marks, stop the checkpointer, close both
        connections (once; a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush_live(bars=True)
        finally:
            if self._checkpointer is not None:
                self._checkpointer.stop()
            self.live.close()
            self.trading.close()

    # ------------------------------------------------------------------ live database

    def add_tick(self, row: LiveTickRow) -> int:
        """Queue a tick; returns how many are queued."""
        self._ticks.append(row)
        return len(self._ticks)

    def add_bar(self, bar: Bar, source: str) -> None:
        self._bars.append(
            (bar.symbol, bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume, source)
        )

    def replace_bar(self, bar: Bar, source: str) -> None:
        """Like :meth:`add_bar`, for a bar that takes the place of its minute's bar stored (or
        queued) before it."""
        self._fixes.append(
            (bar.symbol, bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume, source)
        )

    def add_mark(self, segment: str, mark: Mark) -> None:
        self._marks.append((segment, mark.seq, mark.at_tick, mark.kind, mark.a, mark.b, mark.c))

    def drop_last_mark(self, mark: Mark) -> bool:
        """Take back ``mark`` if it is still the last one queued (it did nothing)."""
        if self._marks and self._marks[-1][1] == mark.seq:
            self._marks.pop()
            return True
        return False

    @property
    def queued_ticks(self) -> int:
        return len(self._ticks)

    def flush_live(self, *, bars: bool = False) -> None:
        """The queued ticks and marks (and, with ``bars``, the closed bars) in one
        transaction."""
        ticks, self._ticks = self._ticks, []
        marks, self._marks = self._marks, []
        closed: list[BarRow] = []
        fixes: list[BarRow] = []
        if bars:
            closed, self._bars = self._bars, []
            fixes, self._fixes = self._fixes, []
        self.write_live(ticks, closed, marks, fixes)
        self.ticks_written += len(ticks)

    def write_live(
        self,
        ticks: Sequence[LiveTickRow],
        bars: Sequence[BarRow],
        marks: Sequence[tuple[object, ...]],
        fixes: Sequence[BarRow] = (),
    ) -> None:
        """Ticks, closed bars (then the bars replacing stored ones, ``fixes``) and marks in one
        transaction (in that order: a mark never lands without the ticks before it)."""
        if not (ticks or bars or marks or fixes):
            return
        conn = self.live
        with conn:
            if ticks:
                conn.executemany(INSERT_LIVE_TICKS, ticks)
            if bars:
                conn.executemany(
                    "INSERT OR IGNORE INTO live_bars (symbol, ts, open, high, low, close,"
                    " volume, source) VALUES (?,?,?,?,?,?,?,?)",
                    bars,
                )
            if fixes:
                conn.executemany(
                    "INSERT OR REPLACE INTO live_bars (symbol, ts, open, high, low, close,"
                    " volume, source) VALUES (?,?,?,?,?,?,?,?)",
                    fixes,
                )
            if marks:
                conn.executemany(
                    "INSERT INTO live_marks (segment, seq, at_tick, kind, a, b, c)"
                    " VALUES (?,?,?,?,?,?,?)",
                    marks,
                )

    def last_tick_id(self) -> int:
        """The id the last tick ever stored got (ids are never reused)."""
        row = self.live.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'live_ticks'"
        ).fetchone()
        return int(row[0]) if row is not None else 0

    def marks(self, segment: str) -> list[Mark]:
        rows = self.live.execute(
            "SELECT seq, at_tick, kind, a, b, c FROM live_marks WHERE segment = ? ORDER BY seq",
            (segment,),
        ).fetchall()
        return [Mark(int(s), int(t), str(k), int(a), int(b), int(c)) for s, t, k, a, b, c in rows]

    def ticks_after(self, last_id: int, symbols: Sequence[str]) -> Iterator[Tick]:
        """The stored ticks of ``symbols`` with an id above ``last_id``, in arrival order."""
        wanted = set(symbols)
        cur = self.live.execute(
            "SELECT symbol, ts, ltp, volume, bid, ask, bid_qty, ask_qty, last_qty"
            " FROM live_ticks WHERE id > ? ORDER BY id",
            (last_id,),
        )
        for sym, ts, ltp, vol, bid, ask, bq, aq, lq in cur:
            if sym in wanted:
                yield Tick(sym, ts, ltp, vol, bid or 0.0, ask or 0.0, bq or 0, aq or 0, lq or 0)

    def bars_between(
        self, symbols: Sequence[str], lo: int, hi: int, source: str | None = None
    ) -> list[tuple[Bar, str]]:
        """Stored 1-minute bars of ``symbols`` opened in ``[lo, hi)`` with their source, in
        time order (``source`` keeps one source only)."""
        wanted = set(symbols)
        sql = (
            "SELECT symbol, ts, open, high, low, close, volume, source FROM live_bars"
            " WHERE ts >= ? AND ts < ?"
        )
        args: tuple[object, ...] = (lo, hi)
        if source is not None:
            sql += " AND source = ?"
            args = (lo, hi, source)
        rows = self.live.execute(sql + " ORDER BY ts", args).fetchall()
        return [
            (Bar(sym, Resolution.M1, ts, o, h, low, c, v), src)
            for sym, ts, o, h, low, c, v, src in rows
            if sym in wanted
        ]

    # ------------------------------------------------------------------ trading database

    def session_row(self, session_id: str) -> tuple[SessionRow, str, str] | None:
        """Today's stored segment, with its status and config (None: no segment yet)."""
        row = self.trading.execute(
            "SELECT segment, replay_from, start_cash, positions_json, status, config_json"
            " FROM live_sessions WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        if row is None:
            return None
        seg = SessionRow(int(row[0]), int(row[1]), float(row[2]), json.loads(row[3]), True)
        return seg, str(row[4]), str(row[5])

    def open_segment(
        self,
        session_id: str,
        segment: int,
        config: LiveConfig,
        account: StoredAccount,
        now: int,
    ) -> SessionRow:
        """Store a new segment of the day starting at ``now`` from ``account``; returns it."""
        with self.trading:
            self.trading.execute(
                "INSERT OR REPLACE INTO live_sessions (session_id, segment, replay_from, strategy,"
                " config_json, start_cash, positions_json, started_at, updated_at, status)"
                " VALUES (?,?,?,?,?,?,?,?,?, 'running')",
                (
                    session_id,
                    segment,
                    now,
                    config.strategy,
                    config_json(config),
                    account.cash,
                    json.dumps(account.positions),
                    now,
                    now,
                ),
            )
        return SessionRow(segment, now, account.cash, account.positions, False)

    def close_segment(
        self, session_id: str, *, status: str, now: int, cash: float, equity: float
    ) -> None:
        with self.trading:
            self.trading.execute(
                "UPDATE live_sessions SET status = ?, updated_at = ?, end_cash = ?, end_equity = ?"
                " WHERE session_id = ?",
                (status, now, cash, equity, session_id),
            )

    def stored_account(
        self, capital: float, symbols: Sequence[str], intraday: str
    ) -> StoredAccount:
        """Cash and open positions the paper account holds now (``capital`` at first).
        Positions of symbols not traded now, and intraday ones (a day that never squared off),
        are not carried: their cost is given back."""
        conn = self.trading
        last = conn.execute(
            "SELECT cash FROM pt_portfolio_log ORDER BY ts DESC, rowid DESC LIMIT 1"
        ).fetchone()
        cash = float(last[0]) if last is not None else capital
        rows = conn.execute(
            "SELECT symbol, quantity, avg_price, product, opened_ts FROM live_positions"
            " WHERE quantity != 0"
        ).fetchall()
        positions: list[dict[str, object]] = []
        dropped: list[tuple[str, int, str]] = []
        for sym, qty, avg, product, opened in rows:
            if sym not in symbols or product == intraday:
                dropped.append((sym, int(qty), str(product)))
                cash += qty * avg
                continue
            positions.append(
                {
                    "symbol": sym,
                    "quantity": qty,
                    "avg_price": avg,
                    "product": product,
                    "opened_ts": opened,
                }
            )
        return StoredAccount(cash, positions, dropped)
