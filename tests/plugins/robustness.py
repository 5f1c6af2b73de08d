"""Fixtures for ``tests/robustness``: a populated data directory to damage or feed bad input to,
and an in-process CLI runner that captures what a user would see.

* ``robust_store``: the test's data dir (``FYERSTRADE_DATA_DIR``) holding all three stores with
  real content: 5-minute and daily candles of two symbols (the dashboard plugin's store), 2,000
  live ticks and one saved ``sma_crossover`` run. Built once per session, copied per test.
* ``run_cli(*args)``: :func:`fyerstrade.cli.main` in-process; returns ``CliResult`` (exit code,
  stdout, stderr lines).
* ``store_digests(data_dir)``: sha256 of each store file (what "unchanged" means).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fyerstrade.config import HISTORICAL_DB, LIVE_DB, TRADING_DB, load_settings
from fyerstrade.domain import Tick
from fyerstrade.store.db import connect
from fyerstrade.store.ticks import insert_live_ticks, tick_row
from plugins.dashboard import STORE_END, fill_store

STORES = (HISTORICAL_DB, LIVE_DB, TRADING_DB)
BACKTEST = (
    "backtest", "run", "--strategy", "sma_crossover", "-s", "NSE:SBIN-EQ", "-r", "5",
    "--from", "2026-10-01", "--to", STORE_END.isoformat(), "--mode", "positional",
)  # fmt: skip

# A strategy whose on_data never returns; it writes the file named by $SPIN_MARKER first, so a
# test knows it is spinning (its loop is at spin.py:12-13).
SPIN_STRATEGY = """import os
from pathlib import Path

from fyerstrade.strategies.base import Strategy


class Spin(Strategy):
    name = "spin"

    def on_data(self, ctx):
        Path(os.environ["SPIN_MARKER"]).write_text("spinning")
        while True:
            pass
"""


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err_lines: list[str]

    @property
    def one_line(self) -> str:
        """The single stderr line (asserting there is exactly one)."""
        assert len(self.err_lines) == 1, f"expected one line on stderr, got {self.err_lines}"
        return self.err_lines[0]


def store_digests(data_dir: Path) -> dict[str, str | None]:
    """sha256 of each store file (None when missing)."""
    out: dict[str, str | None] = {}
    for name in STORES:
        path = data_dir / name
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return out


@pytest.fixture(scope="session")
def _store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fyerstrade.cli import main

    root = tmp_path_factory.mktemp("robust-template")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("FYERSTRADE_", "FYERS_")):
                mp.delenv(key)
        mp.setenv("FYERSTRADE_DATA_DIR", str(root / "data"))
        mp.setenv("FYERSTRADE_LOG_DIR", str(root / "logs"))
        mp.chdir(root)
        settings = load_settings(env_file=None)
        fill_store(settings)
        conn = connect(settings.live_db)
        base = 1_795_240_000
        ticks = [
            tick_row(Tick(sym, base + i, 100.0 + i % 7, 1000 + i), base + i + 0.01)
            for i in range(1000)
            for sym in ("NSE:SBIN-EQ", "NSE:TCS-EQ")
        ]
        insert_live_ticks(conn, ticks)
        conn.close()
        assert main(list(BACKTEST)) == 0
    return root / "data"


@pytest.fixture
def robust_store(_store_template: Path, tmp_path: Path) -> Path:
    """A copy of the populated data dir at the test's FYERSTRADE_DATA_DIR; returns its path."""
    data = tmp_path / "data"
    shutil.copytree(_store_template, data)
    return data


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    from fyerstrade.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.strip()]
        return CliResult(code, captured.out, lines)

    return run


class SmallDisk:
    """A real, tiny file system (tmpfs) that a test can fill up: writes then fail with ENOSPC
    exactly as on a full disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._filler = path / ".filler"

    def fill(self) -> None:
        """Use up every free byte (and inode room for small writes)."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (65_536, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
        finally:
            os.close(fd)

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 2 MiB tmpfs at ``tmp_path/disk`` (skipped where the test may not mount one)."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): no full-disk test")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
