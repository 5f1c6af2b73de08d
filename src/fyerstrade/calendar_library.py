"""What ``pandas_market_calendars`` says about NSE ("XNSE"), read once per installed version.

Asking the library for a year's schedule takes a few tenths of a second (and importing it, with
pandas, more): a ten-year backtest paid seconds for the calendar alone, in every process. The
answers never change for one installed version of the library, so they are kept on disk, in
``<cache dir>/nse-calendar/<library version>/``: ``coverage.json`` (the years the holiday lists
cover) and one ``<year>.json`` per year asked for (each session's day number, segments as epoch
seconds, label). A process whose years are all cached never imports the library or pandas.

The cache dir is ``$FYERSTRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/fyerstrade``, else
``~/.cache/fyerstrade``. Files are written atomically; an unreadable or damaged file is ignored
and rebuilt from the library, and a cache dir that cannot be written just means no cache.
Upgrading the library (new holiday lists) starts a fresh folder. The project's own table of
special sessions is applied on top by :mod:`fyerstrade.calendar` and is never cached.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fyerstrade.atomic_file import write_text_atomic

log = logging.getLogger("fyerstrade.calendar")

#: Bump when the meaning or layout of the cached files changes.
CACHE_FORMAT = 1
_LIBRARY = "pandas_market_calendars"

#: One session as cached: (day number since 1970-01-01, ((open, close), ...) epoch s, label).
LibrarySession = tuple[int, tuple[tuple[int, int], ...], str]


def cache_root() -> Path:
    """Where fyerstrade keeps derived files that can always be rebuilt."""
    explicit = os.environ.get("FYERSTRADE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fyerstrade"


def library_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_LIBRARY)
    except PackageNotFoundError:  # pragma: no cover - a dependency of the project
        return "unknown"


@dataclass(frozen=True, slots=True)
class Coverage:
    """The years the library's holiday lists cover (dates outside are refused or assumed)."""

    start: date
    end: date


class LibraryCalendar:
    """The library's NSE sessions by year, from the on-disk cache or the library itself.

    ``build_year(year, lib)`` (given by :class:`fyerstrade.calendar.NSECalendar`) turns the
    library object into the sessions of one year; this class only decides where they come from.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = (
            folder or cache_root() / "nse-calendar" / f"{library_version()}-{CACHE_FORMAT}"
        )
        self._lib: Any = None
        self._lock = threading.Lock()

    def library(self) -> Any:
        """The ``XNSE`` calendar object of the library (imported on first call)."""
        with self._lock:
            if self._lib is None:
                import pandas_market_calendars as mcal

                self._lib = mcal.get_calendar("XNSE")
            return self._lib

    def coverage(self) -> Coverage:
        cached = self._read("coverage.json")
        if cached is not None:
            try:
                return Coverage(
                    date.fromisoformat(cached["start"]), date.fromisoformat(cached["end"])
                )
            except (KeyError, TypeError, ValueError):
                pass
        import pandas as pd

        years = [pd.Timestamp(h).year for h in self.library().adhoc_holidays]
        cov = Coverage(date(min(years), 1, 1), date(max(years), 12, 31))
        self._write("coverage.json", {"start": cov.start.isoformat(), "end": cov.end.isoformat()})
        return cov

    def sessions(self, year: int, build: Any) -> list[LibrarySession]:
        """The library's sessions of ``year``; ``build(year, lib)`` computes them on a miss."""
        cached = self._read(f"{year}.json")
        if cached is not None:
            try:
                return [
                    (int(day), tuple((int(o), int(c)) for o, c in segs), str(label))
                    for day, segs, label in cached["sessions"]
                ]
            except (KeyError, TypeError, ValueError):
                log.debug("calendar cache %s/%d.json is damaged; rebuilding it", self.folder, year)
        sessions: list[LibrarySession] = build(year, self.library())
        self._write(
            f"{year}.json",
            {
                "year": year,
                "sessions": [[d, [list(s) for s in segs], lab] for d, segs, lab in sessions],
            },
        )
        return sessions

    def _read(self, name: str) -> Any:
        try:
            return json.loads((self.folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write(self, name: str, data: Any) -> None:
        try:
            write_text_atomic(
                self.folder / name, json.dumps(data, separators=(",", ":")), durable=False
            )
        except OSError as exc:
            log.debug("calendar cache not written (%s): %s", self.folder / name, exc)
