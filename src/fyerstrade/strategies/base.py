"""The Strategy API: declared parameters, a lifecycle, and parameter validation.

A strategy is written once and runs unchanged in a backtest and live, because everything it can
touch comes through the :class:`~fyerstrade.trading.context.Context` handed to its callbacks.

Lifecycle (the engine calls, in order)::

    indicators(bars)   once per symbol, over the whole arrays -> {name: array aligned with bars}
    init(ctx)          once, before the first bar (precompute, read params)
    on_start(ctx)      once, when the clock starts
    on_data(ctx)       once per timestamp at which a primary-resolution bar closes; ctx.updated
                       lists every symbol with a new bar at that timestamp
    on_fill(ctx, fill) after each fill of one of the strategy's orders
    on_stop(ctx)       once, after the last bar

Optionally a strategy also declares ``signals(bars, params)`` (with ``signal_indicators``): its
trades as whole arrays, which the vectorized engine runs for fast sweeps under the same rules
(``strategies/signals.py`` describes the contract; tests hold both descriptions to the same trades).

A strategy whose ``on_data`` acts only where one of its indicators is non-zero (a crossing
signal, say) may name it in ``wake_on``: the engine then calls ``on_data`` only at bars where it
is non-zero (NaN counts as non-zero), with ``ctx.updated`` listing just those symbols, in a
backtest and live alike. That is a promise about ``on_data``; a subclass that overrides
``on_data`` without restating ``wake_on`` does not inherit it (:func:`wake_indicator`).

Indicators are computed once over whole arrays (TA-Lib or numpy) the way backtesting.py does, and
revealed bar by bar: ``ctx.indicator(symbol, name)`` is a view that ends at the current bar, so a
value of a bar that has not closed is unreachable. An indicator must therefore be *causal* (its
value at bar t depends only on bars up to t), which every TA-Lib moving average is.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fyerstrade.errors import InputError

if TYPE_CHECKING:
    from fyerstrade.candles import CandleArrays
    from fyerstrade.domain import Fill
    from fyerstrade.strategies.signals import Indicator, SignalBars, Signals
    from fyerstrade.trading.context import Context

ParamValue = int | float | bool | str


@dataclass(frozen=True)
class Param:
    """One declared strategy parameter; the CLI, dashboard and optimizer read these."""

    name: str
    type: type[int] | type[float] | type[bool] | type[str]
    default: ParamValue
    min: float | None = None
    max: float | None = None
    step: float | None = None
    help: str = ""
    choices: tuple[ParamValue, ...] | None = None

    def convert(self, value: Any, strategy: str) -> ParamValue:
        """Convert a raw value (a CLI string or a Python value) to the declared type."""
        where = f"parameter '{self.name}' of {strategy}"
        if self.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on", "y"}:
                return True
            if text in {"0", "false", "no", "off", "n"}:
                return False
            raise InputError(f"{where} must be true or false, got {value!r}")
        if self.type is int:
            if isinstance(value, bool):
                raise InputError(f"{where} must be an integer, got {value!r}")
            if isinstance(value, int | np.integer):
                return int(value)
            if isinstance(value, float) and value.is_integer():
                return int(value)
            try:
                return int(str(value).strip())
            except ValueError:
                raise InputError(f"{where} must be an integer, got {value!r}") from None
        if self.type is float:
            if isinstance(value, bool):
                raise InputError(f"{where} must be a number, got {value!r}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{where} must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise InputError(f"{where} must be a finite number, got {value!r}")
            return number
        return str(value)

    def check(self, value: ParamValue, strategy: str) -> None:
        """Raise InputError naming the bounds when ``value`` is outside them."""
        where = f"parameter '{self.name}' of {strategy}"
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise InputError(f"{where} must be one of {allowed}, got {value!r}")
        if isinstance(value, bool | str):
            return
        lo, hi = self.min, self.max
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            low = "-inf" if lo is None else _num(lo)
            high = "inf" if hi is None else _num(hi)
            raise InputError(f"{where} must be between {low} and {high}, got {_num(value)}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class Strategy:
    """Base class of every strategy. Subclasses declare ``name``, ``params``, ``description``.

    Validated parameter values are set as instance attributes (``self.fast``) and kept in
    ``self.param_values``. Every callback has a no-op default, so a subclass overrides only
    what it needs.
    """

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    description: ClassVar[str] = ""
    #: how indicators are drawn: "overlay" (over the price), "panel" (own panel), "none"; an
    #: indicator not listed is placed by :func:`fyerstrade.reporting.plots.plot_kinds`
    plots: ClassVar[Mapping[str, str]] = {}
    signal_indicators: ClassVar[Mapping[str, Indicator]] = {}
    #: an indicator outside whose non-zero bars ``on_data`` does nothing (module docstring)
    wake_on: ClassVar[str | None] = None

    def __init__(self, **params: Any) -> None:
        values = validate_params(type(self), params)
        self.param_values: dict[str, Any] = values
        for key, value in values.items():
            setattr(self, key, value)

    def indicators(self, bars: CandleArrays) -> Mapping[str, np.ndarray]:
        """Compute every indicator once over one symbol's whole arrays (aligned with ``bars``).

        Values must be causal: the value at bar t may use bars up to t only."""
        return {}

    def init(self, ctx: Context) -> None:
        """Called once before the first bar."""

    def on_start(self, ctx: Context) -> None:
        """Called once when the run starts."""

    def on_data(self, ctx: Context) -> None:
        """Called once per timestamp at which primary bars close (``ctx.updated``)."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Called after each fill of one of this strategy's orders."""

    def on_stop(self, ctx: Context) -> None:
        """Called once after the last bar."""

    @classmethod
    def signals(cls, bars: SignalBars, params: Mapping[str, Any]) -> Signals:
        """Optional: the strategy's entries, exits, stops and targets over one symbol's whole
        bars for the parameter values ``params`` (see ``strategies/signals.py``)."""
        raise NotImplementedError(f"strategy {cls.name} does not declare signals")

    @classmethod
    def param(cls, name: str) -> Param:
        for p in cls.params:
            if p.name == name:
                return p
        raise InputError(_unknown_message(cls, name))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {p.name: p.default for p in cls.params}


_CALLBACKS = ("indicators", "init", "on_start", "on_data", "on_fill", "on_stop")


def has_signals(strategy: type[Strategy]) -> bool:
    """Does ``strategy`` declare ``signals`` that describe it (and so run in the vectorized
    engine)? A subclass that overrides a bar-by-bar callback (``on_data``, ``init``, ...) without
    restating ``signals`` does not: its parent's signals no longer say what it does."""
    for klass in strategy.__mro__:
        if klass is Strategy:
            return False
        attrs = vars(klass)
        if "signals" in attrs:
            return True
        if any(name in attrs for name in _CALLBACKS):
            return False
    return False


def wake_indicator(strategy: type[Strategy]) -> str | None:
    """The indicator that says when ``strategy``'s ``on_data`` has something to do, or None
    (called at every bar). ``wake_on`` counts only when declared by the class that defines the
    ``on_data`` in force or by a subclass of it: it is a promise about that ``on_data``."""
    for klass in strategy.__mro__:
        attrs = vars(klass)
        if "wake_on" in attrs:
            wake: str | None = attrs["wake_on"]
            return wake
        if "on_data" in attrs:
            return None
    return None


def _unknown_message(cls: type[Strategy], name: str) -> str:
    names = [p.name for p in cls.params]
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        hint = f" (did you mean '{close[0]}'?)"
    elif names:
        hint = f" (parameters: {', '.join(names)})"
    else:
        hint = " (it takes no parameters)"
    return f"unknown parameter '{name}' for {cls.name}{hint}"


def validate_params(cls: type[Strategy], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return a full parameter dict for ``cls``: values converted to the declared types (CLI
    strings like ``"5"`` included), bounds checked, missing names filled with defaults.

    Raises InputError naming an unknown parameter (with the closest declared name) or the bounds
    a value falls outside of."""
    declared = {p.name: p for p in cls.params}
    for key in raw:
        if key not in declared:
            raise InputError(_unknown_message(cls, key))
    out: dict[str, Any] = {}
    for p in cls.params:
        value = p.convert(raw[p.name], cls.name) if p.name in raw else p.default
        p.check(value, cls.name)
        out[p.name] = value
    return out


def parse_param_pairs(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Turn CLI ``KEY=VALUE`` strings into a dict (values stay strings for validate_params)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param {pair!r} must look like KEY=VALUE, e.g. fast=5")
        name = key.strip()
        if name in out:
            raise InputError(
                f"--param {name} is given twice ({name}={out[name]} and {name}={value.strip()}); "
                "give it once"
            )
        out[name] = value.strip()
    return out
