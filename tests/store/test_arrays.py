"""Array BLOBs: every encoding gives back exactly the array it was given, bar times compress
to a few bytes a point, and a damaged BLOB is an error, never a wrong array."""

from __future__ import annotations

import numpy as np
import pytest

from fyerstrade.store.arrays import (
    DELTA_ZLIB,
    RAW,
    ZLIB,
    decode_array,
    decode_texts,
    encode_array,
    encode_texts,
)


def _encoding(blob: bytes) -> int:
    return blob[0]


@pytest.mark.parametrize(
    ("values", "encoding"),
    [
        (1_704_167_100 + 60 * np.arange(10_000, dtype=np.int64), DELTA_ZLIB),
        (np.array([5, -3, 2**62, -(2**62), 0], dtype=np.int64), DELTA_ZLIB),
        (100_000.0 + np.cumsum(np.random.default_rng(1).normal(0, 1, 5000)), RAW),
        (np.repeat([100_000.0, 99_000.5, 101_234.25], 2000), ZLIB),
        (np.array([np.inf, -np.inf, 0.1 + 0.2, -0.0, 5e-324]), RAW),
        (np.zeros(0), RAW),
        (np.zeros(0, dtype=np.int64), DELTA_ZLIB),
        (np.array([42.0]), ZLIB),
    ],
    ids=["bar-times", "int-extremes", "equity", "cash", "odd-floats", "empty-f", "empty-i", "one"],
)
def test_round_trip_is_exact(values: np.ndarray, encoding: int) -> None:
    blob = encode_array(values)
    assert _encoding(blob) == encoding
    back = decode_array(blob)
    assert back.dtype == values.dtype and back.shape == values.shape
    assert back.tobytes() == values.tobytes()  # bit for bit (-0.0, inf)
    back[:] = 0  # writable, and not a view of the BLOB
    assert decode_array(blob).tobytes() == values.tobytes()


def test_nan_round_trips() -> None:
    values = np.array([1.0, np.nan, 3.0])
    assert np.array_equal(decode_array(encode_array(values)), values, equal_nan=True)


def test_a_million_bar_times_take_little_space() -> None:
    ts = 1_704_167_100 + 60 * np.arange(1_000_000, dtype=np.int64)
    assert len(encode_array(ts)) < 100_000  # 8 MB of int64 as ~10 kB


def test_other_dtypes_are_stored_as_int64_or_float64() -> None:
    assert decode_array(encode_array(np.arange(5, dtype=np.int32))).dtype == np.int64
    assert decode_array(encode_array(np.ones(3, dtype=np.float32))).dtype == np.float64
    with pytest.raises(ValueError, match="1-d"):
        encode_array(np.zeros((2, 2)))


@pytest.mark.parametrize("cut", [3, 13, -1])
def test_damaged_blob_is_an_error(cut: int) -> None:
    blob = encode_array(np.arange(100, dtype=np.float64))
    with pytest.raises(ValueError, match="array BLOB"):
        decode_array(blob[:cut])


def test_foreign_blob_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown dtype"):
        decode_array(b"\x00<U1" + bytes(8))
    with pytest.raises(ValueError, match="unknown encoding"):
        decode_array(b"\x09<f8" + (1).to_bytes(8, "little") + bytes(8))


@pytest.mark.parametrize(
    "values",
    [[], ["NSE:SBIN-EQ"] * 3, ["O1", "", "signal", "ünïcødé ₹", 'quote " and \\ back', "a\nb"]],
    ids=["empty", "repeats", "odd-strings"],
)
def test_texts_round_trip_exactly(values: list[str]) -> None:
    assert decode_texts(encode_texts(values)) == values


def test_a_text_blob_is_not_an_array_and_damage_is_an_error() -> None:
    blob = encode_texts(["BUY", "SELL"])
    with pytest.raises(ValueError, match="unknown dtype"):
        decode_array(blob)
    with pytest.raises(ValueError, match="not a text BLOB"):
        decode_texts(encode_array(np.arange(3)))
    with pytest.raises(ValueError, match="does not decode"):
        decode_texts(blob[:-4])
    with pytest.raises(ValueError, match="too short"):
        decode_texts(blob[:5])
