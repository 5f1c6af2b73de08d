"""Starting the Streamlit dashboard as a child process, and waiting for it to answer.

``fyerstrade dashboard`` and ``fyerstrade demo`` both run ``streamlit run app.py`` (through
:mod:`fyerstrade.dashboard.serve`, which preloads the pages first) with
the same flags: bound to one host (127.0.0.1 by default), headless (no browser opened by
Streamlit itself), usage statistics off, no file watcher (the app is installed code, not a
script being edited). The data directory reaches the child through ``FYERSTRADE_DATA_DIR`` in its
environment, so the dashboard reads exactly the stores its parent chose (the demo's own
``data/demo``, or the configured one).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from fyerstrade.errors import InputError

#: The served script: in a folder without a ``pages/`` sibling (see its docstring).
APP_PATH = Path(__file__).parent / "served" / "app.py"
DEFAULT_PORT = 8501
DEFAULT_HOST = "127.0.0.1"
#: Set for the Streamlit child: the pid of the process it must not outlive.
PARENT_PID_ENV = "FYERSTRADE_DASHBOARD_PARENT_PID"


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@dataclass(frozen=True, slots=True)
class DashboardSpec:
    """What to start: where to listen, which data directory to read, and any further
    environment (the demo points the child at its simulator)."""

    data_dir: Path
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    log_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def streamlit_command(spec: DashboardSpec) -> list[str]:
    """The argv of the Streamlit child process (``fyerstrade.dashboard.serve`` warms up the
    imports, then runs ``streamlit run``)."""
    return [
        sys.executable,
        "-m",
        "fyerstrade.dashboard.serve",
        "run",
        str(APP_PATH),
        "--server.address",
        spec.host,
        "--server.port",
        str(spec.port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--theme.base",
        "light",
    ]


def child_environment(spec: DashboardSpec) -> dict[str, str]:
    """The parent's environment plus the data (and log) directory the dashboard must read."""
    env = dict(os.environ)
    env["FYERSTRADE_DATA_DIR"] = str(spec.data_dir.resolve())
    if spec.log_dir is not None:
        env["FYERSTRADE_LOG_DIR"] = str(spec.log_dir.resolve())
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    # the child stops when this thread ends, even by kill -9 (serve.stop_with_parent); only the
    # main thread's children: Linux ties the signal to the thread that started the child
    env.pop(PARENT_PID_ENV, None)
    if threading.current_thread() is threading.main_thread():
        env[PARENT_PID_ENV] = str(os.getpid())
    env.update(spec.extra_env)
    return env


def start_dashboard(spec: DashboardSpec) -> subprocess.Popen[bytes]:
    """Start Streamlit in the background; refuses a port that is already taken."""
    if port_in_use(spec.host, spec.port):
        raise InputError(
            f"port {spec.port} on {spec.host} is already in use; "
            f"pass --port with a free port (e.g. --port {free_port(spec.host)})"
        )
    return subprocess.Popen(
        streamlit_command(spec),
        env=child_environment(spec),
        stdout=subprocess.DEVNULL,
        stderr=None,
        stdin=subprocess.DEVNULL,
    )


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while the block runs (main thread only), so a service
    manager's stop also runs the ``finally`` that stops the child processes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def url_answers(url: str, timeout: float = 1.0) -> bool:
    """Whether ``url`` answers HTTP 200 now."""
    import urllib.error  # here: urllib pulls in http.client and email, which --help needn't
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (our own http URL)
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until_up(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 60.0
) -> None:
    """Poll ``url/_stcore/health`` until Streamlit answers; fail early if the process died."""
    deadline = time.monotonic() + timeout
    health = url.rstrip("/") + "/_stcore/health"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise InputError(
                f"the dashboard exited with code {process.returncode} before answering on {url}; "
                "see the messages above"
            )
        if url_answers(health):
            return
        time.sleep(0.2)
    raise InputError(f"the dashboard did not answer on {url} within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """Ask a child to stop (SIGTERM), wait, and kill it if it does not; returns its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    return int(process.returncode)
