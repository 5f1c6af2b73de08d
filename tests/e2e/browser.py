"""Helpers for the browser tests and the dashboard benchmark: a filled data dir, a dashboard
subprocess, Chromium through Playwright, and Streamlit-aware waits (no sleeps: every wait polls
with a deadline)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from fyerstrade.config import Settings
from fyerstrade.dashboard.launcher import free_port, stop_process, wait_until_up
from fyerstrade.demo import DemoOptions, demo_settings, fill_store
from fyerstrade.sim import SimServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CLI = "from fyerstrade.cli import run; run()"


def fill_from_sim(
    sim: SimServer,
    data_dir: Path,
    log_dir: Path,
    symbols: tuple[str, ...],
    months: int,
    today: date,
) -> Settings:
    """Log in to ``sim``, load its symbol master and fetch candles into ``data_dir``."""
    options = DemoOptions(
        data_dir=data_dir, log_dir=log_dir, symbols=symbols, months=months, open_browser=False
    )
    settings = demo_settings(options, sim.url)
    fill_store(settings, options, today, lambda _: None)
    return settings


@contextmanager
def dashboard_process(data_dir: Path, timeout: float = 90.0) -> Iterator[str]:
    """``fyerstrade dashboard`` on a free port reading ``data_dir``; yields its URL."""
    port = free_port()
    env = {**os.environ, "FYERSTRADE_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "dashboard", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, timeout=timeout)
        yield url
    finally:
        stop_process(proc)
