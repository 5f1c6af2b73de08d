"""The search space: one axis per searched parameter, built from the strategy's declared
:class:`~fyerstrade.strategies.base.Param` and overridable per parameter.

Defaults: a parameter with ``choices`` searches its choices, a bool both values, a number with
``min`` and ``max`` the range ``min..max`` in steps of its ``step`` (1 for an int). Other
parameters (text without choices, numbers without bounds) are not optimizable and stay at their
default unless fixed with ``--param name=value``.

Overrides (``--param``)::

    fast=5:50:5      a range: 5, 10, ..., 50 (the last value never passes the maximum)
    fast=5:50        a range in the declared step
    slow=20,40,80    a list of values
    allow_short=no   one value: the parameter is fixed, not searched

Every value is converted to the declared type and checked against the declared bounds, so the
optimizer never proposes what ``backtest run`` would refuse.

The space is never materialised: its size is a product of axis lengths (exact Python integers,
however large), and parameter sets are decoded from their index in mixed radix, a block of
indices at a time, as numpy columns (:meth:`SearchSpace.columns`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from fyerstrade.errors import InputError
from fyerstrade.strategies.base import Param, ParamValue, Strategy

__all__ = ["Axis", "SearchSpace", "build_space", "optimizable", "searchable"]

IntArray = npt.NDArray[np.int64]


def searchable(p: Param) -> bool:
    """Whether a declared parameter may be searched at all: it declares choices, is a bool, or
    is a number with both bounds."""
    if p.choices is not None or p.type is bool:
        return True
    return p.type in (int, float) and p.min is not None and p.max is not None


def optimizable(p: Param) -> bool:
    """Whether a declared parameter is searched by default (a float also needs its step)."""
    return searchable(p) and (p.type is not float or p.choices is not None or bool(p.step))


def _decimals(x: float) -> int:
    exp = Decimal(repr(float(x))).normalize().as_tuple().exponent
    return max(0, -int(exp)) if isinstance(exp, int) else 0


@dataclass(frozen=True)
class Axis:
    """The values one parameter takes: a range ``lo, lo+step, ... <= hi`` or a list."""

    name: str
    type: type
    lo: float = 0.0
    hi: float = 0.0
    step: float = 1.0
    choices: tuple[ParamValue, ...] | None = None

    @property
    def is_range(self) -> bool:
        return self.choices is None

    def __len__(self) -> int:
        if self.choices is not None:
            return len(self.choices)
        return math.floor((self.hi - self.lo) / self.step + 1e-9) + 1

    def value(self, i: int) -> ParamValue:
        if self.choices is not None:
            return self.choices[i]
        return self._cast(self.lo + i * self.step)

    def _cast(self, x: float) -> ParamValue:
        if self.type is int:
            return round(x)
        return round(float(x), max(_decimals(self.lo), _decimals(self.step)))

    def values(self, idx: IntArray) -> npt.NDArray[Any]:
        """The values at ``idx`` (a numpy column: int64, float64, or object for lists)."""
        if self.choices is not None:
            return np.asarray(self.choices, dtype=object)[idx]
        raw = self.lo + idx.astype(np.float64) * self.step
        if self.type is int:
            return np.rint(raw).astype(np.int64)
        return np.round(raw, max(_decimals(self.lo), _decimals(self.step)))

    def describe(self) -> str:
        if self.choices is not None:
            return ",".join(_text(c) for c in self.choices)
        return f"{_text(self.value(0))}:{_text(self.value(len(self) - 1))}:{_text(self.step)}"

    def as_json(self) -> dict[str, Any]:
        if self.choices is not None:
            return {"name": self.name, "values": list(self.choices)}
        return {"name": self.name, "min": self.lo, "max": self.hi, "step": self.step}


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class SearchSpace:
    """The axes searched (in declared order) and the parameters held fixed."""

    strategy: str
    axes: tuple[Axis, ...]
    fixed: Mapping[str, ParamValue] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def size(self) -> int:
        """How many combinations the grid has (an exact integer, never materialised)."""
        return math.prod(len(a) for a in self.axes)

    def _strides(self) -> list[int]:
        strides = []
        s = 1
        for a in reversed(self.axes):
            strides.append(s)
            s *= len(a)
        return strides[::-1]

    def indices(self, flat: Sequence[int] | IntArray) -> list[IntArray]:
        """Per axis, the value index of each flat grid index (mixed radix, last axis fastest)."""
        if self.size > np.iinfo(np.int64).max:
            out = [[] for _ in self.axes]  # type: list[list[int]]
            for f in flat:
                rest = int(f)
                for k, (a, s) in enumerate(zip(self.axes, self._strides(), strict=True)):
                    out[k].append(rest // s % len(a))
                    rest %= s
            return [np.asarray(col, dtype=np.int64) for col in out]
        arr = np.asarray(flat, dtype=np.int64)
        return [(arr // s) % len(a) for a, s in zip(self.axes, self._strides(), strict=True)]

    def flat_index(self, idx: Sequence[int]) -> int:
        return sum(int(i) * s for i, s in zip(idx, self._strides(), strict=True))

    def columns(self, idx: Sequence[IntArray]) -> dict[str, npt.NDArray[Any]]:
        """Value columns (one per axis, plus the fixed parameters) from per-axis indices."""
        n = len(idx[0]) if idx else 1
        cols: dict[str, npt.NDArray[Any]] = {
            a.name: a.values(i) for a, i in zip(self.axes, idx, strict=True)
        }
        for k, v in self.fixed.items():
            cols[k] = np.full(n, v, dtype=object if isinstance(v, str) else None)
        return cols

    def params_at(
        self, columns: Mapping[str, npt.NDArray[Any]], rows: Iterable[int]
    ) -> list[dict[str, ParamValue]]:
        """Plain parameter dicts (every declared parameter) for the given rows of ``columns``."""
        out = []
        for r in rows:
            p: dict[str, ParamValue] = dict(self.fixed)
            for a in self.axes:
                p[a.name] = _plain(columns[a.name][r])
            out.append(p)
        return out

    def describe(self) -> str:
        parts = [f"{a.name}={a.describe()}" for a in self.axes]
        parts += [f"{k}={_text(v)}" for k, v in self.fixed.items()]
        return " ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {"axes": [a.as_json() for a in self.axes], "fixed": dict(self.fixed)}

    @classmethod
    def from_json(
        cls, strategy: str, data: Mapping[str, Any], types: Mapping[str, type]
    ) -> SearchSpace:
        axes = []
        for a in data["axes"]:
            t = types.get(a["name"], float)
            if "values" in a:
                axes.append(Axis(a["name"], t, choices=tuple(a["values"])))
            else:
                axes.append(Axis(a["name"], t, float(a["min"]), float(a["max"]), float(a["step"])))
        return cls(strategy, tuple(axes), dict(data.get("fixed", {})))


def _plain(v: Any) -> ParamValue:
    if isinstance(v, np.generic):
        item: ParamValue = v.item()
        return item
    return v  # type: ignore[no-any-return]


def _default_axis(p: Param) -> Axis | None:
    if p.choices is not None:
        return Axis(p.name, p.type, choices=tuple(p.choices))
    if p.type is bool:
        return Axis(p.name, bool, choices=(False, True))
    if not optimizable(p):
        return None
    assert p.min is not None and p.max is not None
    step = float(p.step) if p.step else 1.0
    if p.type is int:
        step = max(1.0, float(round(step)))
    return Axis(p.name, p.type, float(p.min), float(p.max), step)


def _override(cls: type[Strategy], p: Param, text: str) -> tuple[Axis | None, ParamValue | None]:
    """``(axis, None)`` for a range or list, ``(None, value)`` for a single fixed value."""
    where = f"--param {p.name}={text}"
    body = text.strip()
    if not body:
        raise InputError(f"{where}: give a range lo:hi[:step], a list a,b,c or one value")
    if ":" in body:
        if p.type not in (int, float) or p.choices is not None:
            raise InputError(f"{where}: {p.name} is not a number; list its values: a,b,c")
        parts = body.split(":")
        if len(parts) not in (2, 3):
            raise InputError(f"{where}: a range is lo:hi or lo:hi:step, e.g. 5:50:5")
        lo = p.convert(parts[0], cls.name)
        hi = p.convert(parts[1], cls.name)
        if len(parts) == 3:
            try:
                step = float(parts[2])
            except ValueError:
                raise InputError(f"{where}: the step {parts[2]!r} is not a number") from None
        elif p.step:
            step = float(p.step)
        elif p.type is int:
            step = 1.0
        else:
            raise InputError(f"{where}: {p.name} declares no step; give one: lo:hi:step")
        if not math.isfinite(step) or step == 0:
            raise InputError(f"{where}: the step must not be zero")
        if step < 0:
            raise InputError(f"{where}: the step must be positive (write the range low:high)")
        if p.type is int and not float(step).is_integer():
            raise InputError(f"{where}: {p.name} is an integer; the step must be whole")
        if float(lo) > float(hi):
            raise InputError(f"{where}: the minimum {_text(lo)} is above the maximum {_text(hi)}")
        p.check(lo, cls.name)
        p.check(hi, cls.name)
        _require_optimizable(cls, p, where)
        axis = Axis(p.name, p.type, float(lo), float(hi), step)
        p.check(axis.value(len(axis) - 1), cls.name)
        return axis, None
    items = [s.strip() for s in body.split(",")]
    if any(not s for s in items):
        raise InputError(f"{where}: an empty value in the list")
    values: list[ParamValue] = []
    for raw in items:
        v = p.convert(raw, cls.name)
        p.check(v, cls.name)
        if v not in values:
            values.append(v)
    if len(values) == 1:
        return None, values[0]
    _require_optimizable(cls, p, where)
    return Axis(p.name, p.type, choices=tuple(values)), None


def _require_optimizable(cls: type[Strategy], p: Param, where: str) -> None:
    if not searchable(p):
        raise InputError(
            f"{where}: parameter '{p.name}' of {cls.name} declares no bounds or choices, so it "
            f"is not optimizable; fix it with --param {p.name}=VALUE"
        )


def build_space(cls: type[Strategy], overrides: Mapping[str, str] | None = None) -> SearchSpace:
    """The search space of ``cls``: every optimizable parameter over its declared range, with
    ``overrides`` (name → ``lo:hi:step`` / ``a,b,c`` / ``value``) applied. Unknown names and
    values outside the declared bounds raise InputError (one line, with a "did you mean")."""
    given = dict(overrides or {})
    for name in given:
        cls.param(name)  # raises with the closest declared name
    axes: list[Axis] = []
    fixed: dict[str, ParamValue] = {}
    for p in cls.params:
        if p.name in given:
            axis, value = _override(cls, p, given[p.name])
        else:
            axis, value = _default_axis(p), None
            if axis is None:
                value = p.default
        if axis is not None and len(axis) == 1:
            value = axis.value(0)
            axis = None
        if axis is not None:
            axes.append(axis)
        else:
            assert value is not None
            fixed[p.name] = value
    if not axes:
        raise InputError(
            f"nothing to search: every parameter of {cls.name} is fixed; give a range, "
            "e.g. --param NAME=lo:hi:step"
        )
    return SearchSpace(cls.name, tuple(axes), fixed)
