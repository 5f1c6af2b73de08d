"""The live engine's PID file (``live_engine.pid`` in the data directory): one engine process
per data directory.

The process that runs the engine (``fyerstrade live run``) holds :class:`PidLock` for its whole
life; the file holds its pid and the wall time it started::

    12345
    1763712000.25

The file is created complete or not at all (written beside it, then hard-linked into place,
which fails when the file exists: two racing starts cannot both win). A file whose process is
dead, is a zombie, is not a fyerstrade process (``/proc/<pid>/cmdline``), or started after the
file was written (the pid was reused) is stale: it is logged and removed. Stale removal and
creation happen under an ``flock`` on the data directory, so one start cannot delete the file
another start has just written.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from fyerstrade.config import Settings
from fyerstrade.errors import EngineError

__all__ = [
    "PidFile",
    "PidLock",
    "alive",
    "already_running",
    "directory_lock",
    "engine_pid",
    "read_pid_file",
]

log = logging.getLogger(__name__)

# Seconds a process may seem to start after its PID file was written before the pid counts as
# reused: /proc's start time moves with wall-clock steps (NTP, resume), so leave room for them.
_START_SLACK = 60.0


def already_running(pid: int) -> EngineError:
    return EngineError(
        f"the live engine is already running (pid {pid}); stop it with `fyerstrade live stop`"
    )


@dataclass(frozen=True, slots=True)
class PidFile:
    """What ``live_engine.pid`` says: the engine's pid and the wall time it took the lock."""

    pid: int
    started_at: float


# ----------------------------------------------------------------------------- processes


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state first), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text(encoding="ascii").splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _process_start_time(pid: int) -> float | None:
    """Wall time the process started (from /proc), or None where /proc cannot tell."""
    fields = _proc_stat(pid)
    boot = _boot_time()
    if fields is None or boot is None or len(fields) < 20:
        return None
    try:
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _proc_stat(pid)
    return not (fields and fields[0] in {"Z", "X"})


def _is_fyerstrade(pid: int) -> bool:
    """Whether ``pid`` runs fyerstrade (True where /proc is not available to say otherwise)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return b"fyerstrade" in cmdline


def _stale_reason(entry: PidFile) -> str | None:
    """Why the PID file is stale, or None when it names a live engine process."""
    if entry.pid == os.getpid():
        return None
    if not alive(entry.pid):
        return f"process {entry.pid} is not running"
    if not _is_fyerstrade(entry.pid):
        return f"process {entry.pid} is not a fyerstrade process (its pid was reused)"
    started = _process_start_time(entry.pid)
    if started is not None and entry.started_at and started > entry.started_at + _START_SLACK:
        return f"process {entry.pid} started after the PID file was written (its pid was reused)"
    return None


# ----------------------------------------------------------------------------- the PID file


def read_pid_file(path: Path) -> PidFile | None:
    """The PID file's contents, or None when it is missing or not a PID file."""
    try:
        lines = path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        pid = int(lines[0])
        started = float(lines[1]) if len(lines) > 1 else 0.0
    except (IndexError, ValueError):
        return None
    return PidFile(pid, started)


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``directory`` (held briefly around check-and-create)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove_if_stale(path: Path) -> PidFile | None:
    """The live entry of ``path``; a stale or unreadable file is logged and removed (call
    with the directory lock held)."""
    if not path.exists():
        return None
    entry = read_pid_file(path)
    reason = "it does not hold a pid" if entry is None else _stale_reason(entry)
    if reason is None:
        return entry
    log.warning("removing the stale live engine PID file %s: %s", path, reason)
    path.unlink(missing_ok=True)
    return None


def _create_exclusive(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text``, complete, unless it exists (False then)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o644)
        try:
            os.link(tmp, path)  # atomic, and fails if path exists: O_EXCL with complete content
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: plain O_EXCL creation
            try:
                out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(out, "w", encoding="utf-8") as fh:
                fh.write(text)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def engine_pid(settings: Settings) -> int | None:
    """The pid of the running live engine, or None. A stale PID file is removed (and logged)."""
    path = settings.live_pid_file
    if not path.exists():
        return None
    with directory_lock(path.parent):
        entry = _remove_if_stale(path)
    return None if entry is None else entry.pid


class PidLock:
    """Held by the process that runs the live engine, for as long as it runs.

    ``with PidLock(settings):`` creates ``live_engine.pid`` for this process or raises
    :class:`EngineError` naming the pid of the engine already running; the file is removed on
    exit (only if it still names this process).
    """

    def __init__(self, settings: Settings) -> None:
        self.path = settings.live_pid_file
        self.pid = os.getpid()
        self.started_at = 0.0
        self._held = False

    def acquire(self) -> None:
        self.started_at = time.time()
        text = f"{self.pid}\n{self.started_at:.3f}\n"
        with directory_lock(self.path.parent):
            for _ in range(2):
                entry = _remove_if_stale(self.path)
                if entry is not None:
                    raise already_running(entry.pid)
                if _create_exclusive(self.path, text):
                    self._held = True
                    log.info("live engine pid %d holds %s", self.pid, self.path)
                    return
        # unreachable under the directory lock unless the file reappears between the checks
        entry = read_pid_file(self.path)
        raise already_running(entry.pid if entry else 0)

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        with directory_lock(self.path.parent):
            entry = read_pid_file(self.path)
            if entry is not None and entry.pid == self.pid:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> PidLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
