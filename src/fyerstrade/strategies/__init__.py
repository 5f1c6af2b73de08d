"""Strategies: the Strategy API (``base``), the registry and the built-in strategies.

The names below are imported on first use, so that a submodule that needs none of them (the
listing's index, the new-strategy template) does not pay for numpy and the trading core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fyerstrade.strategies.base import Param, Strategy, parse_param_pairs, validate_params
    from fyerstrade.strategies.registry import available_strategies, get_strategy, load_errors

_WHERE = {
    "Param": "base",
    "Strategy": "base",
    "parse_param_pairs": "base",
    "validate_params": "base",
    "available_strategies": "registry",
    "get_strategy": "registry",
    "load_errors": "registry",
}

__all__ = [
    "Param",
    "Strategy",
    "available_strategies",
    "get_strategy",
    "load_errors",
    "parse_param_pairs",
    "validate_params",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
