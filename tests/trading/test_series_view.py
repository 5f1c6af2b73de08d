"""SeriesView reads: every element is what ``ndarray.item`` gives (same value, same Python type),
whatever the array's dtype and layout, and nothing past the cursor is reachable."""

from __future__ import annotations

import numpy as np
import pytest

from fyerstrade.trading.bars import Cursor, LookAheadError, SeriesView, items

ARRAYS = {
    "float64": np.array([1.5, -2.25, np.nan, 1e300]),
    "int64": np.array([3, -7, 2**62], dtype=np.int64),
    "bool": np.array([True, False, True]),
    "float32": np.array([0.1, 2.5], dtype=np.float32),
    "strided": np.arange(10.0)[::3],
    "reversed": np.arange(5.0)[::-1],
    "big-endian": np.arange(4.0).astype(">f8"),
    "datetime": np.array(["2026-12-03T09:15", "2026-12-03T09:16"], dtype="M8[s]"),
    "object": np.array([1, "a", None], dtype=object),
}


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_items_reads_what_item_reads(name: str) -> None:
    arr = ARRAYS[name]
    read = items(arr)
    got = [read[k] for k in range(len(arr))]
    want = [arr.item(k) for k in range(len(arr))]
    assert [type(v) for v in got] == [type(v) for v in want]
    assert got == want or all(
        (g == w) or (g != g and w != w) for g, w in zip(got, want, strict=True)
    )  # NaN equals itself only by identity


def test_a_view_reads_through_the_cursor_and_never_past_it() -> None:
    cursor = Cursor()
    view = SeriesView("close", np.array([10.0, 11.0, 12.0]), cursor)
    with pytest.raises(IndexError):
        _ = view.last
    cursor.i = 1
    assert (view.last, view[-1], view[-2], view[0], len(view)) == (11.0, 11.0, 10.0, 10.0, 2)
    assert type(view.last) is float
    with pytest.raises(LookAheadError):
        _ = view[2]
    with pytest.raises(IndexError):
        _ = view[-3]
    other = SeriesView("level", np.array([10.5, 10.5, 10.5]), cursor)
    assert view.crossed_above(other) and not view.crossed_below(other)
    assert view.crossed_above(10.5) and not view.crossed_above(11.0)


def test_a_rebound_view_reads_the_new_array() -> None:
    cursor = Cursor()
    view = SeriesView("close", np.array([1.0]), cursor)
    cursor.i = 1
    view.rebind(np.array([1.0, 2.0]))
    assert view.last == 2.0
