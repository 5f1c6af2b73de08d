"""Process control of the live engine: started in the background, stopped gracefully, watched
through its PID file (:mod:`~fyerstrade.live.pidfile`: one engine per data directory) and its
status file.

``start_engine`` launches ``python -m fyerstrade live run`` detached (its own session, stdin from
``/dev/null``, output appended to ``<log_dir>/live_engine.out``) and returns once the child holds
the lock. ``stop_engine`` sends SIGTERM (the engine sets its stop event and handles open
positions per ``on_stop``), waits, and kills the process group after a timeout.
``engine_status`` reads the status file the engine writes and checks it against the PID file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fyerstrade.config import Settings
from fyerstrade.errors import EngineError
from fyerstrade.live.pidfile import (
    PidFile,
    PidLock,
    alive,
    already_running,
    directory_lock,
    engine_pid,
    read_pid_file,
)
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


def engine_output_file(settings: Settings) -> Path:
    """Where a background engine's stdout and stderr go (appended)."""
    return settings.log_dir / ENGINE_OUTPUT_FILE


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
    while alive(pid):
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
        raise already_running(running)
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
    with directory_lock(path.parent):
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
