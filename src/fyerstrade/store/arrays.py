"""Numpy arrays as compact, self-describing SQLite BLOBs (per-bar series of a run, trial data).

One BLOB holds one 1-d array: a 12-byte header (``<B3sQ``: encoding, dtype such as ``<f8``,
element count) and the payload. Encodings, chosen by :func:`encode_array`:

- ``RAW``: the array's bytes (float series that change at most points: an equity curve);
- ``ZLIB``: zlib level 1 of the bytes (float series that mostly repeat: cash between fills,
  exposure while flat);
- ``DELTA_ZLIB``: zlib level 1 of the first differences (integer series such as bar times, whose
  steps repeat: 1,000,000 one-minute stamps take ~50 kB).

Level 1 keeps writing cheap (the point is to store a million points in milliseconds, not to win
bytes). Decoding returns a new writable array of the stored dtype.

Text columns (a run's symbols, sides, tags, order ids) are BLOBs too, :func:`encode_texts`: the
same header (encoding ``TEXTS``, code ``str``, count) and zlib level 1 of the JSON list.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

RAW = 0
ZLIB = 1
DELTA_ZLIB = 2
TEXTS = 3
_HEADER = struct.Struct("<B3sQ")
_DTYPES = {"<f8": np.dtype("<f8"), "<i8": np.dtype("<i8")}


def encode_array(values: npt.ArrayLike) -> bytes:
    """The BLOB of a 1-d float64 or int64 array (other numeric dtypes are converted to one)."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"encode_array takes a 1-d array, got shape {a.shape}")
    if a.dtype.kind in "iub":
        a = np.ascontiguousarray(a, dtype="<i8")
        encoding = DELTA_ZLIB
        payload = zlib.compress(np.diff(a, prepend=np.int64(0)).tobytes(), 1)
    else:
        a = np.ascontiguousarray(a, dtype="<f8")
        changes = int(np.count_nonzero(a[1:] != a[:-1])) if a.size > 1 else 0
        if changes * 2 < a.size:
            encoding, payload = ZLIB, zlib.compress(a.tobytes(), 1)
        else:
            encoding, payload = RAW, a.tobytes()
    return _HEADER.pack(encoding, a.dtype.str.encode("ascii"), a.size) + payload


def decode_array(blob: bytes) -> npt.NDArray[Any]:
    """The array :func:`encode_array` stored (``ValueError`` for a damaged or foreign BLOB)."""
    if len(blob) < _HEADER.size:
        raise ValueError("array BLOB too short for its header")
    encoding, code, count = _HEADER.unpack_from(blob)
    dtype = _DTYPES.get(code.decode("ascii", "replace"))
    if dtype is None:
        raise ValueError(f"array BLOB has an unknown dtype {code!r}")
    body = memoryview(blob)[_HEADER.size :]
    if encoding == RAW:
        data: bytes | memoryview = body
    elif encoding in (ZLIB, DELTA_ZLIB):
        try:
            data = zlib.decompress(body)
        except zlib.error as exc:
            raise ValueError(f"array BLOB does not decompress: {exc}") from None
    else:
        raise ValueError(f"array BLOB has an unknown encoding {encoding}")
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"array BLOB holds {len(data)} bytes for {count} {dtype.str} values")
    stored = np.frombuffer(data, dtype=dtype)
    if encoding == DELTA_ZLIB:
        return np.cumsum(stored, dtype=np.int64)
    return stored.copy()  # writable, and free of the BLOB


def encode_texts(values: Sequence[str]) -> bytes:
    """The BLOB of a list of strings (read back by :func:`decode_texts`)."""
    payload = zlib.compress(json.dumps(values, ensure_ascii=False).encode("utf-8"), 1)
    return _HEADER.pack(TEXTS, b"str", len(values)) + payload


def decode_texts(blob: bytes) -> list[str]:
    """The strings :func:`encode_texts` stored (``ValueError`` for a damaged or foreign BLOB)."""
    if len(blob) < _HEADER.size:
        raise ValueError("text BLOB too short for its header")
    encoding, code, count = _HEADER.unpack_from(blob)
    if encoding != TEXTS or code != b"str":
        raise ValueError(f"not a text BLOB (encoding {encoding}, code {code!r})")
    try:
        values = json.loads(zlib.decompress(memoryview(blob)[_HEADER.size :]))
    except (zlib.error, ValueError) as exc:
        raise ValueError(f"text BLOB does not decode: {exc}") from None
    if not isinstance(values, list) or len(values) != count:
        raise ValueError(f"text BLOB holds something other than {count} strings")
    return values
