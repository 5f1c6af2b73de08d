"""A backtest's fills and round trips held as columns: read-only sequences that build a
:class:`~fyerstrade.domain.Fill` or :class:`~fyerstrade.domain.RoundTrip` only when one is
asked for.

A million-bar vectorized run has tens of thousands of fills; building their Python objects cost
more than the simulation. :class:`FillColumns` and :class:`TradeColumns` keep the values as
columns (numpy arrays, or codes into a few labels for text) and still behave as the list of
objects they stand for: ``len``, indexing and slicing, iteration, ``==`` with another such
sequence or with a list of objects (the parity tests compare ``vector.fills == event.fills``).
The objects are built once, at the first iteration (or comparison with a list), and kept.

What reads a result as a whole (metrics, the journal's save, ``--json``) goes through
:func:`column` and :func:`columns_of`, which take the columns as they are from these sequences
and read the attributes of plain lists of objects: the same values either way, no objects.

A column is one of: a numpy array (numbers), a Python list (any values), :class:`Coded` (each
value a label picked by a code: symbols, sides, products, tags) or :class:`Numbered` (a prefix
and a number: the vectorized engine's order ids ``O<n>``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import attrgetter
from typing import Any, ClassVar, Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt

from fyerstrade.domain import Fill, RoundTrip
from fyerstrade.store.trade_columns import FIELDS, Kind

__all__ = [
    "Coded",
    "Column",
    "FillColumns",
    "Numbered",
    "TradeColumns",
    "column",
    "column_array",
    "columns_of",
]

_T = TypeVar("_T", Fill, RoundTrip)


class Coded:
    """Values given as codes into ``labels`` (a tuple or a dict): ``labels[codes[i]]``."""

    __slots__ = ("codes", "labels")

    def __init__(self, codes: npt.NDArray[Any] | list[Any], labels: Any) -> None:
        self.codes = codes
        self.labels = labels

    def __len__(self) -> int:
        return len(self.codes)

    def item(self, i: int) -> Any:
        code = self.codes[i]
        return self.labels[code.item() if isinstance(code, np.generic) else code]

    def values(self) -> list[Any]:
        codes = self.codes.tolist() if isinstance(self.codes, np.ndarray) else self.codes
        return list(map(self.labels.__getitem__, codes))

    def take(self, part: slice) -> Coded:
        return Coded(self.codes[part], self.labels)


class Numbered:
    """Text values ``prefix + str(number)``: the vectorized engine's order ids ``O<n>``."""

    __slots__ = ("numbers", "prefix")

    def __init__(self, prefix: str, numbers: npt.NDArray[np.int64]) -> None:
        self.prefix = prefix
        self.numbers = numbers

    def __len__(self) -> int:
        return len(self.numbers)

    def item(self, i: int) -> str:
        return f"{self.prefix}{int(self.numbers[i])}"

    def values(self) -> list[str]:
        prefix = self.prefix
        return [f"{prefix}{n}" for n in self.numbers.tolist()]

    def take(self, part: slice) -> Numbered:
        return Numbered(self.prefix, self.numbers[part])


Column = npt.NDArray[Any] | list[Any] | Coded | Numbered


def _values(col: Column) -> list[Any]:
    if isinstance(col, np.ndarray):
        out: list[Any] = col.tolist()
        return out
    if isinstance(col, list):
        return col
    return col.values()


def _item(col: Column, i: int) -> Any:
    if isinstance(col, np.ndarray):
        return col[i].item()
    if isinstance(col, list):
        return col[i]
    return col.item(i)


def _take(col: Column, part: slice) -> Column:
    if isinstance(col, np.ndarray | list):
        return col[part]
    return col.take(part)


class _Columns(Sequence[_T], Generic[_T]):
    """A read-only sequence of ``_make`` objects whose fields (``FIELDS[_kind]``, in the
    constructor's order) are held as columns."""

    _kind: ClassVar[Kind]
    _make: ClassVar[Callable[..., Any]]

    __slots__ = ("_columns", "_len", "_objects")
    __hash__ = None  # type: ignore[assignment]  # mutable-looking, compared by value: as a list

    def __init__(self, columns: Mapping[str, Column]) -> None:
        names = [name for name, _ in FIELDS[self._kind]]
        missing = [n for n in names if n not in columns]
        if missing:
            raise ValueError(f"{type(self).__name__}: no column for {', '.join(missing)}")
        lengths = {len(columns[n]) for n in names}
        if len(lengths) > 1:
            raise ValueError(f"{type(self).__name__}: columns of different lengths {lengths}")
        self._columns: dict[str, Column] = {n: columns[n] for n in names}
        self._len = lengths.pop() if lengths else 0
        self._objects: list[_T] | None = None

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> _T: ...
    @overload
    def __getitem__(self, index: slice) -> _Columns[_T]: ...
    def __getitem__(self, index: int | slice) -> _T | _Columns[_T]:
        if isinstance(index, slice):
            return type(self)({n: _take(c, index) for n, c in self._columns.items()})
        if self._objects is not None:
            return self._objects[index]
        i = index.__index__()
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(f"{type(self).__name__} index out of range")
        obj: _T = type(self)._make(*(_item(c, i) for c in self._columns.values()))
        return obj

    def __iter__(self) -> Iterator[_T]:
        return iter(self.objects())

    def objects(self) -> list[_T]:
        """Every object, built once (and kept for the next call)."""
        if self._objects is None:
            make = type(self)._make
            self._objects = list(map(make, *(_values(c) for c in self._columns.values())))
        return self._objects

    @property
    def materialized(self) -> bool:
        """Were the objects built (by iteration, a comparison with a list, ``objects()``)?"""
        return self._objects is not None

    def column(self, name: str) -> list[Any]:
        """One field's values as a list of Python values (what ``obj.<name>`` gives)."""
        return _values(self._columns[name])

    def raw(self, name: str) -> Column:
        """One field's column as held (a numpy array for numbers the engines produced)."""
        return self._columns[name]

    def columns(self) -> dict[str, Any]:
        """Every field's values by name: numbers as held, text as lists (the journal's save)."""
        return {n: c if isinstance(c, np.ndarray) else _values(c) for n, c in self._columns.items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Columns):
            if type(other) is not type(self) or len(other) != self._len:
                return False
            return all(self.column(n) == other.column(n) for n in self._columns)
        if isinstance(other, list):
            return len(other) == self._len and self.objects() == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.objects()!r})"


class FillColumns(_Columns[Fill]):
    """A run's fills as columns (the fields of :class:`~fyerstrade.domain.Fill`)."""

    __slots__ = ()
    _kind: ClassVar[Kind] = "fill"
    _make: ClassVar[Callable[..., Any]] = Fill


class TradeColumns(_Columns[RoundTrip]):
    """A run's round trips as columns (the fields of :class:`~fyerstrade.domain.RoundTrip`)."""

    __slots__ = ()
    _kind: ClassVar[Kind] = "round_trip"
    _make: ClassVar[Callable[..., Any]] = RoundTrip


def column(items: Sequence[Any], name: str) -> list[Any]:
    """The values of field ``name`` of fills or round trips, as a list: straight from the
    columns of a :class:`FillColumns`/:class:`TradeColumns`, else read off each object."""
    if isinstance(items, _Columns):
        return items.column(name)
    return list(map(attrgetter(name), items))


def column_array(
    items: Sequence[Any], name: str, dtype: npt.DTypeLike | None = None
) -> npt.NDArray[Any]:
    """:func:`column` as a numpy array of ``dtype`` (None: numpy's choice for the values, as
    ``np.array`` of the list makes it; the held array when it is one already)."""
    if isinstance(items, _Columns):
        raw = items.raw(name)
        if isinstance(raw, np.ndarray):
            return np.asarray(raw, dtype=dtype)
    return np.array(column(items, name), dtype=dtype)


def columns_of(kind: Kind, items: Sequence[Any]) -> dict[str, Any]:
    """Every field of ``kind`` (``fill``/``round_trip``) by name, for the journal's columns."""
    if isinstance(items, _Columns) and items._kind == kind:
        return items.columns()
    return {name: column(items, name) for name, _ in FIELDS[kind]}
