"""Strategies: the Strategy API (``base``), the registry and the built-in strategies."""

from fyerstrade.strategies.base import Param, Strategy, parse_param_pairs, validate_params
from fyerstrade.strategies.registry import available_strategies, get_strategy, load_errors

__all__ = [
    "Param",
    "Strategy",
    "available_strategies",
    "get_strategy",
    "load_errors",
    "parse_param_pairs",
    "validate_params",
]
