"""Constraints between parameters (``--constraint "fast < slow"``), parsed safely.

The text is parsed with :mod:`ast` and checked against a whitelist: comparisons (chained too),
``and``/``or``/``not``, ``+ - * / // %``, unary minus, numbers, strings, ``True``/``False``,
parameter names and the functions ``abs``, ``min`` and ``max``. Anything else (attributes,
subscripts, calls of other functions, ``**``, lambdas, comprehensions) is refused with one line
naming what is not allowed. Nothing is ever passed to ``eval``: the checked tree is turned into
a closure over numpy arrays, so one call decides a whole block of parameter sets at once
(:meth:`Constraint.mask`). A division by zero or a comparison with NaN is simply "not admitted".
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fyerstrade.errors import InputError

__all__ = ["Constraint", "admitted", "parse_constraint"]

Columns = Mapping[str, npt.NDArray[Any]]
Node = Callable[[Columns], Any]

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _safe(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A division whose result is NaN (compares false) where the divisor is zero."""

    def divide(a: Any, b: Any) -> Any:
        b = np.asarray(b, dtype=np.float64)
        out = fn(np.asarray(a, dtype=np.float64), np.where(b == 0, 1.0, b))
        return np.where(b == 0, np.nan, out)

    return divide


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: _safe(np.true_divide),
    ast.FloorDiv: _safe(np.floor_divide),
    ast.Mod: _safe(np.mod),
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": np.abs,
    "min": lambda *a: _reduce(np.minimum, a),
    "max": lambda *a: _reduce(np.maximum, a),
}
_OPERATOR_WORDS = {
    ast.Pow: "**",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}


def _reduce(fn: Callable[[Any, Any], Any], args: Sequence[Any]) -> Any:
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint: its text, the parameter names it reads, and its test."""

    text: str
    names: frozenset[str]
    _test: Node

    def mask(self, columns: Columns) -> npt.NDArray[np.bool_]:
        """True where the parameter sets (one column of values per parameter) are admitted."""
        n = len(next(iter(columns.values()))) if columns else 1
        with np.errstate(all="ignore"):
            try:
                out = self._test(columns)
            except ZeroDivisionError:
                return np.zeros(n, dtype=bool)
        arr = np.asarray(out)
        if arr.dtype != bool:
            arr = arr.astype(bool)
        return np.broadcast_to(arr, (n,)).copy()

    def admits(self, params: Mapping[str, Any]) -> bool:
        """The test on one parameter set."""
        cols = {k: np.asarray([params[k]]) for k in self.names}
        return bool(self.mask(cols)[0]) if cols else bool(self.mask({"_": np.zeros(1)})[0])


def admitted(constraints: Sequence[Constraint], columns: Columns) -> npt.NDArray[np.bool_]:
    """True where every constraint admits the parameter set."""
    n = len(next(iter(columns.values()))) if columns else 0
    ok = np.ones(n, dtype=bool)
    for c in constraints:
        ok &= c.mask({k: columns[k] for k in c.names}) if c.names else c.mask(columns)
    return ok


def parse_constraint(text: str, names: Collection[str], strategy: str = "") -> Constraint:
    """Parse ``text`` against the parameter ``names``; InputError (one line) when it is not a
    whitelisted boolean expression or names something that is not a parameter."""
    source = text.strip()
    where = f"--constraint {text!r}"
    if not source:
        raise InputError(f"{where} is empty; write a comparison such as 'fast < slow'")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise InputError(
            f"{where} is not an expression; write a comparison such as 'fast < slow'"
        ) from None
    body = tree.body
    if not _is_boolean(body):
        raise InputError(
            f"{where} must be a comparison (e.g. 'fast < slow', 'fast * 2 <= slow and rr2 > rr1')"
        )
    used: set[str] = set()
    test = _compile(body, set(names), used, where, strategy)
    return Constraint(source, frozenset(used), test)


def _is_boolean(node: ast.expr) -> bool:
    if isinstance(node, ast.Compare | ast.BoolOp):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, bool)


def _unknown(name: str, names: set[str], where: str, strategy: str) -> InputError:
    close = difflib.get_close_matches(name, sorted(names), n=1)
    hint = (
        f" (did you mean '{close[0]}'?)" if close else f" (parameters: {', '.join(sorted(names))})"
    )
    of = f" of {strategy}" if strategy else ""
    return InputError(f"{where} names '{name}', which is not a parameter{of}{hint}")


def _compile(node: ast.AST, names: set[str], used: set[str], where: str, strategy: str) -> Node:
    def sub(n: ast.AST) -> Node:
        return _compile(n, names, used, where, strategy)

    if isinstance(node, ast.Name):
        if node.id not in names:
            raise _unknown(node.id, names, where, strategy)
        used.add(node.id)
        key = node.id
        return lambda cols: cols[key]
    if isinstance(node, ast.Constant):
        value = node.value
        if not isinstance(value, bool | int | float | str):
            raise InputError(f"{where}: {value!r} is not allowed; use numbers or quoted text")
        return lambda cols: value
    if isinstance(node, ast.Compare):
        left = sub(node.left)
        parts: list[tuple[Callable[[Any, Any], Any], Node]] = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            fn = _COMPARE.get(type(op))
            if fn is None:
                raise _not_allowed(_OPERATOR_WORDS.get(type(op), type(op).__name__), where)
            parts.append((fn, sub(right)))

        def compare(cols: Columns) -> Any:
            a = left(cols)
            result: Any = True
            for fn, right_fn in parts:
                b = right_fn(cols)
                result = np.logical_and(result, fn(a, b))
                a = b
            return result

        return compare
    if isinstance(node, ast.BoolOp):
        values = [sub(v) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return lambda cols: _reduce(combine, [v(cols) for v in values])
    if isinstance(node, ast.UnaryOp):
        operand = sub(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda cols: np.logical_not(operand(cols))
        if isinstance(node.op, ast.USub):
            return lambda cols: operator.neg(operand(cols))
        if isinstance(node.op, ast.UAdd):
            return operand
        raise _not_allowed("~", where)
    if isinstance(node, ast.BinOp):
        fn = _BINARY.get(type(node.op))
        if fn is None:
            raise _not_allowed(_OPERATOR_WORDS.get(type(node.op), type(node.op).__name__), where)
        a, b = sub(node.left), sub(node.right)
        return lambda cols: fn(a(cols), b(cols))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            if isinstance(node.func, ast.Name):
                raise InputError(f"{where}: {node.func.id}() is not allowed; only abs, min, max")
            raise InputError(f"{where}: only abs(), min() and max() may be called")
        if node.keywords or not node.args or any(isinstance(a, ast.Starred) for a in node.args):
            raise InputError(f"{where}: {node.func.id}() takes plain arguments")
        fn_call = _FUNCTIONS[node.func.id]
        args = [sub(a) for a in node.args]
        return lambda cols: fn_call(*(a(cols) for a in args))
    raise _not_allowed(type(node).__name__.lower(), where)


def _not_allowed(what: str, where: str) -> InputError:
    return InputError(
        f"{where}: '{what}' is not allowed; use parameter names, numbers, comparisons, "
        "and/or/not, + - * / // % and abs/min/max"
    )
