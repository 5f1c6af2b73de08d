"""Opening, creating, migrating and refusing database files (real files under tmp_path)."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date
from pathlib import Path

import pytest

from fyerstrade.cli import main
from fyerstrade.config import HISTORICAL_DB, Settings
from fyerstrade.domain import Resolution
from fyerstrade.errors import StoreError
from fyerstrade.store import historical_schema, live_schema, trading_schema
from fyerstrade.store.candles import load_candles
from fyerstrade.store.db import connect, init_all, status_all
from fyerstrade.store.integrity import wal_size
from fyerstrade.store.migrations import Migration, Schema, migrate, user_version
from fyerstrade.store.symbols import get_instrument, lot_size_history
from fyerstrade.store.ticks import load_ticks, tick_partitions

EXPECTED_TABLES = {
    "historical_market_data.sqlite": {
        "historical_data",
        "historical_ticks",
        "symbol_master",
        "fetch_ledger",
        "symbol_lot_sizes",
        "tick_partitions",
    },
    "live_market_data.sqlite": {"live_ticks", "live_bars", "live_marks"},
    "trading_log.sqlite": {
        "backtest_runs",
        "backtest_trades",
        "bt_portfolio_log",
        "live_paper_trades",
        "pt_portfolio_log",
        "live_positions",
        "pt_live_debug_log",
        "live_orders",
        "live_sessions",
        "optimizations",
        "optimization_trials",
    },
}


def _names(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table','view') "
            "AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def _side_files(path: Path) -> list[Path]:
    return [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def test_db_init_creates_three_files_with_every_table_then_changes_nothing(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "init"]) == 0
    out = capsys.readouterr().out
    assert out.count("created at schema") == 3
    for name, tables in EXPECTED_TABLES.items():
        path = settings.data_dir / name
        assert tables <= _names(path), name
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        page = 16_384 if name.startswith("historical") else 4096
        assert conn.execute("PRAGMA page_size").fetchone()[0] == page
        conn.close()
    before = {n: (settings.data_dir / n).read_bytes() for n in EXPECTED_TABLES}

    assert main(["db", "init"]) == 0
    out = capsys.readouterr().out
    for name, latest in (
        ("historical_market_data.sqlite", historical_schema.SCHEMA.latest),
        ("live_market_data.sqlite", live_schema.SCHEMA.latest),
        ("trading_log.sqlite", trading_schema.SCHEMA.latest),
    ):
        assert f"{name}: up to date ({latest})" in out
    assert "created" not in out and "upgraded" not in out
    after = {n: (settings.data_dir / n).read_bytes() for n in EXPECTED_TABLES}
    assert after == before


def _build_historical_v1(path: Path) -> None:
    conn = connect(path, historical_schema.SCHEMA, upgrade=False)
    migrate(conn, historical_schema.SCHEMA, path, target=1)
    assert user_version(conn) == 1
    with conn:
        conn.executemany(
            "INSERT INTO historical_data VALUES (?,?,?,?,?,?,?,?)",
            [
                ("NSE:SBIN-EQ", "1", 1_704_166_200 + 60 * i, 600.0, 601.0, 599.0, 600.5, 10 + i)
                for i in range(5)
            ],
        )
        # ticks in two IST months: 2024-01-31 15:00 IST and 2024-02-01 09:15 IST
        conn.executemany(
            "INSERT INTO historical_ticks (symbol, ts, ltp, volume, bid, ask, bid_qty, ask_qty, "
            "last_qty, recv_ts) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                ("NSE:SBIN-EQ", 1_706_693_400, 610.0, 100, 609.9, 610.1, 5, 7, 1, 1_706_693_400.2),
                ("NSE:SBIN-EQ", 1_706_693_401, 610.5, 150, 610.4, 610.6, 5, 7, 50, 1_706_693_401.1),
                ("NSE:SBIN-EQ", 1_706_759_100, 612.0, 20, 611.9, 612.1, 3, 4, 20, 1_706_759_100.3),
            ],
        )
        conn.execute(
            "INSERT INTO symbol_master (fytoken, symbol, name, lot_size, tick_size, last_update, "
            "exchange, segment, kind, segment_name, updated_at) "
            "VALUES ('101125120035003', 'NSE:NIFTY25DECFUT', 'NIFTY 30 Dec 25 FUT', 75, 0.1, "
            "'2025-06-02', 10, 11, 'FUTURE', 'NSE_FO', 1748822400)"
        )
        conn.execute(
            "INSERT INTO fetch_ledger (symbol, resolution, range_from, range_to, candles, status, "
            "fetched_at) VALUES ('NSE:SBIN-EQ', '1', 1, 2, 0, 'no_data', 3)"
        )
    conn.close()


def test_historical_v1_database_migrates_to_latest_with_rows_intact(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _build_historical_v1(settings.historical_db)
    assert main(["db", "init"]) == 0
    out = capsys.readouterr().out
    latest = historical_schema.SCHEMA.latest
    assert f"{settings.historical_db}: upgraded 1 → {latest}" in out

    conn = connect(settings.historical_db)
    assert user_version(conn) == latest
    candles = load_candles(conn, "NSE:SBIN-EQ", Resolution.M1)
    assert candles.volume.tolist() == [10, 11, 12, 13, 14]
    assert candles.close.tolist() == [600.5] * 5
    assert [p.month for p in tick_partitions(conn)] == ["202401", "202402"]
    jan31 = load_ticks(conn, "NSE:SBIN-EQ", date(2024, 1, 31))
    assert jan31.ltp.tolist() == [610.0, 610.5]
    assert jan31.last_qty.tolist() == [1, 50]
    assert load_ticks(conn, "NSE:SBIN-EQ", date(2024, 2, 1)).ltp.tolist() == [612.0]
    assert conn.execute("SELECT COUNT(*) FROM historical_ticks").fetchone()[0] == 3
    # the lot-size history is seeded from the master as of its last update
    assert lot_size_history(conn, "NSE:NIFTY25DECFUT") == [(date(2025, 6, 2), 75)]
    ins = get_instrument(conn, "NSE:NIFTY25DECFUT")
    assert ins is not None and ins.lot_size == 75 and ins.name == "NIFTY 30 Dec 25 FUT"
    assert conn.execute("SELECT status FROM fetch_ledger").fetchall() == [("no_data",)]
    conn.close()


def test_trading_v1_database_gains_live_orders_with_runs_intact(settings: Settings) -> None:
    path = settings.trading_db
    conn = connect(path, trading_schema.SCHEMA, upgrade=False)
    migrate(conn, trading_schema.SCHEMA, path, target=1)
    with conn:
        conn.execute(
            "INSERT INTO backtest_runs (run_id, strategy, resolution, capital, created_at) "
            "VALUES ('r1', 'sma_crossover', '5', 100000, 1700000000)"
        )
    conn.close()
    reports = {r.path.name: r for r in init_all(settings)}
    assert (
        reports["trading_log.sqlite"].describe() == f"upgraded 1 → {trading_schema.SCHEMA.latest}"
    )
    assert "live_orders" in _names(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT run_id, strategy FROM backtest_runs").fetchall() == [
        ("r1", "sma_crossover")
    ]
    conn.close()


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_newer_schema_is_refused_and_left_byte_for_byte(settings: Settings, journal: str) -> None:
    path = settings.historical_db
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("CREATE TABLE future_table (x)")
    conn.execute("INSERT INTO future_table VALUES (1)")
    conn.commit()
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert not _side_files(path)
    before = path.read_bytes()

    latest = historical_schema.SCHEMA.latest
    with pytest.raises(
        StoreError, match=rf"newer fyerstrade \(schema 99 > {latest}\); upgrade fyerstrade"
    ):
        connect(path)
    with pytest.raises(StoreError, match="schema 99"):
        init_all(settings)
    assert path.read_bytes() == before
    assert not _side_files(path)
    # init checks every file before touching any: the other two were not created
    assert not settings.live_db.exists() and not settings.trading_db.exists()


@pytest.mark.parametrize(
    "content",
    [b"date,open,high\n2024-01-01,1,2\n" * 20, b"SQLite format 3", b"\x00" * 4096],
    ids=["csv", "short-header", "zeros"],
)
def test_not_a_database_is_named_and_untouched(
    settings: Settings, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = settings.live_db
    path.parent.mkdir(parents=True)
    path.write_bytes(content)

    assert main(["db", "init"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(path) in err[0] and "not a SQLite database" in err[0]
    assert path.read_bytes() == content
    assert not _side_files(path)
    assert not settings.historical_db.exists()
    with pytest.raises(StoreError, match="not a SQLite database"):
        connect(path)
    assert path.read_bytes() == content and not _side_files(path)


def test_failed_migration_rolls_back_to_previous_version(tmp_path: Path) -> None:
    schema = Schema(
        "demo",
        "demo.sqlite",
        (
            Migration(1, "first", "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);"),
            Migration(2, "broken", "CREATE TABLE b (x);\nINSERT INTO missing VALUES (1);"),
        ),
    )
    path = tmp_path / "demo.sqlite"
    # A new file whose migrations fail is not created at all (it is built beside, then linked).
    with pytest.raises(StoreError, match=r"migration 2 \(broken\) failed"):
        connect(path, schema)
    assert [p.name for p in tmp_path.iterdir()] == ["work"]  # the test's working directory
    connect(path, Schema("demo", "demo.sqlite", schema.migrations[:1])).close()
    with pytest.raises(StoreError, match=r"migration 2 \(broken\) failed.*stays at schema 1"):
        connect(path, schema)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT x FROM a").fetchall() == [(1,)]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'").fetchall() == []
    conn.close()


def test_unknown_file_name_needs_a_schema(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unknown database file name"):
        connect(tmp_path / "other.sqlite")
    assert not (tmp_path / "other.sqlite").exists()


def test_status_reports_versions_sizes_counts_and_missing_files(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = status_all(settings)
    assert [s.exists for s in missing] == [False, False, False]
    assert not settings.historical_db.exists()  # status never creates a file

    init_all(settings)
    conn = connect(settings.live_db)
    with conn:
        conn.execute("INSERT INTO live_ticks (symbol, ts, ltp, volume) VALUES ('X', 1, 2.0, 3)")
    conn.close()
    assert main(["db", "status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {d["name"]: d for d in data}
    assert by_name["live"]["version"] == live_schema.SCHEMA.latest
    assert by_name["live"]["tables"] == {"live_ticks": 1, "live_bars": 0, "live_marks": 0}
    assert by_name["historical"]["version"] == historical_schema.SCHEMA.latest
    assert by_name["historical"]["tables"]["historical_data"] == 0
    assert by_name["trading"]["size_bytes"] > 0

    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    latest = trading_schema.SCHEMA.latest
    assert f"{settings.trading_db}: schema {latest}" in out and "live_sessions" in out


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    # SQLite refuses a WAL switch at once ("database is locked", no busy handler) while another
    # connection holds the new file: 4 racing opens hit that in about one try in ten
    errors: list[BaseException] = []
    for attempt in range(30):
        path = tmp_path / str(attempt) / HISTORICAL_DB
        barrier = threading.Barrier(4)

        def open_it(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(timeout=10)
                connect(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == [], f"attempt {attempt}"
        conn = sqlite3.connect(path)
        latest = historical_schema.SCHEMA.latest
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()


def test_wal_size_is_zero_once_the_last_connection_removed_the_wal(tmp_path: Path) -> None:
    # the race behind a FileNotFoundError of concurrent opens: a connection closing between a
    # look for the WAL and its stat removes it; wal_size takes one look
    path = tmp_path / HISTORICAL_DB
    conn = connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    assert wal_size(path) > 0
    conn.close()
    assert not Path(f"{path}-wal").exists()
    assert wal_size(path) == 0
