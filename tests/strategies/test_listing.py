"""``backtest strategies`` from the index of the last import: reused only while every file it came
from is unchanged, so an edited, added, removed or broken file is always seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fyerstrade import cli
from fyerstrade.config import load_settings
from fyerstrade.strategies.listing import index_path, list_strategies

# Each import of this file appends a line to $IMPORT_MARKS: how many times it was imported.
STRATEGY = """
import os
from pathlib import Path
from fyerstrade.strategies.base import Param, Strategy

with Path(os.environ["IMPORT_MARKS"]).open("a") as marks:
    marks.write("imported\\n")

class Momentum(Strategy):
    name = "momentum"
    description = "buys strength"
    params = (Param("lookback", int, 20, min=2, help="bars"),)
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "strategies"
    path.mkdir()
    (path / "momentum.py").write_text(STRATEGY)
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(path))
    monkeypatch.setenv("FYERSTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IMPORT_MARKS", str(tmp_path / "marks.txt"))
    return path


def _imports(tmp_path: Path) -> int:
    try:
        return len((tmp_path / "marks.txt").read_text().splitlines())
    except FileNotFoundError:
        return 0


def _listing() -> tuple[dict[str, dict[str, object]], list[str]]:
    listing, problems = list_strategies(load_settings(env_file=None))
    return {info["name"]: info for info in listing}, problems


def _lookback(by_name: dict[str, dict[str, object]]) -> object:
    params = by_name["momentum"]["params"]
    assert isinstance(params, list)
    return params[0]["default"]


def test_second_listing_comes_from_the_index_and_equals_the_import(
    folder: Path, tmp_path: Path
) -> None:
    first, problems = _listing()
    assert problems == [] and _imports(tmp_path) == 1
    assert index_path(str(folder)).is_file()
    assert index_path(str(folder)).is_relative_to(tmp_path / "cache")
    second, _ = _listing()
    assert _imports(tmp_path) == 1  # not imported again
    assert second == first
    assert list(second)[:2] == ["sma_crossover", "opening_price_crossover"]
    assert _lookback(second) == 20


def test_an_edit_that_keeps_size_and_mtime_is_seen(folder: Path, tmp_path: Path) -> None:
    _listing()
    file = folder / "momentum.py"
    before = file.stat()
    file.write_text(STRATEGY.replace("20, min", "30, min"))  # same size
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))  # same modification time
    assert file.stat().st_size == before.st_size
    by_name, _ = _listing()
    assert _lookback(by_name) == 30 and _imports(tmp_path) == 2


def test_added_and_removed_files_are_seen(folder: Path, tmp_path: Path) -> None:
    _listing()
    second = STRATEGY.replace('"momentum"', '"reversal"').replace("Momentum", "Reversal")
    (folder / "reversal.py").write_text(second)
    by_name, _ = _listing()
    assert {"momentum", "reversal"} <= set(by_name)
    (folder / "reversal.py").unlink()
    by_name, _ = _listing()
    assert "reversal" not in by_name and "momentum" in by_name
    (folder / "momentum.py").unlink()
    by_name, _ = _listing()
    assert "momentum" not in by_name  # no stale entry
    assert "sma_crossover" in by_name


def test_a_broken_file_gives_its_error_every_time_until_fixed(folder: Path, tmp_path: Path) -> None:
    _listing()
    good = (folder / "momentum.py").read_text()
    (folder / "momentum.py").write_text(good + "\nratio = 1 / 0\n")
    for _ in range(2):
        by_name, problems = _listing()
        assert "momentum" not in by_name and "sma_crossover" in by_name
        assert len(problems) == 1
        assert problems[0].startswith("momentum.py: ZeroDivisionError: division by zero at ")
    (folder / "momentum.py").write_text(good)
    by_name, problems = _listing()
    assert problems == [] and _lookback(by_name) == 20


def test_a_helper_module_imported_from_elsewhere_is_watched(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "listing_helper_xyz.py").write_text("LOOKBACK = 20\n")
    monkeypatch.syspath_prepend(str(lib))
    monkeypatch.delitem(sys.modules, "listing_helper_xyz", raising=False)
    (folder / "momentum.py").write_text(
        STRATEGY.replace("import os\n", "import os\nfrom listing_helper_xyz import LOOKBACK\n")
        .replace("20, min", "LOOKBACK, min")
    )  # fmt: skip
    assert _lookback(_listing()[0]) == 20
    (lib / "listing_helper_xyz.py").write_text("LOOKBACK = 45\n")
    monkeypatch.delitem(sys.modules, "listing_helper_xyz")  # a new process imports it anew
    assert _lookback(_listing()[0]) == 45


def test_a_damaged_index_is_rebuilt(folder: Path, tmp_path: Path) -> None:
    first, _ = _listing()
    index = index_path(str(folder))
    stored = json.loads(index.read_text())
    for damage in ("{not json", "[]", json.dumps({**stored, "strategies": [{"name": 1}]})):
        index.write_text(damage)
        again, problems = _listing()
        assert again == first and problems == []
        assert json.loads(index.read_text()) == stored


def test_another_folder_is_not_served_from_the_index(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _listing()
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(other))
    by_name, problems = _listing()
    assert "momentum" not in by_name and problems == []
    monkeypatch.delenv("FYERSTRADE_STRATEGY_DIR")
    assert "momentum" not in _listing()[0]


def test_cli_listing_is_the_same_from_the_index(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for args in (["--json"], ["--json"], [], []):
        assert cli.main(["backtest", "strategies", *args]) == 0
        outputs.append(capsys.readouterr().out)
    assert _imports(tmp_path) == 1
    assert outputs[0] == outputs[1] and outputs[2] == outputs[3]
    assert {s["name"] for s in json.loads(outputs[0])} >= {"momentum", "sma_crossover"}
    lines = outputs[2].splitlines()
    assert lines[0].startswith("sma_crossover  Long when the fast SMA")
    assert lines[1].split() == ["parameter", "type", "default", "min", "max", "step", "help"]
    assert lines[2].split()[:6] == ["fast", "int", "10", "1", "1000", "1"]
    assert "momentum  buys strength" in lines


def test_listing_from_the_index_imports_no_strategy(folder: Path, tmp_path: Path) -> None:
    """In a fresh process, as a user runs it: the second listing imports neither the strategies
    nor numpy."""
    probe = (
        "import sys, json\nfrom fyerstrade.cli import main\ncode = main(sys.argv[1:])\n"
        "print(json.dumps([code, 'numpy' in sys.modules, "
        "'fyerstrade.strategies.base' in sys.modules]), file=sys.stderr)\n"
    )
    seen = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", probe, "backtest", "strategies"],
            capture_output=True, text=True, timeout=120, env=dict(os.environ),
        )  # fmt: skip
        seen.append(json.loads(proc.stderr.strip().splitlines()[-1]))
        assert "momentum" in proc.stdout
    assert seen == [[0, True, True], [0, False, False]]
