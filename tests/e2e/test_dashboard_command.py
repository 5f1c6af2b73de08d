"""``fyerstrade dashboard`` as a process: answers on its port, stops its Streamlit child on
SIGTERM (and the child stops by itself when the command is killed with SIGKILL), and refuses a
port that is taken with one readable line."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fyerstrade.dashboard.launcher import free_port, port_in_use, wait_until_up

pytestmark = pytest.mark.e2e
CLI = "from fyerstrade.cli import run; run()"


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has stopped; only its parent (init now) reaps it


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_the_dashboard_child_never_outlives_the_command(
    tmp_path: Path, stop: signal.Signals
) -> None:
    port = free_port()
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "dashboard", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=err, text=True, env=dict(os.environ),
        )  # fmt: skip
    children: list[int] = []
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 90)  # the URL line, with a deadline
        assert ready, "fyerstrade dashboard printed nothing within 90 s"
        assert f"dashboard: http://127.0.0.1:{port}" in proc.stdout.readline()
        wait_until_up(f"http://127.0.0.1:{port}", timeout=10)
        (child,) = _children(proc.pid)
        children.append(child)
        proc.send_signal(stop)
        # SIGTERM: the command stops its child; SIGKILL runs no clean-up, the child stops itself
        assert proc.wait(timeout=30) == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _gone(child):
            time.sleep(0.1)
        assert _gone(child), f"the Streamlit child {child} outlived the command"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        for child in children:  # a failed test leaves no dashboard behind
            if not _gone(child):
                os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and port_in_use("127.0.0.1", port):
        time.sleep(0.1)
    assert not port_in_use("127.0.0.1", port)
    # the terminal shows no Streamlit start-up noise ("No runtime found" x 13) and no traceback
    said = stderr.read_text()
    assert "No runtime found" not in said and "Traceback" not in said, said


def test_a_taken_port_is_one_error_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-c", CLI, "dashboard", "--port", str(port)],
            capture_output=True, text=True, timeout=60, env=dict(os.environ),
        )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "--port" in lines[0]
