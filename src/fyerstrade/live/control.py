"""Process control of the live engine: one engine process per data directory, started in the
background, stopped gracefully, watched through its PID and status files.

The process that runs the engine (``fyerstrade live run``) holds :class:`PidLock` for its whole
life: ``live_engine.pid`` in the data directory, holding its pid and the wall time it started::

    12345
    1763712000.25

The file is created complete or not at all (written beside it, then hard-linked into place,
which fails when the file exists: two racing starts cannot both win). A file whose process is
dead, is a zombie, is not a fyerstrade process (``/proc/<pid>/cmdline``), or started after the
file was written (the pid was reused) is stale: it is logged and removed. Stale removal and
creation happen under an ``flock`` on the data directory, so one start cannot delete the file
another start has just written.

``start_engine`` launches ``python -m fyerstrade live run`` detached (its own session, stdin from
``/dev/null``, output appended to ``<log_dir>/live_engine.out``) and returns once the child holds
the lock. ``stop_engine`` sends SIGTERM (the engine sets its stop event and handles open
positions per ``on_stop``), waits, and kills the process group after a timeout.
``engine_status`` reads the status file the engine writes and checks it against the PID file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from zoneinfo import ZoneInfo

from fyerstrade.config import Settings
from fyerstrade.errors import EngineError
from fyerstrade.live.status import ACTIVE_STATES, EngineStatus, read_status

__all__ = [
    "ENGINE_OUTPUT_FILE",
    "PidFile",
    "PidLock",
    "engine_output_file",
    "engine_pid",
    "engine_status",
    "read_pid_file",
    "start_engine",
    "stop_engine",
]

log = logging.getLogger(__name__)

ENGINE_OUTPUT_FILE = "live_engine.out"
OUTPUT_ROTATE_BYTES = 5 * 1024 * 1024
_IST = ZoneInfo("Asia/Kolkata")
_POLL = 0.05  # seconds between checks while waiting for a process
# Seconds a process may seem to start after its PID file was written before the pid counts as
# reused: /proc's start time moves with wall-clock steps (NTP, resume), so leave room for them.
_START_SLACK = 60.0


@dataclass(frozen=True, slots=True)
class PidFile:
    """What ``live_engine.pid`` says: the engine's pid and the wall time it took the lock."""

    pid: int
    started_at: float


def engine_output_file(settings: Settings) -> Path:
    """Where a background engine's stdout and stderr go (appended)."""
    return settings.log_dir / ENGINE_OUTPUT_FILE


def _already_running(pid: int) -> EngineError:
    return EngineError(
        f"the live engine is already running (pid {pid}); stop it with `fyerstrade live stop`"
    )


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


def _alive(pid: int) -> bool:
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
    if not _alive(entry.pid):
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
def _directory_lock(directory: Path) -> Iterator[None]:
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
    with _directory_lock(path.parent):
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
        with _directory_lock(self.path.parent):
            for _ in range(2):
                entry = _remove_if_stale(self.path)
                if entry is not None:
                    raise _already_running(entry.pid)
                if _create_exclusive(self.path, text):
                    self._held = True
                    log.info("live engine pid %d holds %s", self.pid, self.path)
                    return
        # unreachable under the directory lock unless the file reappears between the checks
        entry = read_pid_file(self.path)
        raise _already_running(entry.pid if entry else 0)

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        with _directory_lock(self.path.parent):
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


# ----------------------------------------------------------------------------- start and stop


def _last_line(path: Path, offset: int) -> str:
    """The last non-empty line written to ``path`` after byte ``offset``."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            tail = fh.read()[-8192:]
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.decode("utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1].removeprefix("error: ") if lines else ""


def _wait_gone(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is gone; False when it is still there after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _rotate(path: Path) -> None:
    """Keep the engine's output file bounded: past ``OUTPUT_ROTATE_BYTES`` it becomes
    ``<name>.1`` (replacing the previous one) before a new engine starts."""
    try:
        if path.stat().st_size > OUTPUT_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def _engine_command() -> list[str]:
    return [sys.executable, "-m", "fyerstrade", "live", "run"]


def start_engine(settings: Settings, *, timeout: float = 15.0) -> int:
    """Start the live engine in the background; returns its pid once it holds the PID file.

    The live config is validated first, so a mistake in it fails here with its one-line message.
    Raises :class:`EngineError` when an engine is already running, or when the new process exits
    (with the last line of its output) or does not take the lock within ``timeout`` seconds.
    """
    from fyerstrade.live.config import load_live_config

    # everything the engine would refuse at session start fails here, before a process starts
    load_live_config(settings.live_config_file, settings).checked(settings)
    running = engine_pid(settings)
    if running is not None:
        raise _already_running(running)
    out_path = engine_output_file(settings)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _rotate(out_path)
    with out_path.open("ab") as out:
        offset = out.tell()
        proc = subprocess.Popen(
            _engine_command(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            start_new_session=True,
            close_fds=True,
        )
    log.info("started the live engine, pid %d, output in %s", proc.pid, out_path)
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            line = _last_line(out_path, offset) or f"exit code {code}"
            raise EngineError(f"the live engine exited at startup: {line} (see {out_path})")
        entry = read_pid_file(settings.live_pid_file)
        if entry is not None and entry.pid == proc.pid:
            break
        if time.monotonic() >= deadline:
            _terminate(proc.pid, 5.0)
            proc.wait()
            raise EngineError(
                f"the live engine did not start within {timeout:g} s and was stopped; "
                f"see {out_path}"
            )
        time.sleep(_POLL)
    # Reap the child when it ends, so this process (a test, the dashboard) keeps no zombie.
    threading.Thread(target=proc.wait, name=f"reap-live-engine-{proc.pid}", daemon=True).start()
    return proc.pid


def _terminate(pid: int, timeout: float) -> bool:
    """SIGTERM ``pid``, wait up to ``timeout`` s, then SIGKILL its process group; True when it
    stopped on SIGTERM."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return True
    log.warning("the live engine (pid %d) ignored SIGTERM for %g s; killing it", pid, timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0)
    return False


def stop_engine(settings: Settings, *, timeout: float = 20.0) -> bool:
    """Stop the running engine: SIGTERM (it handles open positions per ``on_stop`` and exits),
    SIGKILL after ``timeout`` seconds. False when no engine was running."""
    pid = engine_pid(settings)
    if pid is None:
        return False
    if pid == os.getpid():
        raise EngineError("this process is the live engine; set its stop event instead")
    log.info("stopping the live engine, pid %d", pid)
    graceful = _terminate(pid, timeout)
    path = settings.live_pid_file
    with _directory_lock(path.parent):
        entry = read_pid_file(path)
        if entry is not None and entry.pid == pid:
            path.unlink(missing_ok=True)
    log.info("the live engine (pid %d) %s", pid, "stopped" if graceful else "was killed")
    return True


# ----------------------------------------------------------------------------- status


def _ist(ts: float) -> str:
    return datetime.fromtimestamp(ts, _IST).strftime("%Y-%m-%d %H:%M:%S IST")


def engine_status(settings: Settings) -> EngineStatus:
    """The engine's last status checked against its process: a status file claiming an active
    state with no engine process behind it is reported as ``stopped``."""
    status = read_status(settings.live_status_file)
    pid = engine_pid(settings)
    if pid is None:
        if status is None:
            return EngineStatus(state="stopped", message="the engine is not running")
        if status.state in ACTIVE_STATES:
            when = _ist(status.updated_at) if status.updated_at else "an unknown time"
            status.message = (
                f"the engine is not running (it last reported {status.state} at {when})"
            )
            status.state = "stopped"
        status.pid = 0
        return status
    entry = read_pid_file(settings.live_pid_file)
    started = entry.started_at if entry is not None else 0.0
    if status is None or (status.pid != pid and status.updated_at < started):
        return EngineStatus(
            state="starting",
            pid=pid,
            started_at=started,
            message="the engine process is up and has not reported yet",
        )
    status.pid = pid
    if started:
        status.started_at = started  # the process's start: the uptime `live status` shows
    return status
