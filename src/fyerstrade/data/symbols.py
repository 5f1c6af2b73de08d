"""The Fyers symbol master: download ``<host>/sym_details/<SEG>.csv``, parse and validate it, and
replace the ``symbol_master`` table in one transaction.

All segments are downloaded and validated before anything is written, so a failed, truncated or
malformed download leaves the previous table exactly as it was. Validation: every row has at
least 19 columns (21 today; two reserved columns were added in 2024), typed fields parse, the
exchange/segment codes match the file, and the row count is non-zero and at least 80% of the
previous count for that segment (``force=True`` skips the last check, e.g. after an expiry
purge). Lot-size history is kept by the store (a backtest of last year uses last year's lot).

The public host needs no token and does not count against the REST rate limit.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import requests

from fyerstrade.config import Settings
from fyerstrade.domain import Instrument, InstrumentKind, OptionType, Segment
from fyerstrade.errors import DataError, InputError, RetryableError
from fyerstrade.fyers.endpoints import public_url
from fyerstrade.store.db import open_historical
from fyerstrade.store.symbols import (
    SEGMENT_CODES,
    SymbolMasterRow,
    replace_symbol_master,
    symbol_count,
)

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
SEGMENTS: tuple[str, ...] = tuple(s.value for s in Segment)
MIN_COLUMNS = 19
MIN_SHARE_OF_PREVIOUS = 0.8
DOWNLOAD_TIMEOUT = (10.0, 60.0)  # connect, read
UNCHANGED = "the previous symbol master is unchanged"

# Fyers exchange instrument types (reference §6.8) -> our kinds, per segment.
_CM_KINDS = {t: InstrumentKind.EQUITY for t in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 50)} | {
    10: InstrumentKind.INDEX
}
_FO_KINDS = {
    11: InstrumentKind.FUTURE,
    12: InstrumentKind.FUTURE,
    13: InstrumentKind.FUTURE,
    14: InstrumentKind.OPTION,
    15: InstrumentKind.OPTION,
}
KINDS: dict[Segment, dict[int, InstrumentKind]] = {
    Segment.NSE_CM: _CM_KINDS,
    Segment.NSE_FO: _FO_KINDS,
}


@dataclass(frozen=True, slots=True)
class ParsedMaster:
    """One segment's rows, the master's own date, and rows of types we do not trade."""

    segment: Segment
    rows: list[SymbolMasterRow]
    as_of: date | None
    skipped: int


def master_url(settings: Settings, segment: str) -> str:
    return public_url(settings.fyers_url, f"sym_details/{segment}.csv")


def _int(text: str) -> int:
    return int(float(text))


def _opt_int(text: str) -> int | None:
    text = text.strip()
    if not text or text == "None":
        return None
    return _int(text)


def _opt_float(text: str) -> float | None:
    text = text.strip()
    if not text or text == "None":
        return None
    return float(text)


def parse_row(segment: Segment, cols: Sequence[str]) -> SymbolMasterRow | None:
    """One CSV row as a :class:`SymbolMasterRow`; ``None`` for instrument types we do not map.
    Raises ``ValueError`` with what is wrong."""
    if len(cols) < MIN_COLUMNS:
        raise ValueError(f"{len(cols)} columns, expected at least {MIN_COLUMNS}")
    ticker = cols[9].strip()
    if ":" not in ticker:
        raise ValueError(f"ticker {ticker!r} is not EXCHANGE:SYMBOL")
    exchange, seg_code = _int(cols[10]), _int(cols[11])
    if (exchange, seg_code) != SEGMENT_CODES[segment]:
        raise ValueError(f"exchange/segment {exchange}/{seg_code} do not belong to {segment}")
    inst_type = _int(cols[2])
    kind = KINDS[segment].get(inst_type)
    if kind is None:
        return None
    lot, tick = _int(cols[3]), float(cols[4])
    if lot < 0 or tick <= 0:
        raise ValueError(f"lot size {lot} / tick size {tick} out of range")
    expiry = _opt_int(cols[8])
    strike = float(cols[15]) if cols[15].strip() else -1.0
    option = cols[16].strip().upper()
    if kind is InstrumentKind.OPTION and option not in ("CE", "PE"):
        raise ValueError(f"option without CE/PE ({option!r})")
    instrument = Instrument(
        symbol=ticker,
        name=cols[1].strip(),
        kind=kind,
        segment=segment,
        lot_size=max(lot, 1),  # index rows carry 0; 1 keeps quantity arithmetic safe
        tick_size=tick,
        expiry=expiry if expiry else None,
        strike=None if strike < 0 else strike,
        option_type=OptionType(option) if option in ("CE", "PE") else None,
        underlying=cols[13].strip(),
        isin=cols[5].strip(),
        fytoken=cols[0].strip(),
    )
    return SymbolMasterRow(
        instrument=instrument,
        exchange_instrument_type=inst_type,
        trading_session=cols[6].strip(),
        last_update=cols[7].strip(),
        scrip_code=_opt_int(cols[12]),
        underlying_scrip_code=_opt_int(cols[14]),
        underlying_fytoken=cols[17].strip(),
        reserved_1=cols[18].strip() if len(cols) > 18 else None,
        reserved_2=_opt_int(cols[19]) if len(cols) > 19 else None,
        reserved_3=_opt_float(cols[20]) if len(cols) > 20 else None,
    )


def parse_master(segment: str, text: str) -> ParsedMaster:
    """Parse a headerless master CSV; a bad row raises :class:`DataError` naming its line."""
    seg = Segment(segment)
    rows: list[SymbolMasterRow] = []
    skipped = 0
    latest: date | None = None
    for line_no, cols in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not cols or all(not c.strip() for c in cols):
            continue
        try:
            row = parse_row(seg, cols)
        except (ValueError, IndexError) as exc:
            raise DataError(
                f"{segment}.csv line {line_no} is malformed ({exc}); {UNCHANGED}"
            ) from None
        if row is None:
            skipped += 1
            continue
        rows.append(row)
        try:
            updated = date.fromisoformat(row.last_update)
        except ValueError:
            continue
        latest = updated if latest is None or updated > latest else latest
    return ParsedMaster(seg, rows, latest, skipped)


#: A master download is tried this often: a single 502 from the file host is common and passes.
DOWNLOAD_ATTEMPTS = 3


def download_master(settings: Settings, segment: str) -> str:
    """The CSV text of one segment, tried :data:`DOWNLOAD_ATTEMPTS` times with backoff; a
    transport problem that persists is a :class:`RetryableError` that says the stored master is
    unchanged."""
    from fyerstrade.fyers.retry import RetryPolicy, call_with_retries

    policy = RetryPolicy(attempts=DOWNLOAD_ATTEMPTS, base_delay=0.5, max_delay=4.0)
    return call_with_retries(
        lambda: _download_once(settings, segment),
        policy,
        what=f"download of the {segment} symbol master",
    )


def _download_once(settings: Settings, segment: str) -> str:
    url = master_url(settings, segment)
    try:
        reply = requests.get(url, timeout=DOWNLOAD_TIMEOUT)
        body = reply.content
    except requests.RequestException as exc:
        raise RetryableError(
            f"download of {segment} symbol master failed ({type(exc).__name__}); {UNCHANGED}"
        ) from None
    if reply.status_code != 200:
        raise RetryableError(
            f"download of {segment} symbol master failed: HTTP {reply.status_code}; {UNCHANGED}"
        )
    announced = reply.headers.get("Content-Length")
    if announced is not None and announced.isdigit() and int(announced) != len(body):
        raise RetryableError(
            f"download of {segment} symbol master was cut off ({len(body)} of {announced} bytes);"
            f" {UNCHANGED}"
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{segment} symbol master is not UTF-8 text; {UNCHANGED}") from None


def refresh_symbol_master(
    settings: Settings, segments: Sequence[str] = SEGMENTS, *, force: bool = False
) -> dict[str, int]:
    """Download, validate and store the masters of ``segments``; return rows stored per segment.
    Nothing is written unless every segment downloaded and validated."""
    wanted = list(dict.fromkeys(s.strip().upper() for s in segments)) or list(SEGMENTS)
    unknown = [s for s in wanted if s not in SEGMENTS]
    if unknown:
        raise InputError(f"unknown segment {', '.join(unknown)}; use {' or '.join(SEGMENTS)}")
    parsed = [parse_master(seg, download_master(settings, seg)) for seg in wanted]
    conn = open_historical(settings, verify=True)
    try:
        for master in parsed:
            before = symbol_count(conn, master.segment.value)
            count = len(master.rows)
            if count == 0:
                raise DataError(f"{master.segment} symbol master has no rows; {UNCHANGED}")
            if not force and count < MIN_SHARE_OF_PREVIOUS * before:
                raise DataError(
                    f"{master.segment} symbol master has {count} rows against {before} stored "
                    f"(below {MIN_SHARE_OF_PREVIOUS:.0%}); {UNCHANGED}; use --force if expected"
                )
        dates = [m.as_of for m in parsed if m.as_of is not None]
        as_of = max(dates) if dates else datetime.now(IST).date()
        rows = [row for m in parsed for row in m.rows]
        replace_symbol_master(conn, rows, [m.segment.value for m in parsed], as_of)
    finally:
        conn.close()
    for m in parsed:
        if m.skipped:
            log.info(
                "%s: skipped %d rows of instrument types not traded here", m.segment, m.skipped
            )
    return {m.segment.value: len(m.rows) for m in parsed}
