"""The pre-write quick check is proportionate: a store that passed it, or that only this code
wrote to through SQLite since, is not read whole again; anything else touching the file (another
writer, damage, a copy) makes the next bulk writer check it, and a damaged store is still never
written to."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fyerstrade.commands.backtest import _trading
from fyerstrade.config import Settings
from fyerstrade.errors import StoreError
from fyerstrade.store import db, trading_schema
from fyerstrade.store.integrity import (
    file_state,
    note_verified,
    sqlite_check,
    verified_path,
    verified_unchanged,
)

PAGE = 4096


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """The stores the opening code ran SQLite's check on (the real check runs)."""
    seen: list[Path] = []

    def counted(conn: sqlite3.Connection, *, quick: bool) -> list[str]:
        seen.append(Path(conn.execute("PRAGMA database_list").fetchone()[2]))
        return sqlite_check(conn, quick=quick)

    monkeypatch.setattr(db, "sqlite_check", counted)
    yield seen


def _open_verified(path: Path) -> sqlite3.Connection:
    return db.connect(path, trading_schema.SCHEMA, verify=True)


def _fill(path: Path, rows: int = 3000) -> None:
    """Another writer (not through our save path): a table spread over many pages."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS other (k INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO other (v) VALUES (?)", [("x" * 200,)] * rows)
    conn.close()


def test_an_unchanged_store_is_checked_once(settings: Settings, checks: list[Path]) -> None:
    path = settings.trading_db
    _open_verified(path).close()
    assert len(checks) == 1 and verified_path(path).exists()
    _open_verified(path).close()
    _open_verified(path).close()
    assert len(checks) == 1
    # a reader (no verify) leaves it unchanged too: its empty WAL is not a change
    db.connect(path, trading_schema.SCHEMA).close()
    _open_verified(path).close()
    assert len(checks) == 1


def test_another_writer_makes_the_next_open_check(settings: Settings, checks: list[Path]) -> None:
    path = settings.trading_db
    _open_verified(path).close()
    _fill(path)
    _open_verified(path).close()
    assert len(checks) == 2
    _open_verified(path).close()
    assert len(checks) == 2


def test_our_own_save_keeps_the_store_verified(settings: Settings, checks: list[Path]) -> None:
    with _trading(settings, verify=True) as conn, conn:
        conn.execute(
            "INSERT INTO backtest_runs (run_id, strategy, resolution, capital, created_at) "
            "VALUES ('r1', 'sma_crossover', '5', 100000, 1700000000)"
        )
    assert len(checks) == 1
    with _trading(settings, verify=True):
        pass
    assert len(checks) == 1
    with pytest.raises(RuntimeError), _trading(settings, verify=True) as conn:
        conn.execute("DELETE FROM backtest_runs")  # not committed: the save failed
        raise RuntimeError("the save failed")
    assert verified_unchanged(settings.trading_db, file_state(settings.trading_db))


def test_damage_after_a_verified_save_is_found_and_nothing_written(
    settings: Settings, checks: list[Path]
) -> None:
    path = settings.trading_db
    _open_verified(path).close()
    _fill(path)
    _open_verified(path).close()
    note_verified(path)
    data = bytearray(path.read_bytes())
    pages = len(data) // PAGE
    assert pages > 10
    for page in range(pages // 3, 2 * pages // 3):
        at = page * PAGE
        data[at : at + 32] = bytes(b ^ 0xFF for b in data[at : at + 32])
    path.write_bytes(bytes(data))  # same size: only the file's times say it changed
    damaged = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="is damaged"):
        _open_verified(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == damaged
    assert len(checks) == 3


@pytest.mark.parametrize("record", ["", "garbage\n", "torn"])
def test_a_stale_or_torn_record_means_a_check(
    settings: Settings, checks: list[Path], record: str
) -> None:
    path = settings.trading_db
    _open_verified(path).close()
    state = file_state(path)
    assert state is not None
    verified_path(path).write_text(state[:10] if record == "torn" else record)
    _open_verified(path).close()
    assert len(checks) == 2
