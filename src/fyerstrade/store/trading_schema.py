"""Schema of ``trading_log.sqlite``: the journal of backtests, paper and live trading.

Versions
    1. ``backtest_runs``, ``backtest_trades`` (fills and round trips of a run),
       ``bt_portfolio_log`` (equity curve, ``WITHOUT ROWID``), ``live_paper_trades`` (fills of
       paper/live sessions; ``UNIQUE(order_id, fill_seq)`` so a replayed fill is recorded once),
       ``pt_portfolio_log``, ``live_positions``, ``pt_live_debug_log``.
    2. ``live_orders`` (the order table real trading needs) and the readers' indexes.
    3. ``live_sessions``: one row per live trading day, with the account at its start (cash and
       the positions carried in) and the config it ran, so a restarted engine can replay the
       day and resume exactly where it was. A clean stop and restart on the same day starts a
       new ``segment`` (replaying ticks from ``replay_from``).
    4. ``bt_portfolio_log`` stored compactly: one row per run holding its per-bar series (bar
       times, equity, cash, exposure) as array BLOBs (:mod:`fyerstrade.store.arrays`) instead of
       one row per bar; the rows of earlier runs are moved over.
    5. ``optimizations`` (one row per sweep or walk-forward: what was searched, how, its status
       and the IST day numbers its trials' returns are aligned to) and ``optimization_trials``
       (one row per evaluated parameter set: params, score, metrics, and the daily returns as
       an array BLOB of :mod:`fyerstrade.store.arrays`, about 2 KB a year). A walk-forward's
       in-sample searches are optimizations with ``parent_id`` and ``fold`` set.
    6. ``live_order_events``: every event a broker reported about a live order (accepted,
       partially filled, filled, cancelled, rejected, expired, unknown), in the order it came
       (``seq`` per order), next to ``live_orders`` which holds each order's state as it now
       stands.
    7. ``backtest_trades`` stored compactly: one row per field of a run's fills and of its round
       trips, the values as one BLOB (:mod:`fyerstrade.store.trade_columns`) instead of one row
       per fill and per round trip; the rows of earlier runs are moved over, and the unused
       ``backtest_trades_symbol`` index goes with the old table.

Timestamps are epoch seconds (UTC). JSON columns hold text written by ``json.dumps``.
"""

from __future__ import annotations

import sqlite3
from itertools import chain

import numpy as np

from fyerstrade.config import TRADING_DB
from fyerstrade.store.arrays import encode_array
from fyerstrade.store.migrations import Migration, Schema
from fyerstrade.store.trade_columns import FIELDS, INSERT, TABLE, column_rows

V1 = """
CREATE TABLE backtest_runs (
    run_id         TEXT PRIMARY KEY,
    strategy       TEXT    NOT NULL,
    params_json    TEXT    NOT NULL DEFAULT '{}',
    symbols_json   TEXT    NOT NULL DEFAULT '[]',
    resolution     TEXT    NOT NULL,
    start_ts       INTEGER,
    end_ts         INTEGER,
    mode           TEXT    NOT NULL DEFAULT 'event',
    capital        REAL    NOT NULL,
    quantity       INTEGER,
    costs_enabled  INTEGER NOT NULL DEFAULT 1,
    slippage_json  TEXT    NOT NULL DEFAULT '{}',
    settings_json  TEXT    NOT NULL DEFAULT '{}',
    metrics_json   TEXT,
    status         TEXT    NOT NULL DEFAULT 'created',
    error          TEXT,
    code_version   TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER
);
CREATE INDEX backtest_runs_created ON backtest_runs (created_at);
CREATE INDEX backtest_runs_strategy ON backtest_runs (strategy, created_at);

CREATE TABLE backtest_trades (
    run_id       TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('fill', 'round_trip')),
    seq          INTEGER NOT NULL,
    symbol       TEXT    NOT NULL,
    side         TEXT    NOT NULL,
    quantity     INTEGER NOT NULL,
    ts           INTEGER,
    price        REAL,
    entry_ts     INTEGER,
    entry_price  REAL,
    exit_ts      INTEGER,
    exit_price   REAL,
    pnl          REAL,
    costs        REAL    NOT NULL DEFAULT 0,
    exit_reason  TEXT,
    order_id     TEXT,
    tag          TEXT    NOT NULL DEFAULT '',
    product      TEXT    NOT NULL DEFAULT 'INTRADAY',
    PRIMARY KEY (run_id, kind, seq)
);
CREATE INDEX backtest_trades_symbol ON backtest_trades (run_id, symbol);

CREATE TABLE bt_portfolio_log (
    run_id    TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    equity    REAL    NOT NULL,
    cash      REAL    NOT NULL,
    exposure  REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, ts)
) WITHOUT ROWID;

CREATE TABLE live_paper_trades (
    id            INTEGER PRIMARY KEY,
    session_id    TEXT    NOT NULL,
    order_id      TEXT    NOT NULL,
    fill_seq      INTEGER NOT NULL,
    ts            INTEGER NOT NULL,
    symbol        TEXT    NOT NULL,
    side          TEXT    NOT NULL,
    quantity      INTEGER NOT NULL,
    price         REAL    NOT NULL,
    costs         REAL    NOT NULL DEFAULT 0,
    product       TEXT    NOT NULL DEFAULT 'INTRADAY',
    tag           TEXT    NOT NULL DEFAULT '',
    strategy      TEXT    NOT NULL DEFAULT '',
    realized_pnl  REAL    NOT NULL DEFAULT 0,
    UNIQUE (order_id, fill_seq)
);
CREATE INDEX live_paper_trades_session ON live_paper_trades (session_id, ts);
CREATE INDEX live_paper_trades_symbol ON live_paper_trades (symbol, ts);

CREATE TABLE pt_portfolio_log (
    session_id      TEXT    NOT NULL,
    ts              INTEGER NOT NULL,
    equity          REAL    NOT NULL,
    cash            REAL    NOT NULL,
    exposure        REAL    NOT NULL DEFAULT 0,
    realized_pnl    REAL    NOT NULL DEFAULT 0,
    unrealized_pnl  REAL    NOT NULL DEFAULT 0
);
CREATE INDEX pt_portfolio_log_session ON pt_portfolio_log (session_id, ts);

CREATE TABLE live_positions (
    symbol        TEXT PRIMARY KEY,
    quantity      INTEGER NOT NULL,
    avg_price     REAL    NOT NULL,
    realized_pnl  REAL    NOT NULL DEFAULT 0,
    product       TEXT    NOT NULL DEFAULT 'INTRADAY',
    opened_ts     INTEGER,
    updated_ts    INTEGER NOT NULL,
    session_id    TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE pt_live_debug_log (
    id       INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    level    TEXT    NOT NULL,
    source   TEXT    NOT NULL DEFAULT '',
    symbol   TEXT,
    message  TEXT    NOT NULL
);
CREATE INDEX pt_live_debug_log_ts ON pt_live_debug_log (ts);
"""

V2 = """
CREATE TABLE live_orders (
    order_id         TEXT PRIMARY KEY,
    broker_id        TEXT    NOT NULL DEFAULT '',
    session_id       TEXT    NOT NULL DEFAULT '',
    symbol           TEXT    NOT NULL,
    side             TEXT    NOT NULL,
    quantity         INTEGER NOT NULL,
    order_type       TEXT    NOT NULL,
    product          TEXT    NOT NULL DEFAULT 'INTRADAY',
    limit_price      REAL,
    stop_price       REAL,
    status           TEXT    NOT NULL,
    filled_quantity  INTEGER NOT NULL DEFAULT 0,
    avg_fill_price   REAL    NOT NULL DEFAULT 0,
    reject_reason    TEXT    NOT NULL DEFAULT '',
    tag              TEXT    NOT NULL DEFAULT '',
    created_ts       INTEGER NOT NULL,
    updated_ts       INTEGER NOT NULL
);
CREATE INDEX live_orders_session ON live_orders (session_id, created_ts);
CREATE INDEX live_orders_broker ON live_orders (broker_id);
CREATE INDEX live_orders_open ON live_orders (status, symbol);
CREATE INDEX pt_live_debug_log_symbol ON pt_live_debug_log (symbol, ts);
CREATE INDEX live_positions_session ON live_positions (session_id);
"""

V3 = """
CREATE TABLE live_sessions (
    session_id      TEXT PRIMARY KEY,
    segment         INTEGER NOT NULL DEFAULT 1,
    replay_from     INTEGER NOT NULL DEFAULT 0,
    strategy        TEXT    NOT NULL,
    config_json     TEXT    NOT NULL,
    start_cash      REAL    NOT NULL,
    positions_json  TEXT    NOT NULL DEFAULT '[]',
    started_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'running',
    end_cash        REAL,
    end_equity      REAL
);
"""

V4_TABLE = """
CREATE TABLE bt_portfolio_log (
    run_id    TEXT    PRIMARY KEY,
    points    INTEGER NOT NULL,
    ts        BLOB    NOT NULL,
    equity    BLOB    NOT NULL,
    cash      BLOB    NOT NULL,
    exposure  BLOB    NOT NULL
)
"""


def _v4_compact_series(conn: sqlite3.Connection) -> None:
    """One row per run with its series as BLOBs; every run's per-bar rows moved over."""
    conn.execute("ALTER TABLE bt_portfolio_log RENAME TO bt_portfolio_log_v3")
    conn.execute(V4_TABLE)
    run_ids = [r[0] for r in conn.execute("SELECT DISTINCT run_id FROM bt_portfolio_log_v3")]
    for run_id in run_ids:
        cur = conn.execute(
            "SELECT ts, equity, cash, exposure FROM bt_portfolio_log_v3 WHERE run_id = ? "
            "ORDER BY ts",
            (run_id,),
        )
        # epoch seconds are exact in float64; one (n, 4) array, no list of row tuples
        m = np.fromiter(chain.from_iterable(cur), dtype=np.float64).reshape(-1, 4)
        conn.execute(
            "INSERT INTO bt_portfolio_log (run_id, points, ts, equity, cash, exposure) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, len(m), encode_array(m[:, 0].astype(np.int64)), encode_array(m[:, 1]),
             encode_array(m[:, 2]), encode_array(m[:, 3])),
        )  # fmt: skip
    conn.execute("DROP TABLE bt_portfolio_log_v3")


V5 = """
CREATE TABLE optimizations (
    opt_id            TEXT PRIMARY KEY,
    kind              TEXT    NOT NULL DEFAULT 'sweep' CHECK (kind IN ('sweep', 'walkforward')),
    parent_id         TEXT,
    fold              INTEGER,
    strategy          TEXT    NOT NULL,
    config_json       TEXT    NOT NULL,
    space_json        TEXT    NOT NULL,
    constraints_json  TEXT    NOT NULL DEFAULT '[]',
    objective         TEXT    NOT NULL,
    min_trades        INTEGER NOT NULL DEFAULT 0,
    method            TEXT    NOT NULL,
    budget            INTEGER NOT NULL,
    seed              INTEGER NOT NULL DEFAULT 0,
    engine            TEXT    NOT NULL DEFAULT '',
    days_blob         BLOB,
    status            TEXT    NOT NULL DEFAULT 'running',
    error             TEXT,
    summary_json      TEXT,
    code_version      TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX optimizations_created ON optimizations (created_at);
CREATE INDEX optimizations_parent ON optimizations (parent_id, fold);

CREATE TABLE optimization_trials (
    opt_id        TEXT    NOT NULL,
    trial_no      INTEGER NOT NULL,
    params_json   TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('ok', 'refused')),
    score         REAL,
    trades        INTEGER NOT NULL DEFAULT 0,
    metrics_json  TEXT,
    returns_blob  BLOB,
    error         TEXT,
    seconds       REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (opt_id, trial_no)
);
CREATE INDEX optimization_trials_score ON optimization_trials (opt_id, score);
"""

V6 = """
CREATE TABLE live_order_events (
    order_id    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    session_id  TEXT    NOT NULL DEFAULT '',
    ts          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    quantity    INTEGER NOT NULL DEFAULT 0,
    price       REAL,
    reason      TEXT    NOT NULL DEFAULT '',
    broker_id   TEXT    NOT NULL DEFAULT '',
    trade_id    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (order_id, seq)
);
CREATE INDEX live_order_events_session ON live_order_events (session_id, ts);
"""


def _v7_compact_trades(conn: sqlite3.Connection) -> None:
    """One row per field of each run's fills and round trips; every run's rows moved over."""
    conn.execute("DROP INDEX IF EXISTS backtest_trades_symbol")
    conn.execute("ALTER TABLE backtest_trades RENAME TO backtest_trades_v6")
    conn.execute(TABLE)
    runs = [r[0] for r in conn.execute("SELECT DISTINCT run_id FROM backtest_trades_v6")]
    for run_id in runs:
        for kind, fields in FIELDS.items():
            names = [name for name, _ in fields]  # (the old table's columns had these names)
            cur = conn.execute(
                f"SELECT {', '.join(names)} FROM backtest_trades_v6 "
                "WHERE run_id = ? AND kind = ? ORDER BY seq",
                (run_id, kind),
            )
            columns = dict(zip(names, (list(c) for c in zip(*cur, strict=True)), strict=False))
            if columns:  # (a run without rows of this kind keeps none)
                conn.executemany(INSERT, column_rows(run_id, kind, columns))
    conn.execute("DROP TABLE backtest_trades_v6")


SCHEMA = Schema(
    name="trading",
    filename=TRADING_DB,
    migrations=(
        Migration(1, "backtest journal, paper trades, positions, debug log", V1),
        Migration(2, "live orders and readers' indexes", V2),
        Migration(3, "live sessions", V3),
        Migration(4, "backtest series stored compactly, one row per run", _v4_compact_series),
        Migration(5, "optimizations and their trials", V5),
        Migration(6, "live order events", V6),
        Migration(7, "backtest fills and round trips stored compactly", _v7_compact_trades),
    ),
)
