"""Opening the three databases: safety checks, WAL, busy timeout, migrations; init and status.

:func:`connect` refuses, before SQLite touches the file (so no ``-wal``/``-shm`` side files
appear and not a byte changes):

- a file that does not start with the 16-byte SQLite header ("not a SQLite database");
- a file whose ``user_version`` (read from the header, offset 60) is newer than this code knows;
- a damaged file (:mod:`fyerstrade.store.integrity`): empty, truncated, or marked damaged by an
  earlier check; with ``verify=True`` (commands that write in bulk) also one that fails SQLite's
  ``quick_check``.

A store that does not exist yet is built complete (page size, WAL, every migration) in a temporary
file beside it and hard-linked into place, so the store's own path never holds a half-made file:
a zero-length store file is damage, never a new store.

It then opens the file, sets WAL mode, ``busy_timeout`` and ``synchronous=NORMAL`` (durable in WAL
up to the last checkpointed commit, the usual trade-off), and applies pending migrations. Which
migrations apply is decided by the file name (``historical_market_data.sqlite`` etc.) unless a
:class:`~fyerstrade.store.migrations.Schema` is passed.

Connections use Python's default transaction handling: store functions wrap their writes in
``with conn:`` (one transaction, rolled back on error). Each connection belongs to the thread
that opened it; one writer per database per process (see DESIGN.md).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from fyerstrade.config import Settings
from fyerstrade.errors import StoreError
from fyerstrade.store import historical_schema, live_schema, trading_schema
from fyerstrade.store.integrity import (
    SQLITE_HEADER,
    CheckResult,
    check_file,
    damaged_reason,
    file_state,
    header_problem,
    is_corruption,
    mark_damaged,
    marked_damaged_message,
    note_opened,
    note_verified,
    recovery_hint,
    sqlite_check,
    verified_unchanged,
    wal_size,
)
from fyerstrade.store.migrations import Schema, migrate, newer_schema_error, user_version

BUSY_TIMEOUT_MS = 10_000
SCHEMAS: tuple[Schema, ...] = (
    historical_schema.SCHEMA,
    live_schema.SCHEMA,
    trading_schema.SCHEMA,
)
_BY_FILENAME = {s.filename: s for s in SCHEMAS}


@dataclass(frozen=True, slots=True)
class InitReport:
    """What ``init_all`` did to one file."""

    path: Path
    created: bool
    from_version: int
    to_version: int

    def describe(self) -> str:
        if self.created:
            return f"created at schema {self.to_version}"
        if self.from_version != self.to_version:
            return f"upgraded {self.from_version} → {self.to_version}"
        return f"up to date ({self.to_version})"


@dataclass(frozen=True, slots=True)
class DbStatus:
    """One database file as ``fyerstrade db status`` shows it."""

    name: str
    path: Path
    exists: bool
    version: int | None
    latest_version: int
    size_bytes: int
    tables: dict[str, int] = field(default_factory=dict)
    check: CheckResult | None = None  # SQLite's integrity (or quick) check, when it was run

    @property
    def ok(self) -> bool:
        return self.check is None or self.check.ok

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "exists": self.exists,
            "version": self.version,
            "latest_version": self.latest_version,
            "size_bytes": self.size_bytes,
            "tables": dict(self.tables),
            "integrity": self.check.as_json() if self.check is not None else None,
        }


def schema_for(path: Path) -> Schema:
    """The schema of a database file, by its file name."""
    schema = _BY_FILENAME.get(path.name)
    if schema is None:
        names = ", ".join(sorted(_BY_FILENAME))
        raise StoreError(f"{path}: unknown database file name; expected one of {names}")
    return schema


def header_version(path: Path) -> int | None:
    """``user_version`` from the file header without opening it with SQLite.

    None when the file does not exist. Raises StoreError when the file is not a SQLite database,
    is damaged by its header (empty, truncated) or was marked damaged by an earlier check.
    """
    if not path.exists():
        return None
    if not path.is_file():
        raise StoreError(f"{path} is not a file; remove it or choose another FYERSTRADE_DATA_DIR")
    reason = damaged_reason(path)
    if reason is not None:
        raise StoreError(marked_damaged_message(path, reason))
    try:
        with path.open("rb") as f:
            head = f.read(100)
            size = f.seek(0, 2)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}; check its permissions") from exc
    problem = header_problem(path, head, size, has_wal=wal_size(path) > 0)
    if problem is not None:
        raise StoreError(
            f"{path} is damaged: {problem}; nothing was changed; {recovery_hint(path)}"
        )
    if len(head) < 100 or head[:16] != SQLITE_HEADER:
        raise StoreError(
            f"{path} is not a SQLite database; move it away (nothing was changed) "
            "or choose another FYERSTRADE_DATA_DIR"
        )
    return int.from_bytes(head[60:64], "big")


def _journal_mode_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL (a no-op once the file is in WAL), retrying while another connection holds
    the lock: SQLite answers this pragma with "database is locked" at once, without the busy
    handler, when several processes open a new file together."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.001
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _create(path: Path, schema: Schema, *, upgrade: bool) -> bool:
    """Build a new store beside ``path`` (page size, WAL, migrations unless ``upgrade`` is
    False) and hard-link it into place; False when another process created it first. A failure
    leaves nothing behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from exc
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        try:
            conn = sqlite3.connect(tmp, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                conn.execute(f"PRAGMA page_size = {int(schema.page_size)}")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{path}: cannot use WAL mode here (got {mode})")
                if upgrade:
                    migrate(conn, schema, path)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create {path}: {exc}") from exc
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: a plain rename, if still free
            if path.exists():
                return False
            tmp.replace(path)
        return True
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                Path(f"{tmp}{suffix}").unlink()


def _open(
    path: Path, schema: Schema, *, create: bool = True, upgrade: bool = True, verify: bool = False
) -> sqlite3.Connection:
    found = header_version(path)
    if found is None and create:
        _create(path, schema, upgrade=upgrade)
        found = header_version(path)
    wal = Path(f"{path}-wal")
    if found is not None and found > schema.latest and not wal.exists():
        raise newer_schema_error(path, found, schema.latest)
    # the state before our connection makes its empty WAL; unchanged since a check: no check
    state = file_state(path) if verify else None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc
    note_opened(path)
    try:
        current = user_version(conn)  # a read: creates no side files in rollback mode
        if current > schema.latest:
            raise newer_schema_error(path, current, schema.latest)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = _journal_mode_wal(conn)
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot switch to WAL mode (got {mode}); is it read-only?")
        conn.execute("PRAGMA synchronous = NORMAL")
        if verify and not verified_unchanged(path, state):
            problems = sqlite_check(conn, quick=True)
            if problems:
                mark_damaged(path, problems[0])
                raise StoreError(
                    f"{path} is damaged ({problems[0]}); nothing was written to it; "
                    f"{recovery_hint(path)}; run `fyerstrade db check` for details"
                )
            note_verified(path, state)  # (a change since `state` is checked next time)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_corruption(exc):
            mark_damaged(path, str(exc))
            raise StoreError(
                f"{path} is damaged ({exc}); nothing was written to it; {recovery_hint(path)}; "
                "run `fyerstrade db check` for details"
            ) from exc
        raise StoreError(f"{path} is not a usable SQLite database: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def connect(
    path: Path, schema: Schema | None = None, *, upgrade: bool = True, verify: bool = False
) -> sqlite3.Connection:
    """Open a database file safely and (unless ``upgrade`` is False) migrate it to the latest
    schema. A missing file is created (its parent directory too). ``verify`` runs SQLite's
    ``quick_check`` first (for commands about to write in bulk). Raises StoreError for unusable
    or damaged files."""
    path = Path(path)
    schema = schema or schema_for(path)
    conn = _open(path, schema, upgrade=upgrade, verify=verify)
    if upgrade:
        try:
            migrate(conn, schema, path)
        except BaseException:
            conn.close()
            raise
    return conn


def open_historical(settings: Settings, *, verify: bool = False) -> sqlite3.Connection:
    return connect(settings.historical_db, historical_schema.SCHEMA, verify=verify)


def open_live(settings: Settings, *, verify: bool = False) -> sqlite3.Connection:
    return connect(settings.live_db, live_schema.SCHEMA, verify=verify)


def open_trading(settings: Settings, *, verify: bool = False) -> sqlite3.Connection:
    return connect(settings.trading_db, trading_schema.SCHEMA, verify=verify)


def database_paths(settings: Settings) -> list[tuple[Schema, Path]]:
    return [
        (historical_schema.SCHEMA, settings.historical_db),
        (live_schema.SCHEMA, settings.live_db),
        (trading_schema.SCHEMA, settings.trading_db),
    ]


def init_all(settings: Settings) -> list[InitReport]:
    """Create or upgrade the three databases (idempotent); report what happened to each.

    Every file is checked before any is touched, so one unusable file changes nothing."""
    targets = database_paths(settings)
    for schema, path in targets:
        found = header_version(path)
        if found is not None and found > schema.latest and not Path(f"{path}-wal").exists():
            raise newer_schema_error(path, found, schema.latest)
    reports: list[InitReport] = []
    for schema, path in targets:
        created = header_version(path) is None and _create(path, schema, upgrade=True)
        conn = _open(path, schema, create=False, verify=not created)
        try:
            start, end = migrate(conn, schema, path)
        finally:
            conn.close()
        if created:
            start = 0
        reports.append(InitReport(path, created=start == 0, from_version=start, to_version=end))
    return reports


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row count of every table and view, by name."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {n: int(conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in names}


def status_all(settings: Settings, *, quick: bool = False) -> list[DbStatus]:
    """Each database's file, schema version, size (with its WAL), row counts and SQLite's
    integrity check (``quick``: the faster quick_check); never creates a missing file and
    never migrates. A damaged file raises StoreError naming it."""
    out: list[DbStatus] = []
    for schema, path in database_paths(settings):
        if header_version(path) is None:
            out.append(DbStatus(schema.name, path, False, None, schema.latest, 0))
            continue
        check = check_file(path, quick=quick)
        if not check.ok:
            mark_damaged(path, check.problems[0])
            raise StoreError(
                f"{path} is damaged ({check.problems[0]}); {recovery_hint(path)}; "
                "run `fyerstrade db check` for details"
            )
        conn = _open(path, schema, create=False)
        try:
            version = user_version(conn)
            counts = table_counts(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} cannot be read: {exc}; {recovery_hint(path)}") from exc
        finally:
            conn.close()
        size = path.stat().st_size + wal_size(path)
        out.append(DbStatus(schema.name, path, True, version, schema.latest, size, counts, check))
    return out


def check_all(settings: Settings, *, quick: bool = False) -> list[CheckResult]:
    """``fyerstrade db check``: each store's header and SQLite's integrity check, read-only.
    A store found damaged is marked (every command refuses it); one found healthy loses an old
    mark (after a restore from a backup)."""
    from fyerstrade.store.integrity import clear_damaged

    results: list[CheckResult] = []
    for _schema, path in database_paths(settings):
        result = check_file(path, quick=quick)
        if result.exists and not result.ok:
            mark_damaged(path, result.problems[0])
        elif result.exists or not path.exists():
            clear_damaged(path)
        results.append(result)
    return results
