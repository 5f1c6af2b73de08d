"""Import candles from CSV or Parquet files (data from other sources than Fyers).

Columns (names case-insensitive, extra columns ignored): ``timestamp``, ``open``, ``high``,
``low``, ``close``, ``volume``. ``timestamp`` is the bar's open time, either epoch seconds or
ISO 8601 *with* an offset (``2026-11-20T09:15:00+05:30``, ``...Z``); a naive time is refused,
because guessing between IST and UTC silently shifts every bar by 5.5 hours. Daily bars are
stamped at IST midnight of their IST date, as the store keeps them.

Every row is checked before anything is written: prices positive, finite and plausible (at
most :data:`MAX_PRICE` rupees), ``low <= open, close <= high``, volume a non-negative whole
number, timestamps strictly increasing (sorted, no duplicates). The first bad row is named by its
line number (CSV: the header is line 1; Parquet: ``row N`` counting from 1) with the reason, and
nothing is written. The file must also look like the resolution it is imported as
(:func:`~fyerstrade.data.import_checks.resolution_mismatch`: a 5-minute file imported as
``-r 1`` is refused, naming the right ``-r``).

Stored candles are never changed silently: when the file holds candles that differ from ones
already stored (a doubled price, another provider's bars), the import says how many, shows the
first, and writes nothing unless ``replace=True`` (``--replace``). New candles are inserted in one
transaction, so importing the same file twice changes nothing.

A symbol need not be in the symbol master: the rest of the platform then treats it as an equity
with lot size 1 and tick size 0.05 (``ImportResult.known_symbol`` says which case applied).
"""

from __future__ import annotations

import csv
import math
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fyerstrade.calendar import IST_OFFSET, get_calendar, ist_date
from fyerstrade.candles import CandleArrays
from fyerstrade.data.import_checks import compare_with_store, resolution_mismatch
from fyerstrade.domain import Resolution
from fyerstrade.errors import CalendarCoverageError, InputError
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.symbols import get_instrument

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
PARQUET_SUFFIXES = (".parquet", ".pq")
_INT_RE = re.compile(r"[+-]?\d+")
#: Epoch seconds beyond this (year 5138) are almost surely milliseconds.
_MAX_EPOCH_SECONDS = 10**11
#: The highest price taken as plausible, in rupees (NSE's dearest share trades near 1.5 lakh, the
#: indices below 1 lakh): a larger one is a unit error (paise, a misplaced decimal) or garbage.
MAX_PRICE = 10_000_000.0
#: Volumes at or above this cannot be stored exactly (float64 integers) and are not real.
MAX_VOLUME = float(2**53)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did."""

    path: Path
    symbol: str
    resolution: Resolution
    rows: int  # candles read and validated
    written: int  # rows inserted or replaced in the store (0 on a repeat import)
    first: int | None  # first and last bar open times (epoch seconds)
    last: int | None
    known_symbol: bool  # in the symbol master; otherwise treated as equity, lot 1, tick 0.05
    off_calendar: int = 0  # candles not at a bar time the NSE calendar expects
    replaced: int = 0  # stored candles changed (only with replace=True)


@dataclass(slots=True)
class _Columns:
    """Parsed columns and the line (or row) number of each row, for error messages."""

    ts: list[int]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    lines: list[int]
    unit: str  # "line" (CSV) or "row" (Parquet)


def _bad(path: Path, unit: str, number: int, reason: str) -> InputError:
    return InputError(f"{path.name} {unit} {number}: {reason}; nothing was imported")


def parse_timestamp(text: str) -> int:
    """Epoch seconds from ``text`` (epoch seconds or ISO 8601 with offset); ``ValueError`` says
    what is wrong."""
    t = text.strip()
    if not t:
        raise ValueError("empty timestamp")
    if _INT_RE.fullmatch(t):
        value = int(t)
    else:
        try:
            number = float(t)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            if not number.is_integer():
                raise ValueError(f"timestamp {t!r} is not whole epoch seconds")
            value = int(number)
        else:
            try:
                dt = datetime.fromisoformat(t)
            except ValueError:
                raise ValueError(f"timestamp {t!r} is neither epoch seconds nor ISO 8601") from None
            if dt.tzinfo is None or dt.utcoffset() is None:
                raise ValueError(
                    f"timestamp {t!r} has no UTC offset; write it as e.g. {t}+05:30"
                ) from None
            return int(dt.timestamp())
    if abs(value) >= _MAX_EPOCH_SECONDS:
        raise ValueError(f"timestamp {t} looks like milliseconds; use epoch seconds")
    return value


def _parse_number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} is {text.strip()}")
    return value


def _header_index(path: Path, header: list[str]) -> list[int]:
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"{path.name}: missing column(s) {', '.join(missing)}; "
            f"the file needs {', '.join(COLUMNS)} (found: {', '.join(names) or 'nothing'})"
        )
    return [names.index(c) for c in COLUMNS]


def _read_csv(path: Path) -> _Columns:
    try:
        return _read_csv_text(path)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name} is not a UTF-8 text CSV (undecodable byte at offset {exc.start}); "
            "export it as CSV text or Parquet; nothing was imported"
        ) from None
    except csv.Error as exc:
        raise InputError(
            f"{path.name} is not a readable CSV ({exc}); nothing was imported"
        ) from None


def _read_csv_text(path: Path) -> _Columns:
    cols = _Columns([], [], [], [], [], [], [], "line")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path.name} is empty; expected a header line {','.join(COLUMNS)}")
        index = _header_index(path, header)
        width = max(index) + 1
        for row in reader:
            line = reader.line_num  # the row's (last) physical line; the header is line 1
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) < width:
                raise _bad(path, "line", line, f"{len(row)} fields, expected {len(header)}")
            try:
                ts = parse_timestamp(row[index[0]])
                o, h, low, c, v = (
                    _parse_number(row[i], name)
                    for i, name in zip(index[1:], COLUMNS[1:], strict=True)
                )
            except ValueError as exc:
                raise _bad(path, "line", line, str(exc)) from None
            cols.ts.append(ts)
            cols.open.append(o)
            cols.high.append(h)
            cols.low.append(low)
            cols.close.append(c)
            cols.volume.append(v)
            cols.lines.append(line)
    return cols


def _read_parquet(path: Path) -> _Columns:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path.name} is not a readable Parquet file: {exc}") from None
    index = _header_index(path, list(table.column_names))
    n = table.num_rows
    cols = _Columns([], [], [], [], [], [], list(range(1, n + 1)), "row")
    columns = [table.column(i) for i in index]
    for name, col in zip(COLUMNS, columns, strict=True):
        if col.null_count:
            first_null = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise _bad(path, "row", first_null + 1, f"{name} is empty")
    ts_col = columns[0]
    if pa.types.is_timestamp(ts_col.type):
        if ts_col.type.tz is None:
            raise InputError(
                f"{path.name}: column timestamp has no time zone; store it tz-aware "
                "(e.g. Asia/Kolkata or UTC) or as epoch seconds"
            )
        cols.ts = pc.cast(ts_col, pa.timestamp("s", tz="UTC")).cast(pa.int64()).to_pylist()
    elif pa.types.is_integer(ts_col.type) or pa.types.is_floating(ts_col.type):
        for row, value in enumerate(ts_col.to_pylist(), start=1):
            try:
                cols.ts.append(parse_timestamp(repr(value)))
            except ValueError as exc:
                raise _bad(path, "row", row, str(exc)) from None
    elif pa.types.is_string(ts_col.type) or pa.types.is_large_string(ts_col.type):
        for row, text in enumerate(ts_col.to_pylist(), start=1):
            try:
                cols.ts.append(parse_timestamp(text))
            except ValueError as exc:
                raise _bad(path, "row", row, str(exc)) from None
    else:
        raise InputError(
            f"{path.name}: column timestamp has type {ts_col.type}; "
            "use epoch seconds, ISO 8601 text with an offset, or a tz-aware timestamp"
        )
    for name, col in zip(COLUMNS[1:], columns[1:], strict=True):
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            raise InputError(f"{path.name}: column {name} has type {col.type}; expected numbers")
    cols.open, cols.high, cols.low, cols.close, cols.volume = (
        [float(x) for x in col.to_pylist()] for col in columns[1:]
    )
    return cols


def _first_problem(cols: _Columns, resolution: Resolution) -> tuple[int, str] | None:
    """The index of the first bad row and why, or ``None`` when every row is valid."""
    ts = np.asarray(cols.ts, dtype=np.int64)
    o, h, low, c, v = (
        np.asarray(x, dtype=np.float64)
        for x in (cols.open, cols.high, cols.low, cols.close, cols.volume)
    )
    too_high = f"above {MAX_PRICE:,.0f} rupees, not a plausible price (paise? a misplaced decimal?)"
    checks: list[tuple[npt.NDArray[np.bool_], str]] = [
        (~np.isfinite(o) | (o <= 0), "open must be a positive price"),
        (~np.isfinite(h) | (h <= 0), "high must be a positive price"),
        (~np.isfinite(low) | (low <= 0), "low must be a positive price"),
        (~np.isfinite(c) | (c <= 0), "close must be a positive price"),
        (h > MAX_PRICE, f"high is {too_high}"),
        (low > np.minimum(o, c), "low is above open or close"),
        (h < np.maximum(o, c), "high is below open or close"),
        (~np.isfinite(v) | (v < 0), "volume must not be negative"),
        (v >= MAX_VOLUME, "volume is not a plausible number of shares"),
        (v != np.floor(v), "volume must be a whole number"),
    ]
    if resolution.is_intraday:
        checks.append((ts % 60 != 0, "timestamp is not on a whole minute"))
    first: tuple[int, str] | None = None
    for mask, reason in checks:
        bad = np.flatnonzero(mask)
        if bad.size and (first is None or int(bad[0]) < first[0]):
            first = (int(bad[0]), reason)
    step = np.diff(ts)
    order = np.flatnonzero(step <= 0)
    if order.size and (first is None or int(order[0]) + 1 < first[0]):
        k = int(order[0]) + 1
        prev = cols.lines[k - 1]
        unit = cols.unit
        if ts[k] == ts[k - 1]:
            what = "daily bar for the same date" if not resolution.is_intraday else "timestamp"
            first = (k, f"duplicate {what} (same as {unit} {prev})")
        else:
            first = (k, f"not sorted: earlier than {unit} {prev}; sort the file by timestamp")
    return first


def read_candles(path: Path, resolution: Resolution) -> CandleArrays:
    """Parse and validate a candle file; :class:`InputError` names the first bad row."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    is_parquet = path.suffix.lower() in PARQUET_SUFFIXES or magic == b"PAR1"
    cols = _read_parquet(path) if is_parquet else _read_csv(path)
    if not resolution.is_intraday:
        # Daily bars: IST midnight of the bar's IST date (a 05:30 IST / 00:00 UTC stamp is the
        # same date).
        cols.ts = [t - (t + IST_OFFSET) % 86_400 for t in cols.ts]
    problem = _first_problem(cols, resolution)
    if problem is not None:
        k, reason = problem
        raise _bad(path, cols.unit, cols.lines[k], reason)
    mismatch = resolution_mismatch(np.asarray(cols.ts, dtype=np.int64), resolution)
    if mismatch is not None:
        raise InputError(f"{path.name}: {mismatch}; nothing was imported")
    return CandleArrays(
        ts=np.asarray(cols.ts, dtype=np.int64),
        open=np.asarray(cols.open, dtype=np.float64),
        high=np.asarray(cols.high, dtype=np.float64),
        low=np.asarray(cols.low, dtype=np.float64),
        close=np.asarray(cols.close, dtype=np.float64),
        volume=np.asarray(cols.volume, dtype=np.float64).astype(np.int64),
    )


def validate_symbol(symbol: str) -> str:
    """A usable store symbol: non-empty, no spaces (e.g. ``NSE:SBIN-EQ``)."""
    s = symbol.strip()
    if not s or any(ch.isspace() for ch in s):
        raise InputError(f"invalid symbol {symbol!r}: use a Fyers-style ticker such as NSE:SBIN-EQ")
    return s


def off_calendar_count(ts: npt.NDArray[np.int64], resolution: Resolution) -> int:
    """Candles whose open time is not one the NSE calendar expects (0 when the file reaches past
    the calendar's holiday lists, where it cannot tell).

    Many is a sign of a file stamped with bar *close* times, or of another exchange's hours;
    such candles are stored as given but coverage and backtests will not line them up.
    """
    if ts.size == 0:
        return 0
    try:
        expected = get_calendar().expected_bars(
            ist_date(int(ts[0])), ist_date(int(ts[-1])), resolution
        )
    except CalendarCoverageError:
        return 0
    return int(np.count_nonzero(~np.isin(ts, expected)))


def _take(candles: CandleArrays, mask: npt.NDArray[np.bool_]) -> CandleArrays:
    return CandleArrays(
        candles.ts[mask],
        candles.open[mask],
        candles.high[mask],
        candles.low[mask],
        candles.close[mask],
        candles.volume[mask],
    )


def import_candles(
    conn: sqlite3.Connection,
    path: Path,
    symbol: str,
    resolution: Resolution,
    *,
    replace: bool = False,
) -> ImportResult:
    """Validate ``path`` completely, then store its candles for ``symbol`` × ``resolution``.

    Candles already stored with the same values are left alone; candles that would *change*
    stored ones are refused (:class:`InputError` with their count and the first one, nothing
    written) unless ``replace`` is true, when they overwrite the stored ones."""
    symbol = validate_symbol(symbol)
    candles = read_candles(path, resolution)
    off = off_calendar_count(candles.ts, resolution)
    cmp = compare_with_store(conn, symbol, resolution, candles)
    if cmp.changed_count and not replace:
        raise InputError(
            f"{path.name}: {cmp.changed_count:,} of its {len(candles):,} candles would change "
            f"stored {symbol} {resolution.value} candles (first: {cmp.first_change}); nothing "
            "was imported; pass --replace to overwrite them"
        )
    wanted = cmp.new | cmp.changed
    written = (
        upsert_candles(conn, symbol, resolution, _take(candles, wanted)) if wanted.any() else 0
    )
    return ImportResult(
        path=path,
        symbol=symbol,
        resolution=resolution,
        rows=len(candles),
        written=written,
        replaced=cmp.changed_count,
        first=int(candles.ts[0]) if len(candles) else None,
        last=int(candles.ts[-1]) if len(candles) else None,
        known_symbol=get_instrument(conn, symbol) is not None,
        off_calendar=off,
    )
