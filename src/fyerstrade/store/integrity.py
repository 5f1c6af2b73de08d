"""Damaged database files: found before anything is written into them, and said in one line.

SQLite keeps no checksums, so damage shows up in three ways, and each is caught here:

- **Before SQLite opens the file** (:func:`header_problem`, from the 100-byte header): a
  zero-length file where a store belongs (new stores are created complete and linked into place,
  see :mod:`fyerstrade.store.db`, so an empty one is always a damaged or half-copied file, never a
  new one), a file that is not SQLite, and a file shorter than the page count its header records
  (truncated).
- **By SQLite's own checks** (:func:`check_file`): ``PRAGMA integrity_check`` or the faster
  ``quick_check`` (no index/table cross-check), read-only. ``db status`` and ``db check`` run it;
  commands that write in bulk (fetch, import, archive, init, the live engine) run the quick one
  when they open a store, so nothing is written into a damaged file.
- **When a query trips over a damaged page** (``SQLITE_CORRUPT``/``SQLITE_NOTADB`` from any
  statement): :func:`describe_database_error` names the file and the way out.

The quick check reads the whole file, so its cost grows with the store (0.6 s of CPU on a
400 MB trading_log). It is proportionate: a store that passed it, or that only this code wrote to
through SQLite since (:func:`note_verified`), keeps its file-system state (inode, size,
modification and change times of the file and of a non-empty ``-wal``) in ``<file>.verified``;
the next bulk writer runs the check only when that state has changed, i.e. when anything else
touched the file. A torn or stale ``.verified`` never matches, so the check simply runs.

A file found damaged gets a marker beside it (``<file>.damaged``, holding the reason); every
command refuses that store until ``fyerstrade db check`` finds it healthy again (after a restore)
and removes the marker. The marker is next to the store, never in it: the damaged file keeps
every byte it had, for recovery (``sqlite3 FILE .recover``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
DAMAGED_SUFFIX = ".damaged"
VERIFIED_SUFFIX = ".verified"
#: How many problems ``integrity_check`` lists at most.
MAX_PROBLEMS = 20
_CORRUPTION = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_CHECK_HINT = "run `fyerstrade db check`"


_opened: dict[Path, None] = {}
_opened_lock = threading.Lock()


def note_opened(path: Path) -> None:
    """Remember that this invocation opened ``path`` (newest last)."""
    with _opened_lock:
        _opened.pop(path, None)
        _opened[path] = None


def opened_paths() -> list[Path]:
    """The store files opened since :func:`forget_opened`, newest first (to name the file in a
    database error)."""
    with _opened_lock:
        return list(reversed(_opened))


def forget_opened() -> None:
    """A new command starts (the in-process CLI runs several in one process)."""
    with _opened_lock:
        _opened.clear()


def recovery_hint(path: Path) -> str:
    """What the user can do about a damaged or emptied store (by which store it is)."""
    name = path.name
    if name.startswith("historical"):
        rebuild = (
            "or move it away and run `fyerstrade db init` then `fyerstrade data symbols` and "
            "`fyerstrade data fetch` to rebuild the candles from Fyers (archived ticks are lost)"
        )
    elif name.startswith("live"):
        rebuild = "or move it away and run `fyerstrade db init` (today's live ticks are lost)"
    else:
        rebuild = (
            "or move it away and run `fyerstrade db init` (saved runs and paper trades are lost)"
        )
    return f"restore it from a backup, {rebuild}"


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + DAMAGED_SUFFIX)


def mark_damaged(path: Path, reason: str) -> None:
    """Leave ``<file>.damaged`` beside ``path`` (best effort: a read-only folder still refuses
    by the checks themselves)."""
    with contextlib.suppress(OSError):
        marker_path(path).write_text(reason + "\n", encoding="utf-8")


def clear_damaged(path: Path) -> bool:
    """Remove the marker; True if there was one."""
    try:
        marker_path(path).unlink()
    except FileNotFoundError:
        return False
    return True


def damaged_reason(path: Path) -> str | None:
    """Why the store was marked damaged, or None when it is not marked."""
    marker = marker_path(path)
    try:
        text = marker.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError:
        return "marked damaged"
    return text.splitlines()[0] if text else "marked damaged"


def marked_damaged_message(path: Path, reason: str) -> str:
    return (
        f"{path} was found damaged ({reason}) and is not used until it is repaired; "
        f"{recovery_hint(path)}; then {_CHECK_HINT}"
    )


def header_problem(path: Path, head: bytes, size: int, *, has_wal: bool) -> str | None:
    """What is wrong with the file from its header alone, or None (``head``: its first 100
    bytes, ``size``: its length)."""
    if size == 0:
        return "it is empty (0 bytes)"
    if len(head) < 100 or head[:16] != SQLITE_HEADER:
        return None  # "not a SQLite database": the caller says that in its own words
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65_536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"its header is damaged (page size {page_size})"
    pages = int.from_bytes(head[28:32], "big")
    counter_valid = head[24:28] == head[92:96]
    if counter_valid and not has_wal and pages and size < pages * page_size:
        return f"it is truncated ({size:,} of {pages * page_size:,} bytes)"
    return None


def is_corruption(exc: sqlite3.Error) -> bool:
    """True when SQLite says the file itself is damaged (not locked, full or read-only)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.split("_")[:2] == ["SQLITE", "CORRUPT"] or name in _CORRUPTION:
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One store file under ``db check``."""

    path: Path
    exists: bool
    problems: list[str] = field(default_factory=list)
    quick: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "exists": self.exists,
            "ok": self.ok,
            "check": "quick_check" if self.quick else "integrity_check",
            "problems": list(self.problems),
        }


def _header(path: Path) -> tuple[bytes, int]:
    with path.open("rb") as f:
        head = f.read(100)
        size = f.seek(0, 2)
    return head, size


def sqlite_check(conn: sqlite3.Connection, *, quick: bool) -> list[str]:
    """SQLite's own check on an open connection: the problems it lists, one line each (empty
    when ``ok``)."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        rows = conn.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    lines = [
        line.strip()
        for r in rows
        for line in str(r[0]).splitlines()
        if line.strip() and not line.strip().startswith("***")
    ]
    return [] if lines == ["ok"] else lines


def file_state(path: Path) -> str | None:
    """The store as the file system shows it (inode, size, modification and change time of the
    file and of its ``-wal`` when that holds anything); None when the file cannot be looked at.
    Any write changes it; an empty WAL (a reader opened the store) does not."""
    parts: list[str] = []
    for p in (path, Path(f"{path}-wal")):
        try:
            st = p.stat()
        except OSError:
            if p is path:
                return None
            st = None
        if st is None or (p is not path and st.st_size == 0):
            parts.append("-")
        else:
            parts.append(f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")
    return " ".join(parts)


def verified_path(path: Path) -> Path:
    return path.with_name(path.name + VERIFIED_SUFFIX)


def note_verified(path: Path, state: str | None = None) -> None:
    """Record that the store in ``state`` (default: as it is now) passed the quick check, or
    was since written only by this code through SQLite (best effort: without the record the
    next bulk writer checks again)."""
    state = file_state(path) if state is None else state
    if state is None:
        return
    with contextlib.suppress(OSError):
        verified_path(path).write_text(state + "\n", encoding="utf-8")


def verified_unchanged(path: Path, state: str | None) -> bool:
    """Is ``state`` the store's state recorded by :func:`note_verified`?"""
    if state is None:
        return False
    try:
        return verified_path(path).read_text(encoding="utf-8").strip() == state
    except (OSError, UnicodeDecodeError):
        return False


def wal_size(path: Path) -> int:
    """Size of the store's ``-wal`` file, 0 when there is none. The last connection to close
    removes the WAL, so it can vanish between any two looks at it: one ``stat``, no ``exists``."""
    try:
        return Path(f"{path}-wal").stat().st_size
    except FileNotFoundError:
        return 0


def check_file(path: Path, *, quick: bool = False) -> CheckResult:
    """Check one store file without writing to it: header, then SQLite's (quick_)integrity
    check over a read-only connection."""
    if not path.exists():
        return CheckResult(path, False, quick=quick)
    try:
        head, size = _header(path)
    except OSError as exc:
        return CheckResult(path, True, [f"cannot read it: {exc.strerror}"], quick)
    wal = Path(f"{path}-wal")
    problem = header_problem(path, head, size, has_wal=wal_size(path) > 0)
    if problem is None and head[:16] != SQLITE_HEADER:
        problem = "it is not a SQLite database"
    if problem is not None:
        return CheckResult(path, True, [problem], quick)
    # Read-only. With no WAL beside it nobody has the file open: ``immutable`` reads it without
    # locks or ``-wal``/``-shm`` side files (a read-only connection cannot remove them after);
    # with a WAL another connection is live, and the WAL's commits must be read too.
    query = "mode=ro" if wal.exists() else "immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return CheckResult(path, True, [str(exc)], quick)
    try:
        problems = sqlite_check(conn, quick=quick)
    finally:
        conn.close()
    return CheckResult(path, True, problems, quick)


def describe_database_error(exc: sqlite3.Error, paths: Iterable[Path]) -> str:
    """One line for a SQLite error that reached the CLI, naming the damaged file when a check
    finds it (and marking it), else the files in use."""
    opened = [p for p in dict.fromkeys(paths) if p.exists()]
    text = str(exc)
    lower = text.lower()
    if "full" in lower and not is_corruption(exc):
        where = ", ".join(str(p.parent) for p in opened[:1]) or "the data directory"
        return (
            f"the disk holding {where} is full ({text}); the last change was rolled back and "
            "nothing was half-written; free some space and run the command again"
        )
    if is_corruption(exc):
        for path in opened:
            result = check_file(path, quick=True)
            if not result.ok:
                mark_damaged(path, result.problems[0])
                return (
                    f"{path} is damaged ({result.problems[0]}); nothing more is written to it; "
                    f"{recovery_hint(path)}; {_CHECK_HINT} for details"
                )
    names = ", ".join(str(p) for p in opened) or "a database"
    return f"database error in {names}: {text}; {_CHECK_HINT}"
