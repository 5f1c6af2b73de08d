"""WAL checkpoints off the writer's thread.

SQLite in WAL mode copies the log back into the database file at a checkpoint, and with
``synchronous=NORMAL`` that is where it syncs to disk: tens of milliseconds. By default the
commit that crosses ``wal_autocheckpoint`` pages runs it, so a live writer's tick batch would now
and then stall for that long. :class:`WalCheckpointer` turns automatic checkpoints off for the
writer's connection and runs passive checkpoints on its own thread and connection instead
(SQLite releases the GIL while it works, and a passive checkpoint never blocks the writer).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from fyerstrade.store.db import BUSY_TIMEOUT_MS

__all__ = ["WalCheckpointer"]

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoint ``path`` every ``interval`` seconds on a daemon thread, for ``writer``."""

    def __init__(self, path: Path, writer: sqlite3.Connection, *, interval: float = 1.0) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        writer.execute("PRAGMA wal_autocheckpoint = 0")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            log.warning("no WAL checkpoints for %s: %s", self.path.name, exc)
            return
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # busy or locked: the next round catches up
                    log.debug("WAL checkpoint of %s skipped: %s", self.path.name, exc)
                if stopping:
                    return
        finally:
            conn.close()
