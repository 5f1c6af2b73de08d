"""The tick archive job: move ``live_ticks`` into the month-partitioned ``historical_ticks``.

How a batch moves
    The historical database is opened as ``main`` and the live database is ATTACHed as
    ``live``. Each batch (a range of ``live_ticks.id``) is, in ONE transaction across both files:
    copied into the month tables (``INSERT OR IGNORE``, key ``(symbol, ts, seq=id)``), then
    deleted from ``live_ticks``; then committed. The batch boundaries are fixed by a snapshot of
    the highest id at the start, so a live writer adding ticks meanwhile does not keep the job
    running forever (those ticks go in the next run).

Why a crash can neither lose nor duplicate a tick
    A crash before the commit rolls back both files. In WAL mode SQLite commits a multi-file
    transaction file by file, ``main`` (the archive) first; a crash between the two commits
    leaves the batch both archived and still in ``live_ticks``, and the rerun's copy of those
    rows is ignored by the primary key before they are deleted. Losing ticks would need the
    delete to be committed without the copy, which the commit order excludes. Rerunning is
    always safe; it moves what is left.

Month layout, catalogue and dropping a month: see :mod:`fyerstrade.store.ticks`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fyerstrade.config import Settings
from fyerstrade.errors import StoreError
from fyerstrade.store.db import connect
from fyerstrade.store.historical_schema import SCHEMA as HISTORICAL
from fyerstrade.store.live_schema import SCHEMA as LIVE
from fyerstrade.store.ticks import TICK_COLUMNS, ensure_partition, month_bounds

DEFAULT_BATCH = 50_000
# Test hooks (used only by the crash tests): exit abruptly after committing batch N, or in the
# middle of batch N (after the copy, before the delete and the commit).
DIE_AFTER_BATCH_ENV = "FYERSTRADE_TEST_ARCHIVE_DIE_AFTER_BATCH"
DIE_IN_BATCH_ENV = "FYERSTRADE_TEST_ARCHIVE_DIE_IN_BATCH"
_CRASH_EXIT_CODE = 17
# Page cache per file for the job: a batch touches every symbol's insertion point in a month's
# B-tree; with the rows sorted by (symbol, ts) and a cache that holds those paths, each page is
# written once per batch instead of once per tick.
_CACHE_KIB = 131_072


@dataclass(slots=True)
class ArchiveReport:
    """What one archive run did."""

    moved: int = 0  # ticks deleted from live_ticks (each now in the archive)
    already_archived: int = 0  # of those, ticks the archive already held (an earlier crash)
    batches: int = 0
    months: dict[str, int] = field(default_factory=dict)  # YYYYMM -> ticks added
    remaining: int = 0  # ticks left in live_ticks (arrived after the run started)
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "moved": self.moved,
            "already_archived": self.already_archived,
            "batches": self.batches,
            "months": dict(self.months),
            "remaining": self.remaining,
            "seconds": round(self.seconds, 3),
        }

    def describe(self) -> str:
        if self.moved == 0:
            return f"nothing to archive ({self.remaining} ticks in live_ticks)"
        per_month = ", ".join(f"{m}: {n:,}" for m, n in sorted(self.months.items()))
        dup = f"; {self.already_archived:,} were already archived" if self.already_archived else ""
        return (
            f"moved {self.moved:,} ticks in {self.batches} batch(es) ({per_month}){dup}; "
            f"{self.remaining:,} left in live_ticks; {self.seconds:.1f} s"
        )


def _hook(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value and value.strip().isdigit() else None


def _month_keys(conn: sqlite3.Connection, lo: int, hi: int) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT strftime('%Y%m', ts + 19800, 'unixepoch') "
        "FROM live.live_ticks WHERE id BETWEEN ? AND ?",
        (lo, hi),
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def _move_batch(conn: sqlite3.Connection, lo: int, hi: int, report: ArchiveReport, n: int) -> None:
    die_in = _hook(DIE_IN_BATCH_ENV)
    conn.execute("BEGIN IMMEDIATE")
    try:
        added = 0
        for month in _month_keys(conn, lo, hi):
            start, end = month_bounds(month)
            table = ensure_partition(conn, month, created_at=int(time.time()))
            cur = conn.execute(
                f"INSERT OR IGNORE INTO main.{table} (symbol, ts, seq, {TICK_COLUMNS}) "
                f"SELECT symbol, ts, id, {TICK_COLUMNS} FROM live.live_ticks "
                "WHERE id BETWEEN ? AND ? AND ts >= ? AND ts < ? ORDER BY symbol, ts, id",
                (lo, hi, start, end),
            )
            added += cur.rowcount
            report.months[month] = report.months.get(month, 0) + cur.rowcount
        if die_in == n:
            os._exit(_CRASH_EXIT_CODE)
        deleted = conn.execute(
            "DELETE FROM live.live_ticks WHERE id BETWEEN ? AND ?", (lo, hi)
        ).rowcount
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    report.moved += deleted
    report.already_archived += deleted - added
    report.batches += 1


def archive_ticks(
    settings: Settings,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[ArchiveReport], None] | None = None,
) -> ArchiveReport:
    """Move every tick now in ``live_ticks`` into the archive, ``batch_size`` ticks per
    transaction; safe to interrupt and rerun at any point. ``on_batch`` sees progress."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    t0 = time.perf_counter()
    # both checked (quick_check) and migrated before the live one is attached
    connect(settings.live_db, LIVE, verify=True).close()
    conn = connect(settings.historical_db, HISTORICAL, verify=True)
    report = ArchiveReport()
    die_after = _hook(DIE_AFTER_BATCH_ENV)
    try:
        conn.execute("ATTACH DATABASE ? AS live", (str(settings.live_db),))
        conn.execute("PRAGMA live.synchronous = NORMAL")
        conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        conn.execute(f"PRAGMA live.cache_size = -{_CACHE_KIB}")
        snapshot = conn.execute("SELECT MAX(id) FROM live.live_ticks").fetchone()[0]
        lo = 0
        while snapshot is not None:
            row = conn.execute(
                "SELECT id FROM live.live_ticks WHERE id > ? AND id <= ? "
                "ORDER BY id LIMIT 1 OFFSET ?",
                (lo, snapshot, batch_size - 1),
            ).fetchone()
            first = conn.execute(
                "SELECT MIN(id) FROM live.live_ticks WHERE id > ? AND id <= ?", (lo, snapshot)
            ).fetchone()[0]
            if first is None:
                break
            hi = int(row[0]) if row is not None else int(snapshot)
            _move_batch(conn, int(first), hi, report, report.batches + 1)
            lo = hi
            if on_batch is not None:
                on_batch(report)
            if die_after == report.batches:
                os._exit(_CRASH_EXIT_CODE)
        report.remaining = int(conn.execute("SELECT COUNT(*) FROM live.live_ticks").fetchone()[0])
    except sqlite3.Error as exc:
        raise StoreError(f"tick archive failed: {exc}; rerun `fyerstrade data archive`") from exc
    finally:
        conn.close()
    report.seconds = time.perf_counter() - t0
    return report
