"""``fyerstrade demo`` end to end: a small universe, the dashboard answers, SIGINT stops all."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fyerstrade.dashboard.launcher import free_port, port_in_use, url_answers

pytestmark = pytest.mark.e2e

DEADLINE = 120.0
CLI = "from fyerstrade.cli import run; run()"


def _reader(stream: object, lines: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))


def _wait_for_line(lines: queue.Queue[str], pattern: str, seen: list[str]) -> re.Match[str]:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(
        f"no line matching {pattern!r} within {DEADLINE} s; got:\n" + "\n".join(seen)
    )


def test_demo_serves_the_dashboard_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-c", CLI, "demo", "--symbols", "NSE:SBIN-EQ", "--months", "1"]
    proc = subprocess.Popen(
        [*argv, "--port", str(port), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        sim_url = _wait_for_line(lines, r"simulator: (http://127\.0\.0\.1:\d+)", seen).group(1)
        url = _wait_for_line(lines, r"dashboard: (http://127\.0\.0\.1:\d+)", seen).group(1)
        assert url == f"http://127.0.0.1:{port}"
        assert url_answers(url)
        assert url_answers(f"{sim_url}/health") or port_in_use(
            "127.0.0.1", int(sim_url.rsplit(":", 1)[1])
        )
        text = "\n".join(seen)
        assert "sma_crossover on NSE:SBIN-EQ" in text
        assert "opening_price_crossover on NSE:SBIN-EQ" in text
        demo_dir = Path(os.environ["FYERSTRADE_DATA_DIR"]) / "demo"
        assert (demo_dir / "historical_market_data.sqlite").is_file()
        assert (demo_dir / "trading_log.sqlite").is_file()

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    # both servers are gone: nothing listens on their ports any more
    deadline = time.monotonic() + 10
    sim_port = int(sim_url.rsplit(":", 1)[1])
    while time.monotonic() < deadline and (
        port_in_use("127.0.0.1", port) or port_in_use("127.0.0.1", sim_port)
    ):
        time.sleep(0.1)
    assert not port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", sim_port)
