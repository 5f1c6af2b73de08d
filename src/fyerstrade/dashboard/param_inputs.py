"""Streamlit inputs for a strategy's declared parameters, shared by the Backtest and the Paper
trading pages.

One widget per :class:`~fyerstrade.strategies.base.Param`: a checkbox for a bool, a select box
for declared choices, a number input for an int or a float, a text input otherwise; its label is
the parameter's name and its help the parameter's help. The widgets return raw values; callers
check them with ``validate_params`` and the strategy's constructor, so the pages say exactly what
the CLI would.

``bounded=True`` passes the declared bounds to the number inputs (the browser then refuses a value
outside them). The Paper trading page edits a config file that may already hold a value outside
the bounds, and a bounded number input cannot even show such a value, so it uses
``bounded=False``, puts the bounds in the help text and lets validation name the mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from fyerstrade.strategies.base import Param, Strategy

__all__ = ["param_inputs", "param_widget"]


def _bounds_text(p: Param) -> str:
    def num(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else str(x)

    if p.min is None and p.max is None:
        return ""
    low = "-∞" if p.min is None else num(p.min)
    high = "∞" if p.max is None else num(p.max)
    return f"{low} to {high}"


def _help(p: Param, bounded: bool) -> str | None:
    parts = [p.help] if p.help else []
    if not bounded and p.type in (int, float) and p.choices is None:
        bounds = _bounds_text(p)
        if bounds:
            parts.append(f"allowed: {bounds}")
    return " — ".join(parts) or None


def _number(value: Any, kind: type[int] | type[float], default: Any) -> int | float:
    """``value`` as the widget's number type (the declared default when it is not a number)."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        return kind(default)


def param_widget(p: Param, key: str, value: Any = None, *, bounded: bool = True) -> Any:
    """Draw the input of one parameter, starting at ``value`` (the declared default when None);
    return what the user entered."""
    start = p.default if value is None else value
    help_ = _help(p, bounded)
    if p.type is bool:
        return st.checkbox(p.name, value=bool(start), help=help_, key=key)
    if p.choices is not None:
        options = list(p.choices)
        index = options.index(start) if start in options else options.index(p.default)
        return st.selectbox(p.name, options, index=index, help=help_, key=key)
    if p.type is int:
        return st.number_input(
            p.name,
            value=int(_number(start, int, p.default)),
            min_value=None if p.min is None or not bounded else int(p.min),
            max_value=None if p.max is None or not bounded else int(p.max),
            step=int(p.step or 1),
            help=help_,
            key=key,
        )
    if p.type is float:
        return st.number_input(
            p.name,
            value=float(_number(start, float, p.default)),
            min_value=None if p.min is None or not bounded else float(p.min),
            max_value=None if p.max is None or not bounded else float(p.max),
            step=float(p.step) if p.step else None,
            help=help_,
            key=key,
        )
    return st.text_input(p.name, value=str(start), help=help_, key=key)


def param_inputs(
    cls: type[Strategy],
    *,
    key_prefix: str,
    values: Mapping[str, Any] | None = None,
    bounded: bool = True,
) -> dict[str, Any]:
    """The inputs of every declared parameter of ``cls`` in up to three columns; widget keys are
    ``{key_prefix}-{strategy}-{param}``. Returns ``{name: raw value}``."""
    if not cls.params:
        st.caption("This strategy takes no parameters.")
        return {}
    start = values or {}
    cols = st.columns(min(3, len(cls.params)))
    raw: dict[str, Any] = {}
    for i, p in enumerate(cls.params):
        with cols[i % len(cols)]:
            raw[p.name] = param_widget(
                p, f"{key_prefix}-{cls.name}-{p.name}", start.get(p.name), bounded=bounded
            )
    return raw
