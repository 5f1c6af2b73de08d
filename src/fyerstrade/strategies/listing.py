"""What ``fyerstrade backtest strategies`` lists, without importing the strategies when nothing
they were read from has changed.

A listing needs only each strategy's name, description and declared parameters, but importing
the strategies to read them costs numpy and the trading core (about a third of the command). So
the listing of the last import is kept in the cache dir (derived files that can always be
rebuilt: ``$FYERSTRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/fyerstrade``, else
``~/.cache/fyerstrade``), in ``strategy-index/<digest of the folders>.json`` (one file per user
strategy folder), beside a fingerprint (size and BLAKE2 digest of the contents) of every file it
came from:

- every ``.py`` file of the built-in strategy package;
- every ``.py`` file of the user strategy folder (``_helpers.py`` included), so an added, edited,
  renamed or removed file is seen;
- every other module the import pulled in from outside the Python installation (fyerstrade's own
  modules, a user's package on ``PYTHONPATH``).

The next listing reads and hashes those files (about a millisecond) and reuses the stored listing
only when the same files have the same contents, the folder is the same and so are fyerstrade's
and Python's versions; otherwise the strategies are imported as before and the index rewritten.
Contents, not modification times, decide: an edit within the file system's timestamp tick that
keeps the size is still seen. A listing with a load problem is never stored, so a broken file is
imported again, and its one error line printed, every time until it is fixed. An unreadable or
unwritable index only costs the import.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fyerstrade import __version__

if TYPE_CHECKING:
    from fyerstrade.config import Settings
    from fyerstrade.strategies.base import Strategy

__all__ = ["StrategyInfo", "describe", "index_path", "list_strategies"]

_FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent  # fyerstrade/strategies
_FYERSTRADE = _PACKAGE.parent
_PLAIN = (int, float, bool, str)

#: One strategy as listed: ``{"name", "description", "params": [{"name", "type", "default",
#: "min", "max", "step", "help", "choices"}]}`` (what ``--json`` prints).
StrategyInfo = dict[str, Any]


def describe(cls: type[Strategy]) -> StrategyInfo:
    """A strategy class as listed."""
    return {
        "name": cls.name,
        "description": cls.description,
        "params": [
            {
                "name": p.name,
                "type": p.type.__name__,
                "default": p.default,
                "min": p.min,
                "max": p.max,
                "step": p.step,
                "help": p.help,
                "choices": list(p.choices) if p.choices is not None else None,
            }
            for p in cls.params
        ],
    }


def list_strategies(settings: Settings) -> tuple[list[StrategyInfo], list[str]]:
    """Every strategy as listed (built-ins first) and the problems met loading user files (one
    line each), from the index when it still describes the files, else by importing them."""
    folder = _folder(settings)
    index = index_path(folder)
    stored = _stored_listing(index, folder)
    if stored is not None:
        return stored, []
    return _fresh_listing(settings, index, folder)


def index_path(folder: str | None) -> Path:
    """The index file of the listing with the user strategy folder ``folder`` (absolute)."""
    from fyerstrade.calendar_library import cache_root

    which = json.dumps([str(_PACKAGE), folder]).encode()
    return (
        cache_root()
        / "strategy-index"
        / f"{hashlib.blake2b(which, digest_size=8).hexdigest()}.json"
    )


def _folder(settings: Settings) -> str | None:
    if settings.strategy_dir is None:
        return None
    return str(Path(settings.strategy_dir).absolute())


def _watched(folder: str | None) -> list[str]:
    """The files every listing depends on: the built-in package's and the user folder's."""
    paths = _py_files(str(_PACKAGE))
    if folder is not None:
        paths += _py_files(folder)
    return paths


def _py_files(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return sorted(e.path for e in entries if e.name.endswith(".py"))
    except OSError:  # no such folder (the registry reports it), or unreadable
        return []


def _fingerprint(path: str) -> str | None:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return f"{len(data)}:{hashlib.blake2b(data, digest_size=16).hexdigest()}"


def _key(folder: str | None) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "fyerstrade": __version__,
        "python": sys.version,
        "folder": folder,
    }


def _stored_listing(index: Path, folder: str | None) -> list[StrategyInfo] | None:
    try:
        data = json.loads(index.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != _key(folder):
        return None
    files = data.get("files")
    listing = data.get("strategies")
    if not isinstance(files, dict) or not isinstance(listing, list) or not _storable(listing):
        return None
    watched = _watched(folder)
    if not set(watched) <= set(files):  # a file added since
        return None
    for path, stored in files.items():  # each file changed, or removed, since
        if _fingerprint(path) != stored:
            return None
    return listing


def _fresh_listing(
    settings: Settings, index: Path, folder: str | None
) -> tuple[list[StrategyInfo], list[str]]:
    before = set(sys.modules)
    from fyerstrade.strategies.registry import available_strategies, load_errors

    listing = [describe(cls) for cls in available_strategies(settings).values()]
    errors = load_errors()
    if not errors and _storable(listing):
        paths = set(_watched(folder)) | _imported_since(before)
        files = {path: _fingerprint(path) for path in sorted(paths)}
        if None not in files.values():
            _store(index, {"key": _key(folder), "files": files, "strategies": listing})
    return listing, errors


def _imported_since(before: set[str]) -> set[str]:
    """Source files of the modules imported since ``before`` that are not part of the Python
    installation (fyerstrade's own modules count even when installed there)."""
    prefixes = tuple(
        str(Path(p).resolve()) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
    )
    own = str(_FYERSTRADE) + os.sep
    out: set[str] = set()
    for name in set(sys.modules) - before:
        file = getattr(sys.modules.get(name), "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        path = str(Path(file).resolve())
        if path.startswith(own) or not path.startswith(prefixes):
            out.add(path)
    return out


def _storable(listing: list[StrategyInfo]) -> bool:
    """Only plain values, which come back from JSON exactly as they were (an int subclass or
    a numpy number would come back as something else); also what a stored listing must look
    like to be used."""
    try:
        return _plain(listing)
    except (KeyError, TypeError, AttributeError):
        return False


def _plain(listing: list[StrategyInfo]) -> bool:
    for info in listing:
        if type(info["name"]) is not str or type(info["description"]) is not str:
            return False
        for p in info["params"]:
            values = [p["default"], p["min"], p["max"], p["step"], *(p["choices"] or ())]
            if any(v is not None and type(v) not in _PLAIN for v in values):
                return False
            if any(type(p[k]) is not str for k in ("name", "type", "help")):
                return False
    return True


def _store(index: Path, data: dict[str, Any]) -> None:
    from fyerstrade.atomic_file import write_text_atomic

    try:
        text = json.dumps(data, allow_nan=False)
        write_text_atomic(index, text, durable=False)
    except (OSError, ValueError):  # a cache dir that cannot be written: just not kept
        pass
