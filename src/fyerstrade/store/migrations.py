"""Ordered forward migrations, versioned by ``PRAGMA user_version``.

Each database has a :class:`Schema`: its file name and a tuple of :class:`Migration` numbered
1, 2, 3, ... A migration is SQL text (several statements allowed) or a callable taking the
connection; it runs inside one ``BEGIN IMMEDIATE`` transaction together with the
``user_version`` bump, so a failed migration leaves the file exactly at the previous version.
There are no down-migrations: a file whose version is newer than the code knows is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fyerstrade.errors import StoreError

MigrationStep = str | Callable[[sqlite3.Connection], None]


@dataclass(frozen=True, slots=True)
class Migration:
    """One forward step: from ``version - 1`` to ``version``."""

    version: int
    description: str
    step: MigrationStep


@dataclass(frozen=True, slots=True)
class Schema:
    """The migrations of one database file, in order."""

    name: str
    filename: str
    migrations: tuple[Migration, ...]
    page_size: int = 4096  # applied when the file is created (fixed for its life in WAL mode)

    def __post_init__(self) -> None:
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"{self.name}: migrations must be numbered 1..n, got {versions}")

    @property
    def latest(self) -> int:
        return len(self.migrations)


def split_statements(sql: str) -> list[str]:
    """Split SQL text into complete statements (``executescript`` would commit mid-migration)."""
    statements: list[str] = []
    buf: list[str] = []
    for line in sql.splitlines(keepends=True):
        buf.append(line)
        text = "".join(buf)
        if sqlite3.complete_statement(text):
            if text.strip():
                statements.append(text.strip())
            buf = []
    rest = "".join(buf).strip()
    if rest:
        raise ValueError(f"incomplete SQL statement in migration: {rest[:60]!r}")
    return statements


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def newer_schema_error(path: Path | str, found: int, known: int) -> StoreError:
    return StoreError(
        f"{path} was written by a newer fyerstrade (schema {found} > {known}); upgrade fyerstrade"
    )


def migrate(
    conn: sqlite3.Connection, schema: Schema, path: Path | str, target: int | None = None
) -> tuple[int, int]:
    """Apply the pending migrations up to ``target`` (default: latest); return (from, to)."""
    goal = schema.latest if target is None else target
    current = user_version(conn)
    if current > schema.latest:
        raise newer_schema_error(path, current, schema.latest)
    start = current
    for m in schema.migrations:
        if m.version <= current or m.version > goal:
            continue
        if conn.in_transaction:
            conn.commit()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            current = user_version(conn)
            if current >= m.version:
                conn.execute("COMMIT")
                continue
            if isinstance(m.step, str):
                for statement in split_statements(m.step):
                    conn.execute(statement)
            else:
                m.step(conn)
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(
                    f"{path}: migration {m.version} ({m.description}) failed: {exc}; "
                    f"the file stays at schema {current}"
                ) from exc
            raise
        current = m.version
    return start, current
