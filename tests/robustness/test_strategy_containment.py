"""Strategies that misbehave are contained (15.5): ``sys.exit()`` at import is a broken strategy
file, not a silent exit 0; an endless loop in ``on_data`` is stopped by Ctrl-C with the strategy,
symbol, bar and line named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from plugins.robustness import BACKTEST, SPIN_STRATEGY, CliResult, store_digests

CLI = "from fyerstrade.cli import run; run()"
BOOM = "import sys\n\nsys.exit(0)\n"


@pytest.fixture
def strategy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "strategies"
    folder.mkdir()
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(folder))
    return folder


def test_sys_exit_at_import_is_a_broken_strategy_file(
    robust_store: Path, strategy_dir: Path, run_cli: Callable[..., CliResult]
) -> None:
    (strategy_dir / "boom.py").write_text(BOOM)
    before = store_digests(robust_store)
    run = run_cli("backtest", "run", "--strategy", "boom", *BACKTEST[4:])
    assert run.code == 2
    assert run.one_line.startswith(
        "error: strategy file boom.py: calls sys.exit(0) when imported at boom.py:3 (sys.exit(0))"
    )
    listing = run_cli("backtest", "strategies")
    assert listing.code == 0 and "sma_crossover" in listing.out  # the others still load
    assert listing.err_lines == [
        "warning: boom.py: calls sys.exit(0) when imported at boom.py:3 (sys.exit(0)); a strategy "
        "file must only define its classes"
    ]
    assert store_digests(robust_store) == before


LOOP_AT_IMPORT = """import os
from pathlib import Path

Path(os.environ["SPIN_MARKER"]).write_text("spinning")
while True:
    pass
"""


def _interrupt(strategy: str, marker: Path) -> tuple[int, list[str], str]:
    """``backtest run --strategy NAME`` in its own process, Ctrl-C once the strategy's code is
    spinning (it writes ``marker`` first): exit code, non-blank stderr lines, stdout."""
    env = {**os.environ, "SPIN_MARKER": str(marker)}
    argv = [sys.executable, "-c", CLI, "backtest", "run", "--strategy", strategy, *BACKTEST[4:]]
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():  # the strategy is inside its loop once the marker exists
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the strategy code never ran"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, [line for line in err.splitlines() if line.strip()], out


def test_ctrl_c_in_an_endless_on_data_names_strategy_symbol_bar_and_line(
    robust_store: Path, strategy_dir: Path, tmp_path: Path
) -> None:
    (strategy_dir / "spin.py").write_text(SPIN_STRATEGY)
    before = store_digests(robust_store)
    code, lines, out = _interrupt("spin", tmp_path / "spinning")
    assert code == 130, lines
    assert len(lines) == 1, (lines, out)
    line = lines[0]
    assert line.startswith("interrupted: strategy spin was running on_data on NSE:SBIN-EQ")
    assert "at bar 2026-10-01 " in line and "IST" in line
    assert "spin.py:13 (pass)" in line or "spin.py:12 (while True:)" in line, line
    assert line.endswith("; nothing was saved")
    assert "saved as" not in out
    assert store_digests(robust_store) == before


def test_ctrl_c_in_a_strategy_file_looping_at_import_names_the_file_and_line(
    robust_store: Path, strategy_dir: Path, tmp_path: Path
) -> None:
    (strategy_dir / "loopy.py").write_text(LOOP_AT_IMPORT)
    code, lines, _ = _interrupt("loopy", tmp_path / "spinning")
    assert code == 130, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("interrupted: while importing strategy file loopy.py at loopy.py:")
    assert lines[0].endswith("; nothing was saved")
