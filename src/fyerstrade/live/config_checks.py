"""Everything the live engine would refuse at session start, checked where the config is written.

``live config --check``, ``live start`` (before it starts a process) and the dashboard's config
editor all go through :meth:`LiveConfig.validated <fyerstrade.live.config.LiveConfig.validated>`,
which calls these checks, so a config that passes them is one the engine accepts:

- :func:`load_yaml_strictly`: the file is UTF-8 text, valid YAML, not empty, a mapping, and has
  no key twice (YAML itself keeps the last of two ``capital:`` lines without a word);
- :func:`check_strategy`: the strategy constructs with its parameters, so the checks a strategy
  makes across parameters (``sma_crossover`` needs fast < slow) fail here, not at 09:15;
- :func:`check_symbols`: every symbol is in the symbol master (or has stored 1-minute bars), as
  the engine requires (NSE:NOPE-EQ, a typo, is refused with the hint to check the spelling).

Non-finite numbers (``capital: .inf``, ``nan``) are refused by the model itself
(``allow_inf_nan=False``). These are plain functions of a config's values so that one trading
spec shared by backtests and live trading can call the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fyerstrade.errors import ConfigError, FyersTradeError

if TYPE_CHECKING:
    from fyerstrade.config import Settings


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(f"duplicate key '{key}' (lines {seen[key]} and {line}); keep one")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_yaml_strictly(path: Path) -> dict[str, Any]:
    """The mapping in ``path``; :class:`ConfigError` for an unreadable, binary, invalid or empty
    file, a file that is not a mapping, or a key given twice."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not a text file (undecodable bytes); fix or rewrite it"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if "\x00" in text:
        raise ConfigError(f"{path} is not a text file (it contains NUL bytes); fix or rewrite it")
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML") from None
    if data is None:
        raise ConfigError(
            f"{path} is empty; write one with `fyerstrade live config --init` "
            "or from the dashboard's Paper trading page"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (strategy, symbols, ...)")
    return data


def check_strategy(strategy: type[Any], params: Mapping[str, Any]) -> None:
    """Construct ``strategy`` with ``params`` as the engine will: its own checks across
    parameters become a :class:`ConfigError`."""
    try:
        strategy(**params)
    except FyersTradeError as exc:
        raise ConfigError(f"live config params: {exc}") from None
    except Exception as exc:  # a user strategy's constructor may raise anything
        raise ConfigError(
            f"live config params: {strategy.name} refused them: {type(exc).__name__}: {exc}"
        ) from None


def check_symbols(symbols: Sequence[str], settings: Settings, day: date) -> None:
    """Every symbol in the symbol master (or with stored 1-minute bars), as the engine
    requires; :class:`ConfigError` names the first unknown one. Reads the historical store
    only when it exists (a check never creates one)."""
    from fyerstrade.domain import Resolution
    from fyerstrade.store.candles import candle_timestamps
    from fyerstrade.store.db import connect
    from fyerstrade.store.symbols import get_instrument, symbol_count

    empty_master = (
        "live config: symbols: the symbol master is empty; load it with `fyerstrade data symbols` "
        "(the engine takes lot and tick sizes from it)"
    )
    path = settings.historical_db
    if not path.exists():
        raise ConfigError(empty_master)
    conn = connect(path)
    try:
        unknown = [
            s
            for s in symbols
            if get_instrument(conn, s, day) is None
            and not len(candle_timestamps(conn, s, Resolution.M1))
        ]
        master_rows = symbol_count(conn) if unknown else 1
    finally:
        conn.close()
    if unknown and not master_rows:
        raise ConfigError(empty_master)
    if unknown:
        raise ConfigError(
            f"live config: symbols: {', '.join(unknown)} not in the symbol master; check the "
            "ticker (EXCHANGE:NAME-SERIES, e.g. NSE:SBIN-EQ) or refresh the master with "
            "`fyerstrade data symbols`"
        )
