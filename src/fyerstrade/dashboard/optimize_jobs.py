"""Sweeps and walk-forwards started from the dashboard run in a process of their own.

The page records the optimization (so a mistake is shown at once and the id is known), then
starts ``fyerstrade optimize run --resume ID`` (or ``walkforward``) detached, in its own
session: the sweep uses every core it is given, the page stays responsive and only polls the
trial store, and a closed browser tab does not stop it. Stop sends Ctrl-C (SIGINT): the process
keeps every finished trial and exits; ``--resume`` from the CLI, or Run again, continues it.
The process's stderr goes to ``optimize-ID.log`` in the log directory, whose last line is shown
when it fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fyerstrade.config import Settings

__all__ = ["STOPPED_CODES", "Job", "launch", "log_tail"]

CLI = "from fyerstrade.cli import run; run()"
#: How a stopped job ends: 130 from the CLI's Ctrl-C, or killed by the SIGINT itself when Stop
#: came before Python had started in it.
STOPPED_CODES = (130, -signal.SIGINT)


@dataclass
class Job:
    """A sweep or walk-forward running in the background."""

    opt_id: str
    kind: str  # sweep | walkforward
    planned: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        """Ask it to stop like Ctrl-C: finished trials are kept."""
        if self.running:
            os.kill(self.process.pid, signal.SIGINT)


def launch(settings: Settings, opt_id: str, kind: str, planned: int, workers: int | None) -> Job:
    """Start the stored optimization ``opt_id`` in a detached process."""
    command = "run" if kind == "sweep" else "walkforward"
    args = [sys.executable, "-c", CLI, "optimize", command, "--resume", opt_id]
    if workers is not None:
        args += ["--workers", str(workers)]
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.log_dir / f"optimize-{opt_id}.log"
    env = {
        **os.environ,
        "FYERSTRADE_DATA_DIR": str(settings.data_dir),
        "FYERSTRADE_LOG_DIR": str(settings.log_dir),
    }
    if settings.strategy_dir is not None:
        env["FYERSTRADE_STRATEGY_DIR"] = str(settings.strategy_dir)
    with log_path.open("ab") as err:
        process = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    return Job(opt_id, kind, planned, process, log_path)


def log_tail(job: Job) -> str:
    """The last line the process wrote on stderr (its error), or ''."""
    try:
        lines = job.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""
