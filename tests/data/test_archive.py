"""The tick archive job: batches move atomically; crashes lose and duplicate nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date

import pytest

from fyerstrade.cli import main
from fyerstrade.config import Settings
from fyerstrade.data.archive import DIE_AFTER_BATCH_ENV, DIE_IN_BATCH_ENV, archive_ticks
from fyerstrade.store.db import open_historical, open_live
from fyerstrade.store.ticks import (
    archived_tick_count,
    ensure_partition,
    insert_live_ticks,
    live_tick_count,
    load_ticks,
    tick_partitions,
)

# 2024-01-31 09:15 IST; the second half of the ticks fall on 2024-02-01 (another month)
JAN31 = 1_706_672_700
FEB01 = JAN31 + 86_400
SYMBOLS = ("NSE:SBIN-EQ", "NSE:INFY-EQ", "NSE:TCS-EQ")
N = 600  # ticks in total: 300 per day, 100 per symbol-day


def _ticks() -> list[tuple[str, int, float, int, float, float, int, int, int, float]]:
    rows = []
    for day0 in (JAN31, FEB01):
        for i in range(100):
            for k, sym in enumerate(SYMBOLS):
                ltp = 100.0 * (k + 1) + i / 20
                rows.append(
                    (sym, day0 + i, ltp, 10 * i, ltp - 0.05, ltp + 0.05, 5, 6, 1, day0 + i + 0.1)
                )
    return rows


@pytest.fixture
def filled(settings: Settings) -> Settings:
    live = open_live(settings)
    insert_live_ticks(live, _ticks())
    live.close()
    open_historical(settings).close()
    return settings


def _archived(settings: Settings) -> list[tuple[object, ...]]:
    conn = open_historical(settings)
    rows = conn.execute(
        "SELECT symbol, ts, seq, ltp, volume, bid, ask, bid_qty, ask_qty, last_qty, recv_ts "
        "FROM historical_ticks ORDER BY seq"
    ).fetchall()
    conn.close()
    return rows


def _counts(settings: Settings) -> tuple[int, int]:
    live = open_live(settings)
    hist = open_historical(settings)
    try:
        return live_tick_count(live), archived_tick_count(hist)
    finally:
        live.close()
        hist.close()


def _run_archive_process(settings: Settings, hook: str, batch: int) -> int:
    code = (
        "from fyerstrade.config import load_settings\n"
        "from fyerstrade.data.archive import archive_ticks\n"
        "archive_ticks(load_settings(env_file=None), batch_size=100)\n"
    )
    env = {**os.environ, hook: str(batch)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    return proc.returncode


def _assert_complete(settings: Settings) -> None:
    rows = _archived(settings)
    assert _counts(settings) == (0, N)
    seqs = [r[2] for r in rows]
    assert seqs == list(range(1, N + 1))  # every live id exactly once
    expected = [(r[0], r[1], r[2]) for r in _ticks()]
    assert sorted((r[0], r[1], r[3]) for r in rows) == sorted(expected)


def test_archive_moves_everything_into_month_tables(
    filled: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "archive", "--batch-size", "250", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["moved"] == N and report["batches"] == 3 and report["remaining"] == 0
    assert report["months"] == {"202401": 300, "202402": 300}
    assert report["already_archived"] == 0
    _assert_complete(filled)

    hist = open_historical(filled)
    assert [p.month for p in tick_partitions(hist)] == ["202401", "202402"]
    day = load_ticks(hist, "NSE:INFY-EQ", date(2024, 2, 1))
    assert len(day) == 100 and day.ts[0] == FEB01 and day.ltp[0] == 200.0
    assert day.bid_qty.tolist() == [5] * 100 and day.recv_ts[0] == FEB01 + 0.1
    hist.close()

    assert main(["data", "archive"]) == 0
    assert "nothing to archive" in capsys.readouterr().out
    assert main(["data", "archive", "--months"]) == 0
    out = capsys.readouterr().out
    assert "202401" in out and "300 ticks" in out


@pytest.mark.parametrize(
    ("hook", "batch", "archived_before_rerun"),
    [
        (DIE_AFTER_BATCH_ENV, 2, 200),  # killed between batches 2 and 3
        (DIE_IN_BATCH_ENV, 3, 200),  # killed inside batch 3, after the copy, before the commit
    ],
)
def test_killed_archive_resumes_without_loss_or_duplicates(
    filled: Settings, hook: str, batch: int, archived_before_rerun: int
) -> None:
    assert _run_archive_process(filled, hook, batch) == 17
    assert _counts(filled) == (N - archived_before_rerun, archived_before_rerun)

    report = archive_ticks(filled, batch_size=100)
    assert report.moved == N - archived_before_rerun and report.already_archived == 0
    _assert_complete(filled)


def test_ticks_already_in_the_archive_are_not_copied_twice(filled: Settings) -> None:
    # the state a crash between the archive's commit and the live file's commit leaves behind
    hist = open_historical(filled)
    hist.execute("ATTACH DATABASE ? AS live", (str(filled.live_db),))
    with hist:
        table = ensure_partition(hist, "202401")
        hist.execute(
            f"INSERT INTO {table} SELECT symbol, ts, id, ltp, volume, bid, ask, bid_qty, "
            "ask_qty, last_qty, recv_ts FROM live.live_ticks WHERE id <= 120"
        )
    hist.close()

    report = archive_ticks(filled, batch_size=1000)
    assert report.moved == N and report.already_archived == 120
    assert report.months == {"202401": 180, "202402": 300}
    _assert_complete(filled)


def test_drop_month_needs_confirmation(
    filled: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    archive_ticks(filled)
    assert main(["data", "archive", "--drop-month", "202401"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["data", "archive", "--drop-month", "202401", "--yes"]) == 0
    assert "300 ticks" in capsys.readouterr().out
    assert _counts(filled) == (0, 300)
    conn = sqlite3.connect(filled.historical_db)
    assert conn.execute("SELECT COUNT(*) FROM historical_ticks").fetchone()[0] == 300
    conn.close()
