"""The backtest journal: a saved run loads back equal, concurrent saves never mix rows, runs can
be listed and deleted, and unknown run ids fail with a message naming them."""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from fyerstrade.backtest.journal import (
    StoredRun,
    code_version,
    delete_run,
    list_runs,
    load_run,
    new_run_id,
    save_stored_run,
)
from fyerstrade.config import Settings
from fyerstrade.domain import Fill, ProductType, RoundTrip, Side
from fyerstrade.errors import InputError, StoreError
from fyerstrade.store.arrays import encode_array, encode_texts

T0 = 1_704_167_100  # 2024-01-02 09:15 IST


def _sample_run(seed: int = 1, n: int = 500) -> StoredRun:
    rng = np.random.default_rng(seed)
    ts = T0 + 300 * np.arange(n, dtype=np.int64)
    equity = 100_000.0 + np.cumsum(rng.normal(0, 100, n))
    fills = [
        Fill(f"o{seed}-{i}", "NSE:SBIN-EQ", Side.BUY if i % 2 == 0 else Side.SELL, 10 * seed,
             600.0 + i + seed / 100, T0 + 600 * i, costs=1.25 * i, product=ProductType.CNC,
             tag="entry" if i % 2 == 0 else "exit")
        for i in range(6)
    ]  # fmt: skip
    trades = [
        RoundTrip("NSE:SBIN-EQ", Side.BUY, 10 * seed, T0 + 1200 * i, 600.0 + i, T0 + 1200 * i + 600,
                  601.0 + i, 9.5 * seed, 0.5, "signal", ProductType.CNC)
        for i in range(3)
    ]  # fmt: skip
    return StoredRun(
        strategy="sma_crossover",
        params={"fast": 10 + seed, "slow": 30},
        symbols=("NSE:SBIN-EQ", "NSE:INFY-EQ"),
        resolution="5",
        start=date(2024, 1, 2),
        end=date(2024, 1, 31),
        mode="positional",
        capital=100_000.0,
        quantity=10 * seed,
        costs_enabled=False,
        slippage={"ticks": 1.0, "bps": 0.0},
        config={"strategy": "sma_crossover", "entry_start": "09:20"},
        metrics={"total_return": 0.0123, "profit_factor": math.inf, "sharpe": math.nan,
                 "trades": 3},
        trades=trades,
        fills=fills,
        equity_ts=ts,
        equity=equity,
        cash=equity - 5_000.0,
        exposure=np.full(n, 5_000.0),
        started_at=1_700_000_000.25,
        finished_at=1_700_000_001.75,
    )  # fmt: skip


def _connect(settings: Settings) -> sqlite3.Connection:
    from fyerstrade.store.db import open_trading

    return open_trading(settings)


@pytest.fixture
def conn(settings: Settings) -> sqlite3.Connection:
    return _connect(settings)


def _assert_same(a: StoredRun, b: StoredRun) -> None:
    for name in StoredRun.__slots__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), name
        elif name == "metrics":
            assert x.keys() == y.keys()
            for k in x:
                assert x[k] == y[k] or (math.isnan(x[k]) and math.isnan(y[k])), k
        else:
            assert x == y, name


def test_save_then_load_gives_the_same_run(conn: sqlite3.Connection) -> None:
    run = _sample_run()
    run_id = save_stored_run(conn, run, now=1_704_190_000)
    assert re.fullmatch(r"20240102-\d{6}-[0-9a-f]{6}", run_id)
    assert run.run_id == run_id and run.code_version == code_version()
    loaded = load_run(conn, run_id)
    _assert_same(run, loaded)
    assert loaded.metrics["profit_factor"] == math.inf
    assert loaded.duration_seconds == 1.5


def test_run_ids_sort_by_time_and_are_unique() -> None:
    ids = {new_run_id(1_704_190_000.0) for _ in range(200)}
    assert len(ids) == 200
    assert new_run_id(1_704_190_000) < new_run_id(1_704_190_001)
    assert new_run_id(1_704_190_000).startswith("20240102-")  # IST: 15:36:40


def test_code_version_names_the_package_version() -> None:
    from fyerstrade import __version__

    assert code_version().startswith(__version__)


def test_concurrent_saves_never_mix_rows(settings: Settings) -> None:
    _connect(settings).close()  # create and migrate the file once
    saved: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        try:
            c = _connect(settings)
            saved[seed] = [save_stored_run(c, _sample_run(seed, n=2_000)) for _ in range(4)]
            c.close()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    c = _connect(settings)
    all_ids = saved[1] + saved[2]
    assert len(set(all_ids)) == 8
    for seed, ids in saved.items():
        expected = _sample_run(seed, n=2_000)
        for run_id in ids:
            got = load_run(c, run_id)
            assert [f.order_id for f in got.fills] == [f.order_id for f in expected.fills]
            assert {t.quantity for t in got.trades} == {10 * seed}
            assert np.array_equal(got.equity, expected.equity)
    assert len(list_runs(c, limit=100)) == 8


def test_list_runs_newest_first_with_headline_metrics(conn: sqlite3.Connection) -> None:
    first = save_stored_run(conn, _sample_run(1), now=1_704_190_000)
    second = save_stored_run(conn, _sample_run(2), now=1_704_190_060)
    runs = list_runs(conn)
    assert [r.run_id for r in runs] == [second, first]
    assert runs[0].params == {"fast": 12, "slow": 30}
    assert runs[0].symbols == ("NSE:SBIN-EQ", "NSE:INFY-EQ")
    assert runs[0].start == date(2024, 1, 2) and runs[0].end == date(2024, 1, 31)
    assert runs[0].metrics["total_return"] == 0.0123
    assert [r.run_id for r in list_runs(conn, limit=1)] == [second]
    assert list_runs(conn, strategy="other") == []


def test_delete_removes_every_row_of_that_run_only(conn: sqlite3.Connection) -> None:
    keep = save_stored_run(conn, _sample_run(1))
    gone = save_stored_run(conn, _sample_run(2))
    delete_run(conn, gone)
    for table in ("backtest_runs", "backtest_trades", "bt_portfolio_log"):
        ids = {r[0] for r in conn.execute(f"SELECT DISTINCT run_id FROM {table}")}
        assert ids == {keep}, table
    with pytest.raises(InputError, match=gone):
        load_run(conn, gone)
    with pytest.raises(InputError, match="unknown backtest run 'nope'"):
        delete_run(conn, "nope")


def test_failed_save_leaves_nothing_behind(conn: sqlite3.Connection) -> None:
    run = _sample_run()
    run.cash = run.cash[:-1]
    with pytest.raises(ValueError, match="same length"):
        save_stored_run(conn, run)
    bad = _sample_run()
    # a NOT NULL violation half way through the transaction rolls everything back
    bad.fills[-1] = Fill("o", None, Side.BUY, 1, 1.0, 0)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        save_stored_run(conn, bad)
    for table in ("backtest_runs", "backtest_trades", "bt_portfolio_log"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table


def test_unknown_run_id_names_it_and_hints_recent(conn: sqlite3.Connection, tmp_path: Path) -> None:
    run_id = save_stored_run(conn, _sample_run())
    with pytest.raises(InputError) as err:
        load_run(conn, "20990101-000000-abcdef")
    assert "20990101-000000-abcdef" in str(err.value) and run_id in str(err.value)


def test_series_are_one_row_per_run(conn: sqlite3.Connection) -> None:
    run = _sample_run(n=5000)
    run_id = save_stored_run(conn, run)
    assert conn.execute("SELECT COUNT(*), MAX(points) FROM bt_portfolio_log").fetchone() == (
        1,
        5000,
    )
    (size,) = conn.execute(
        "SELECT length(ts) + length(equity) + length(cash) + length(exposure) "
        "FROM bt_portfolio_log WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    assert size < 5000 * 8 * 3  # bar times and the constant exposure compress


def test_v3_journal_migrates_its_per_bar_rows(settings: Settings) -> None:
    """A trading_log written before series were compact keeps every run's curve, exactly."""
    from fyerstrade.store import trading_schema
    from fyerstrade.store.db import connect
    from fyerstrade.store.migrations import migrate, user_version

    path = settings.trading_db
    old = connect(path, trading_schema.SCHEMA, upgrade=False)
    migrate(old, trading_schema.SCHEMA, path, target=3)
    curves = {
        "r1": [
            (T0 + 60 * i, 100_000.0 + i * 0.25, 90_000.0, 0.5 if i % 3 else 0.0) for i in range(400)
        ],
        "r2": [(T0, 5.0, 5.0, 0.0)],
    }
    with old:
        for run_id, rows in curves.items():
            _old_run_row(old, run_id)
            old.executemany(
                "INSERT INTO bt_portfolio_log (run_id, ts, equity, cash, exposure) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, *r) for r in reversed(rows)],  # stored order must not matter
            )
        old.execute(
            "INSERT INTO backtest_runs (run_id, strategy, resolution, start_ts, end_ts, capital, "
            f"created_at) VALUES ('r3', 'sma_crossover', '1', {T0}, {T0}, 100000, 1700000000)"
        )
    old.close()

    conn = connect(path, trading_schema.SCHEMA)
    assert user_version(conn) == trading_schema.SCHEMA.latest
    for run_id, rows in curves.items():
        run = load_run(conn, run_id)
        ts, equity, cash, exposure = (list(c) for c in zip(*rows, strict=True))
        assert run.equity_ts.tolist() == ts and run.equity.tolist() == equity
        assert run.cash.tolist() == cash and run.exposure.tolist() == exposure
    assert len(load_run(conn, "r3").equity) == 0  # a run without a curve stays without one
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "bt_portfolio_log_v3" not in tables
    conn.close()


def test_fills_and_round_trips_are_one_row_per_field(conn: sqlite3.Connection) -> None:
    """Tens of thousands of fills are a handful of BLOB rows, and load back exactly."""
    run = _sample_run()
    run.fills = [
        Fill(f"O{i}", "NSE:SBIN-EQ" if i % 3 else "NFO:NIFTY24JANFUT", Side.BUY if i % 2 else
             Side.SELL, 25 * (i % 7 + 1), 600.05 + i * 0.05, T0 + 60 * i, 0.1 * i,
             ProductType.MARGIN if i % 3 == 0 else ProductType.INTRADAY, "entry" if i % 2 else "")
        for i in range(20_000)
    ]  # fmt: skip
    run_id = save_stored_run(conn, run)
    rows = conn.execute(
        "SELECT kind, COUNT(*) FROM backtest_trades WHERE run_id = ? GROUP BY kind", (run_id,)
    ).fetchall()
    assert dict(rows) == {"fill": 9, "round_trip": 11}
    loaded = load_run(conn, run_id)
    assert loaded.fills == run.fills and loaded.trades == run.trades
    assert [type(f.side) for f in loaded.fills[:2]] == [Side, Side]
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "backtest_trades_symbol" not in indexes


def test_a_run_without_fills_saves_and_loads_empty(conn: sqlite3.Connection) -> None:
    run = _sample_run()
    run.fills, run.trades = [], []
    loaded = load_run(conn, save_stored_run(conn, run))
    assert loaded.fills == [] and loaded.trades == []


@pytest.mark.parametrize(
    ("kind", "name", "damage", "why"),
    [
        ("fill", "side", encode_texts(["BUY", "HOLD"] + ["SELL"] * 4), "a fill side 'HOLD'"),
        ("round_trip", "product", encode_texts(["CNC", "CASH", "CNC"]), "product 'CASH'"),
        ("fill", "price", b"\x00\x01", "too short"),
        ("round_trip", "quantity", None, "round_trip columns differ in length"),
        ("fill", "ts", encode_array(np.arange(5, dtype=np.int64)), "differ in length"),
    ],
)
def test_damaged_trade_columns_are_one_error_naming_the_run(
    conn: sqlite3.Connection, kind: str, name: str, damage: bytes | None, why: str
) -> None:
    # A saved run whose trade columns were damaged outside us (an edited or half-restored file)
    # fails as it loads, with what to do, not later in whoever reads a trade.
    run_id = save_stored_run(conn, _sample_run())
    if damage is None:
        conn.execute(
            "DELETE FROM backtest_trades WHERE run_id = ? AND kind = ? AND name = ?",
            (run_id, kind, name),
        )
    else:
        conn.execute(
            "UPDATE backtest_trades SET data = ? WHERE run_id = ? AND kind = ? AND name = ?",
            (damage, run_id, kind, name),
        )
    with pytest.raises(StoreError) as err:
        load_run(conn, run_id)
    message = str(err.value)
    assert message.startswith(f"backtest run {run_id}: its stored trades are damaged (")
    assert why in message and f"fyerstrade backtest delete {run_id}" in message


def test_v6_journal_migrates_its_fill_and_trade_rows(settings: Settings) -> None:
    """A trading_log written with one row per fill and round trip keeps every one, exactly."""
    from fyerstrade.store import trading_schema
    from fyerstrade.store.db import connect
    from fyerstrade.store.migrations import migrate, user_version

    path = settings.trading_db
    old = connect(path, trading_schema.SCHEMA, upgrade=False)
    migrate(old, trading_schema.SCHEMA, path, target=6)
    runs = {"r1": _sample_run(1), "r2": _sample_run(2)}
    runs["r2"].trades = []
    with old:
        for run_id, run in runs.items():
            _old_run_row(old, run_id)
            rows = [
                (run_id, "fill", i, f.symbol, str(f.side), f.quantity, f.ts, f.price, None, None,
                 None, None, None, f.costs, None, f.order_id or None, f.tag, str(f.product))
                for i, f in enumerate(run.fills)
            ] + [
                (run_id, "round_trip", i, t.symbol, str(t.side), t.quantity, t.exit_ts,
                 t.exit_price, t.entry_ts, t.entry_price, t.exit_ts, t.exit_price, t.pnl, t.costs,
                 t.exit_reason, None, "", str(t.product))
                for i, t in enumerate(run.trades)
            ]  # fmt: skip
            old.executemany(
                "INSERT INTO backtest_trades (run_id, kind, seq, symbol, side, quantity, ts, "
                "price, entry_ts, entry_price, exit_ts, exit_price, pnl, costs, exit_reason, "
                f"order_id, tag, product) VALUES ({', '.join('?' * 18)})",
                reversed(rows),  # stored order must not matter: seq decides
            )
    old.close()

    conn = connect(path, trading_schema.SCHEMA)
    assert user_version(conn) == trading_schema.SCHEMA.latest
    for run_id, run in runs.items():
        loaded = load_run(conn, run_id)
        assert loaded.fills == run.fills and loaded.trades == run.trades, run_id
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "backtest_trades_v6" not in tables and "backtest_trades_symbol" not in tables
    conn.close()


def _old_run_row(conn: sqlite3.Connection, run_id: str) -> None:
    """A bare run row, as any schema since the first holds it (for the migration tests)."""
    conn.execute(
        "INSERT INTO backtest_runs (run_id, strategy, resolution, start_ts, end_ts, capital, "
        "created_at) VALUES (?, 'sma_crossover', '1', ?, ?, 100000, 1700000000)",
        (run_id, T0, T0 + 86_400),
    )
