"""Bars as the strategy sees them: views over whole arrays that end at the current bar.

The engine keeps every symbol's bars in arrays (the store's ``CandleArrays``) and one cursor per
symbol, the index of the latest *closed* bar. A :class:`SeriesView` reads through that cursor, so
``view[-1]`` is the current bar, ``view[-2]`` the one before, ``len(view)`` the bars so far, and
an index past the cursor raises :class:`LookAheadError`: the future is not reachable.

Item access reads the array's buffer through a ``memoryview`` (a Python float or int, as
``ndarray.item`` gives, at less than half its cost and a fraction of a numpy scalar's; arrays a
memoryview cannot index, e.g. datetimes or objects, are read through ``ndarray.item``) and
copies nothing: a million-bar series read bar by bar holds no list of its values beside the
array.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from fyerstrade.candles import CandleArrays
from fyerstrade.ties import compare

# memoryview formats of the native numbers numpy exports (indexing one gives what .item gives)
_NATIVE = frozenset("?bBhHiIlLqQefd")


class _Indexable(Protocol):
    def __getitem__(self, k: int, /) -> Any: ...


class _Items:
    """``ndarray.item`` behind ``[]``, for arrays a memoryview cannot index."""

    __slots__ = ("_item",)

    def __init__(self, arr: np.ndarray) -> None:
        self._item = arr.item

    def __getitem__(self, k: int) -> Any:
        return self._item(k)


def items(arr: np.ndarray) -> _Indexable:
    """Something whose ``[k]`` is ``arr.item(k)``: a memoryview of ``arr`` when it can be."""
    if arr.ndim == 1:
        try:
            view = arr.data
        except (TypeError, ValueError, BufferError):
            pass
        else:
            if view.format in _NATIVE:
                return view
    return _Items(arr)


class LookAheadError(IndexError):
    """A strategy asked for a bar that has not closed yet."""


class Cursor:
    """Index of the latest closed bar of one symbol (-1 before the first bar)."""

    __slots__ = ("i",)

    def __init__(self) -> None:
        self.i = -1


class SeriesView:
    """A read-only series that ends at the current bar (see the module docstring)."""

    __slots__ = ("_arr", "_at", "_cur", "name")

    def __init__(self, name: str, arr: np.ndarray, cursor: Cursor) -> None:
        self.name = name
        self._arr = arr
        self._cur = cursor
        self._at = items(arr)

    def rebind(self, arr: np.ndarray) -> None:
        """Point the view at a new array (a live bar source grew the data)."""
        self._arr = arr
        self._at = items(arr)

    def __len__(self) -> int:
        return self._cur.i + 1

    def __getitem__(self, k: int) -> float:
        n = self._cur.i + 1
        if k < 0:
            if k < -n:
                raise IndexError(f"{self.name}[{k}]: only {n} bars have closed so far")
            return self._at[n + k]  # type: ignore[no-any-return]
        if k >= n:
            raise LookAheadError(
                f"{self.name}[{k}] is in the future: only bars 0..{n - 1} have closed"
            )
        return self._at[k]  # type: ignore[no-any-return]

    @property
    def last(self) -> float:
        """The current bar's value."""
        i = self._cur.i
        if i < 0:
            raise IndexError(f"{self.name}: no bar has closed yet")
        return self._at[i]  # type: ignore[no-any-return]

    @property
    def values(self) -> np.ndarray:
        """The values so far as a read-only numpy array (a view, no copy)."""
        out = self._arr[: self._cur.i + 1]
        out.flags.writeable = False
        return out

    def crossed_above(self, other: SeriesView | float) -> bool:
        """True when the previous value was ≤ ``other`` and the current one is > it.

        A tie on the current bar is *not* a cross; a tie on the previous bar followed by a
        strictly greater value *is*. NaN on either bar is never a cross. Values within a
        billionth of each other (``fyerstrade.ties``) are a tie: running indicators carry
        rounding from every earlier bar, which must not decide."""
        return self._crossed(other, 1)

    def crossed_below(self, other: SeriesView | float) -> bool:
        """Mirror of :meth:`crossed_above`: previous ≥ other and current < other."""
        return self._crossed(other, -1)

    def _crossed(self, other: SeriesView | float, way: int) -> bool:
        i = self._cur.i
        if i < 1:
            return False
        a = self._at
        if isinstance(other, SeriesView):
            b = other._at
            pa, pb, ca, cb = a[i - 1], b[i - 1], a[i], b[i]
        else:
            pa, pb, ca, cb = a[i - 1], other, a[i], other
        if math.isnan(pa) or math.isnan(pb) or math.isnan(ca) or math.isnan(cb):
            return False
        return compare(ca, cb) == way and compare(pa, pb) != way

    def __repr__(self) -> str:
        n = self._cur.i + 1
        return f"SeriesView({self.name!r}, bars={n})"


class BarsView:
    """One symbol's OHLCV revealed up to the current bar: ``bars.close[-1]`` etc."""

    __slots__ = ("close", "high", "low", "open", "symbol", "ts", "volume")

    def __init__(self, symbol: str, arrays: CandleArrays, cursor: Cursor) -> None:
        self.symbol = symbol
        self.ts = SeriesView(f"{symbol}.ts", arrays.ts, cursor)
        self.open = SeriesView(f"{symbol}.open", arrays.open, cursor)
        self.high = SeriesView(f"{symbol}.high", arrays.high, cursor)
        self.low = SeriesView(f"{symbol}.low", arrays.low, cursor)
        self.close = SeriesView(f"{symbol}.close", arrays.close, cursor)
        self.volume = SeriesView(f"{symbol}.volume", arrays.volume, cursor)

    def __len__(self) -> int:
        return len(self.close)

    def rebind(self, arrays: CandleArrays) -> None:
        self.ts.rebind(arrays.ts)
        self.open.rebind(arrays.open)
        self.high.rebind(arrays.high)
        self.low.rebind(arrays.low)
        self.close.rebind(arrays.close)
        self.volume.rebind(arrays.volume)
