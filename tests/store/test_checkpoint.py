"""WAL checkpoints on a helper thread: the writer's own commits never checkpoint, the helper
does, and everything committed is in the database file after it stops."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fyerstrade.config import Settings
from fyerstrade.store.checkpoint import WalCheckpointer
from fyerstrade.store.db import open_live
from fyerstrade.store.ticks import insert_live_ticks
from plugins.datasocket import wait_for


def rows(
    n: int, start: int = 0
) -> list[tuple[str, int, float, int, float, float, int, int, int, float]]:
    return [
        ("NSE:SBIN-EQ", 1_000 + i, 100.0, i, 0.0, 0.0, 0, 0, 1, 0.0)
        for i in range(start, start + n)
    ]


def test_the_helper_checkpoints_and_the_writer_does_not(settings: Settings) -> None:
    writer = open_live(settings)
    cp = WalCheckpointer(settings.live_db, writer, interval=0.05)
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    wal = Path(f"{settings.live_db}-wal")
    insert_live_ticks(writer, rows(150_000))  # more than the default 1,000-page threshold
    assert wal.stat().st_size > 1_000 * 4096
    assert settings.live_db.stat().st_size < 1_000 * 4096  # nothing copied back yet
    cp.start()
    try:
        wait_for(lambda: cp.checkpoints >= 2, what="two checkpoints")
        assert settings.live_db.stat().st_size > 1_000 * 4096  # the helper copied it back
        insert_live_ticks(writer, rows(100, start=150_000))
    finally:
        cp.stop()
    writer.close()
    reader = sqlite3.connect(settings.live_db)
    assert reader.execute("SELECT COUNT(*) FROM live_ticks").fetchone()[0] == 150_100
    reader.close()
