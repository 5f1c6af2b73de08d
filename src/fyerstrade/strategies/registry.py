"""The strategy registry: built-ins plus user strategies from ``FYERSTRADE_STRATEGY_DIR``.

User strategies are ``.py`` files in that folder, each defining one or more ``Strategy``
subclasses with a ``name``. Every file is imported on each lookup (so an edited file is picked
up); a file that fails to import, or that redefines an existing name, is reported by
:func:`load_errors` and the other files still load.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fyerstrade.config import Settings
from fyerstrade.errors import StrategyInterrupted, UnknownStrategyError
from fyerstrade.strategies.base import Strategy
from fyerstrade.strategies.location import error_location
from fyerstrade.strategies.opening_price_crossover import OpeningPriceCrossover
from fyerstrade.strategies.sma_crossover import SmaCrossover

BUILTINS: dict[str, type[Strategy]] = {
    SmaCrossover.name: SmaCrossover,
    OpeningPriceCrossover.name: OpeningPriceCrossover,
}

_USER_MODULE_PREFIX = "fyerstrade_user_strategies"
_last_errors: list[str] = []


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the file from its source every time, never through a ``.pyc``: Python trusts a
    ``.pyc`` while the source's size and modification second are unchanged, so an edit of the
    same size within the same second (or with its time kept) would run the old code."""

    def path_stats(self, path: str) -> Mapping[str, Any]:
        raise OSError("user strategy files are not cached")  # (so no .pyc is read or written)


def _load_file(path: Path) -> list[type[Strategy]]:
    """Import a user strategy file as it is now. Modules it imports in turn get no ``.pyc``
    written while it runs, for the same reason (the strategy listing watches them)."""
    module_name = f"{_USER_MODULE_PREFIX}.{path.stem}"
    loader = _SourceLoader(module_name, str(path))
    spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
    if spec is None:
        raise ImportError("not a loadable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    writes = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        sys.dont_write_bytecode = writes
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module_name
        and obj.name
    ]


def _user_strategies(folder: Path, taken: set[str]) -> tuple[dict[str, type[Strategy]], list[str]]:
    found: dict[str, type[Strategy]] = {}
    errors: list[str] = []
    if not folder.is_dir():
        return found, [f"{folder}: FYERSTRADE_STRATEGY_DIR is not a folder"]
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            classes = _load_file(path)
        except SystemExit as exc:  # sys.exit() at import would end the whole command silently
            where = error_location(exc)
            at = f" at {where}" if where else ""
            errors.append(
                f"{path.name}: calls sys.exit({exc.code!r}) when imported{at}; a strategy file "
                "must only define its classes"
            )
            continue
        except KeyboardInterrupt as exc:  # Ctrl-C while the file runs (a loop at import?)
            where = error_location(exc)
            at = f" at {where}" if where else ""
            raise StrategyInterrupted(f"while importing strategy file {path.name}{at}") from None
        except Exception as exc:  # a user file may raise anything on import
            where = error_location(exc)
            at = f" at {where}" if where and not isinstance(exc, SyntaxError) else ""
            errors.append(f"{path.name}: {type(exc).__name__}: {exc}{at}")
            continue
        if not classes:
            errors.append(f"{path.name}: defines no Strategy subclass with a name")
        for cls in classes:
            if cls.name in taken or cls.name in found:
                errors.append(f"{path.name}: strategy name '{cls.name}' is already taken")
                continue
            found[cls.name] = cls
    return found, errors


def available_strategies(settings: Settings | None = None) -> dict[str, type[Strategy]]:
    """Every strategy by name: built-ins, then user strategies from ``settings.strategy_dir``."""
    global _last_errors
    out = dict(BUILTINS)
    errors: list[str] = []
    if settings is not None and settings.strategy_dir is not None:
        user, errors = _user_strategies(Path(settings.strategy_dir), set(out))
        out.update(user)
    _last_errors = errors
    return out


def load_errors(settings: Settings | None = None) -> list[str]:
    """Problems met loading user strategies (one line per file): from the last lookup, or a
    fresh one when ``settings`` is given."""
    if settings is not None:
        available_strategies(settings)
    return list(_last_errors)


def get_strategy(name: str, settings: Settings | None = None) -> type[Strategy]:
    """The strategy class called ``name``; UnknownStrategyError suggests the closest name."""
    strategies = available_strategies(settings)
    cls = strategies.get(name)
    if cls is not None:
        return cls
    broken = next((e for e in _last_errors if e.startswith(f"{name}.py: ")), None)
    if broken is not None:  # the file named like the strategy did not load: say why first
        raise UnknownStrategyError(f"strategy file {broken}")
    close = difflib.get_close_matches(name, list(strategies), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    msg = f"unknown strategy '{name}'{hint}; available: {', '.join(sorted(strategies))}"
    if _last_errors:
        msg += f"; {len(_last_errors)} strategy file(s) failed to load: {'; '.join(_last_errors)}"
    raise UnknownStrategyError(msg)
