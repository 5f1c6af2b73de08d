"""Process control of the live engine with real processes: the PID lock refuses a second holder
(also when several start at once), stale PID files are cleaned, stop_engine stops a process that
handles SIGTERM and kills one that ignores it, and the status is checked against the process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fyerstrade.config import Settings
from fyerstrade.errors import EngineError
from fyerstrade.live.control import (
    PidLock,
    engine_pid,
    engine_status,
    read_pid_file,
    start_engine,
    stop_engine,
)
from fyerstrade.live.status import EngineStatus, read_status, write_status
from plugins.store import write_symbol_master

# A stand-in for the engine process: takes the PID lock, says so, waits for SIGTERM (or ignores
# it with IGNORE_TERM=1), releases the lock on the way out.
HOLDER = textwrap.dedent(
    """
    import os, signal, sys, threading
    from fyerstrade.config import load_settings
    from fyerstrade.errors import EngineError
    from fyerstrade.live.control import PidLock

    stop = threading.Event()
    if os.environ.get("IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
    go = os.environ.get("GO_FILE")
    while go and not os.path.exists(go):
        stop.wait(0.005)
    try:
        with PidLock(load_settings(env_file=None)):
            print("locked", flush=True)
            stop.wait(60)
    except EngineError as exc:
        print("refused", exc, flush=True)
        sys.exit(3)
    print("released", flush=True)
    """
)


def spawn_holder(**env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,
    )


def first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=10)


def test_pid_lock_writes_pid_and_start_time_and_removes_the_file(settings: Settings) -> None:
    before = time.time()
    with PidLock(settings) as lock:
        entry = read_pid_file(settings.live_pid_file)
        assert entry is not None
        assert entry.pid == os.getpid() == lock.pid
        assert before - 1 <= entry.started_at <= time.time() + 1
        assert settings.live_pid_file.stat().st_mode & 0o777 == 0o644
        assert engine_pid(settings) == os.getpid()
    assert not settings.live_pid_file.exists()


def test_second_holder_is_refused_naming_the_running_pid(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    first = spawn_holder()
    holders.append(first)
    assert first_line(first) == "locked"
    with pytest.raises(EngineError) as err:
        PidLock(settings).acquire()
    assert str(err.value) == (
        f"the live engine is already running (pid {first.pid}); stop it with `fyerstrade live stop`"
    )
    assert engine_pid(settings) == first.pid


def test_racing_starts_exactly_one_wins(
    settings: Settings, tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    go = tmp_path / "go"
    for _ in range(4):
        holders.append(spawn_holder(GO_FILE=str(go)))
    go.touch()  # release them together
    lines = [first_line(p) for p in holders]
    assert sorted(line.split(" ", 1)[0] for line in lines) == [
        "locked",
        "refused",
        "refused",
        "refused",
    ]
    winner = holders[lines.index("locked")]
    assert engine_pid(settings) == winner.pid
    for line in lines:
        if line.startswith("refused"):
            assert f"(pid {winner.pid})" in line


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_stale_pid_file_of_a_dead_process_is_removed_and_logged(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.data_dir.mkdir(parents=True)
    settings.live_pid_file.write_text(f"{_dead_pid()}\n{time.time():.3f}\n")
    with caplog.at_level(logging.WARNING, logger="fyerstrade.live.pidfile"):
        assert engine_pid(settings) is None
    assert not settings.live_pid_file.exists()
    assert any(r.name == "fyerstrade.live.pidfile" for r in caplog.records)
    with PidLock(settings):  # and the lock can be taken
        assert engine_pid(settings) == os.getpid()


def test_pid_file_naming_another_program_is_stale_and_that_program_untouched(
    settings: Settings,
) -> None:
    other = subprocess.Popen(["sleep", "30"])
    try:
        settings.data_dir.mkdir(parents=True)
        settings.live_pid_file.write_text(f"{other.pid}\n{time.time():.3f}\n")
        with PidLock(settings):
            entry = read_pid_file(settings.live_pid_file)
            assert entry is not None and entry.pid == os.getpid()
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_pid_reused_by_a_later_fyerstrade_process_is_stale(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    # A holder with its own lock elsewhere, so its pid is a live fyerstrade process.
    other_dir = settings.data_dir.parent / "other"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "FYERSTRADE_DATA_DIR": str(other_dir)},
    )  # fmt: skip
    holders.append(holder)
    assert first_line(holder) == "locked"
    settings.data_dir.mkdir(parents=True)
    # This PID file was written an hour before that process started: the pid was reused.
    settings.live_pid_file.write_text(f"{holder.pid}\n{time.time() - 3600:.3f}\n")
    assert engine_pid(settings) is None
    assert not settings.live_pid_file.exists()
    settings.live_pid_file.write_text(f"{holder.pid}\n{time.time():.3f}\n")
    assert engine_pid(settings) == holder.pid


def test_unreadable_pid_file_is_stale(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    settings.live_pid_file.write_text("not a pid\n")
    assert engine_pid(settings) is None
    assert not settings.live_pid_file.exists()


def test_stop_engine_stops_a_running_process_within_seconds(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    holder = spawn_holder()
    holders.append(holder)
    assert first_line(holder) == "locked"
    t0 = time.monotonic()
    assert stop_engine(settings, timeout=10) is True
    assert time.monotonic() - t0 < 5
    out, _ = holder.communicate(timeout=10)
    assert holder.returncode == 0 and "released" in out  # it stopped on SIGTERM, cleanly
    assert not settings.live_pid_file.exists()
    assert stop_engine(settings) is False  # nothing left to stop


def test_stop_engine_kills_a_process_that_ignores_sigterm(
    settings: Settings, holders: list[subprocess.Popen[str]], caplog: pytest.LogCaptureFixture
) -> None:
    holder = spawn_holder(IGNORE_TERM="1")
    holders.append(holder)
    assert first_line(holder) == "locked"
    with caplog.at_level(logging.WARNING, logger="fyerstrade.live.control"):
        assert stop_engine(settings, timeout=0.5) is True
    assert holder.wait(timeout=10) == -9
    assert not settings.live_pid_file.exists()
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_stop_engine_with_nothing_running(settings: Settings) -> None:
    assert stop_engine(settings) is False


def test_status_with_nothing_ever_run(settings: Settings) -> None:
    st = engine_status(settings)
    assert (st.state, st.pid, st.message) == ("stopped", 0, "the engine is not running")


def test_status_claiming_running_without_a_process_is_stopped(settings: Settings) -> None:
    updated = datetime(2026, 11, 23, 10, 15, 2, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()
    write_status(
        settings.live_status_file,
        EngineStatus(state="running", pid=_dead_pid(), updated_at=updated, ticks=5),
    )
    st = engine_status(settings)
    assert st.state == "stopped" and st.pid == 0 and st.ticks == 5
    assert st.message == (
        "the engine is not running (it last reported running at 2026-11-23 10:15:02 IST)"
    )
    # The file itself is the engine's: left as it was.
    left = read_status(settings.live_status_file)
    assert left is not None and left.state == "running"


def test_status_of_a_final_state_is_kept(settings: Settings) -> None:
    write_status(
        settings.live_status_file,
        EngineStatus(state="auth_failed", pid=_dead_pid(), message="log in again"),
    )
    st = engine_status(settings)
    assert (st.state, st.pid, st.message) == ("auth_failed", 0, "log in again")


def test_status_of_a_process_that_has_not_reported_is_starting(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    write_status(  # left by an earlier run
        settings.live_status_file,
        EngineStatus(state="stopped", pid=_dead_pid(), updated_at=time.time() - 60),
    )
    holder = spawn_holder()
    holders.append(holder)
    assert first_line(holder) == "locked"
    st = engine_status(settings)
    assert st.state == "starting" and st.pid == holder.pid and st.started_at > 0
    write_status(
        settings.live_status_file,
        EngineStatus(state="waiting", pid=holder.pid, updated_at=time.time(), next_start=1),
    )
    st = engine_status(settings)
    assert st.state == "waiting" and st.pid == holder.pid and st.started_at > 0


def test_start_engine_fails_in_the_foreground_on_a_bad_config(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    settings.live_config_file.write_text("strategy: sma_crossover\nsymbolz: [NSE:SBIN-EQ]\n")
    with pytest.raises(Exception, match=r"unknown key 'symbolz' \(did you mean 'symbols'\?\)"):
        start_engine(settings)
    assert engine_pid(settings) is None


def test_start_engine_refuses_while_one_runs(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    settings.data_dir.mkdir(parents=True)
    settings.live_config_file.write_text("strategy: sma_crossover\n")
    write_symbol_master(settings, ["NSE:SBIN-EQ"])
    holder = spawn_holder()
    holders.append(holder)
    assert first_line(holder) == "locked"
    with pytest.raises(EngineError, match=rf"already running \(pid {holder.pid}\)"):
        start_engine(settings)


def test_start_engine_reports_the_childs_last_line_when_it_exits_at_startup(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fyerstrade.live import control

    settings.data_dir.mkdir(parents=True)
    settings.live_config_file.write_text("strategy: sma_crossover\n")
    write_symbol_master(settings, ["NSE:SBIN-EQ"])
    out = control.engine_output_file(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("an earlier run's output\n" * 10)
    monkeypatch.setattr(control, "OUTPUT_ROTATE_BYTES", 100)  # so that this start rotates it
    monkeypatch.setenv("FYERSTRADE_LOG_LEVEL", "LOUD")  # the child cannot load its settings
    with pytest.raises(EngineError) as err:
        start_engine(settings, timeout=60)
    message = str(err.value)
    assert message.startswith("the live engine exited at startup: invalid setting")
    assert "FYERSTRADE_LOG_LEVEL" in message and str(out) in message
    assert "\n" not in message
    assert engine_pid(settings) is None
    assert "an earlier run's output" in out.with_name(out.name + ".1").read_text()
    assert "an earlier run's output" not in out.read_text()
