"""The calendar library's answers are kept on disk per library version: a cached year gives the
same sessions as the library, a process whose years are cached never imports the library or
pandas, and a damaged or unwritable cache only costs time."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from fyerstrade.calendar import NSECalendar, _schedule_sessions
from fyerstrade.calendar_library import LibraryCalendar, cache_root


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("FYERSTRADE_CACHE_DIR", str(folder))
    return folder


def _sessions(cal: NSECalendar, year: int) -> list[tuple[date, tuple[tuple[int, int], ...], str]]:
    return [
        (s.date, s.segments, s.label) for s in cal.sessions(date(year, 1, 1), date(year, 12, 31))
    ]


def test_cached_years_equal_the_library(cache: Path) -> None:
    first = NSECalendar()  # asks the library, writes the cache
    fresh = _sessions(first, 2024)
    files = list(cache.glob("nse-calendar/*/*.json"))
    assert {f.name for f in files} >= {"coverage.json", "2024.json"}
    second = NSECalendar()  # reads the cache
    assert _sessions(second, 2024) == fresh
    assert second.coverage_end == first.coverage_end
    lib = LibraryCalendar(files[0].parent).library()
    direct = _schedule_sessions(2024, lib)
    assert [(s[0], s[1], s[2]) for s in direct] == [
        (s.date.toordinal() - date(1970, 1, 1).toordinal(), s.segments, s.label)
        for s in second.sessions(date(2024, 1, 1), date(2024, 12, 31))
        if not s.special or s.label in ("Muhurat", "interrupted", "special hours")
    ]
    assert any(label == "Muhurat" for _, _, label in fresh)  # 2024-11-01 evening session


def test_a_cached_process_never_imports_the_library(cache: Path) -> None:
    probe = (
        "import sys\n"
        "from fyerstrade.calendar import get_calendar\n"
        "import numpy as np\n"
        "cal = get_calendar()\n"
        "print(cal.bar_close_times(np.array([1704167100], dtype=np.int64), __import__("
        "'fyerstrade.domain').domain.Resolution.M5)[0])\n"
        "print('pandas_market_calendars' in sys.modules, 'pandas' in sys.modules)\n"
    )
    env = {**__import__("os").environ, "FYERSTRADE_CACHE_DIR": str(cache)}
    cold = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    warm = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    close_cold, imported_cold = cold.stdout.splitlines()
    close_warm, imported_warm = warm.stdout.splitlines()
    assert close_cold == close_warm == str(1704167100 + 300)
    assert imported_cold == "True True" and imported_warm == "False False"


def test_damaged_cache_is_rebuilt(cache: Path) -> None:
    expected = _sessions(NSECalendar(), 2024)
    (year_file,) = cache.glob("nse-calendar/*/2024.json")
    year_file.write_text('{"sessions": [[1, "oops"', encoding="utf-8")
    (cov_file,) = cache.glob("nse-calendar/*/coverage.json")
    cov_file.write_text(json.dumps({"start": "not a date"}), encoding="utf-8")
    assert _sessions(NSECalendar(), 2024) == expected
    assert json.loads(year_file.read_text(encoding="utf-8"))["year"] == 2024


def test_unwritable_cache_still_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("FYERSTRADE_CACHE_DIR", str(blocker / "cache"))
    assert cache_root() == blocker / "cache"
    cal = NSECalendar()
    assert cal.is_trading_day(date(2024, 1, 2)) and not cal.is_trading_day(date(2024, 1, 26))
