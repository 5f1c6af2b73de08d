"""Start-up is paid only by what a command uses: ``--help``, ``backtest strategies`` and
``live status`` run without importing the dashboard, plotting, the calendar library or pandas.

Behaviour, not timing: each command runs in a fresh interpreter, which then lists the modules it
imported. (The wall times are in ``make bench BENCH=startup``.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Never for these three commands: the dashboard, plotting, the calendar library, pandas (and what
# drags pandas in: pyarrow, talib), the SDK and its HTTP stack, the optimizer's machinery.
HEAVY = (
    "streamlit",
    "plotly",
    "pandas",
    "pandas_market_calendars",
    "pyarrow",
    "talib",
    "fyers_apiv3",
    "aiohttp",
    "requests",
    "numba",
    "optuna",
    "ray",
    "fyerstrade.dashboard.app",
    "fyerstrade.reporting.charts",
    "fyerstrade.backtest.engine",
    "fyerstrade.store.db",
    "fyerstrade.demo",
    "typer._adapters",
)

_PROBE = """
import json, sys
from fyerstrade.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def _imported(args: list[str], tmp_path: Path) -> set[str]:
    report = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(report), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert data["code"] == 0, proc.stderr
    return set(data["modules"])


def _top_level(modules: set[str]) -> set[str]:
    return modules | {m.split(".")[0] for m in modules}


@pytest.mark.parametrize(
    ("args", "also_absent"),
    [
        (["--help"], ("numpy", "pydantic", "fyerstrade.config", "rich")),
        (["backtest", "strategies"], ("pydantic",)),
        (["live", "status"], ("numpy", "pydantic")),
    ],
    ids=["help", "backtest-strategies", "live-status"],
)
def test_command_imports_only_what_it_uses(
    args: list[str], also_absent: tuple[str, ...], tmp_path: Path
) -> None:
    loaded = _top_level(_imported(args, tmp_path))
    unexpected = sorted(m for m in (*HEAVY, *also_absent) if m in loaded)
    assert unexpected == [], f"`fyerstrade {' '.join(args)}` imported {unexpected}"


def test_probe_sees_heavy_imports(tmp_path: Path) -> None:
    """The probe is not blind: a command that draws charts does import plotly."""
    loaded = _imported(["--help"], tmp_path)
    assert "fyerstrade.cli" in loaded
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; import fyerstrade.reporting.charts; "
         "print('plotly' in sys.modules)"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == "True"
