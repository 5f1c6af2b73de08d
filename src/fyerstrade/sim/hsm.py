"""The HSM binary protocol of Fyers' data socket, server side: decode what the SDK's
``FyersDataSocket`` sends, encode what it understands. Pure functions over ``bytes``.

Byte layouts follow the reference (``fyers-api.md`` §9, SDK 3.2.0, verified against the unmodified
SDK by ``tests/sim/test_datasocket.py``):

* every frame starts ``[u16 length][u8 type]``; integers are big-endian except the record
  ``topic_id``, which the SDK reads in native order and only uses as a key (we write it
  little-endian and always the same two bytes for the same topic);
* client frames: ping (11), auth (1), mode (12), subscribe (4), unsubscribe (5), pause (7),
  resume (8), ack (3);
* server frames: auth reply (1, status ``K`` + ack count), subscribe/unsubscribe/mode/pause/resume
  replies (``K``), custom message (51), data (6) holding snapshot ``S``, update ``U`` and lite
  ``L`` records. Prices are scaled integers: ``price = raw / (10**precision * multiplier)``; the
  simulator uses precision 2 and multiplier 1 (paise). ``NO_VALUE`` marks a field as absent.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "INDEX_FIELDS",
    "MULTIPLIER",
    "NO_VALUE",
    "PRECISION",
    "SYMBOL_FIELDS",
    "Ack",
    "Auth",
    "ClientFrame",
    "Mode",
    "PauseResume",
    "Ping",
    "ProtocolError",
    "Subscription",
    "auth_reply",
    "custom_message",
    "data_frame",
    "decode_client_frame",
    "lite_record",
    "mode_reply",
    "pause_resume_reply",
    "snapshot_record",
    "subscription_reply",
    "to_raw_price",
    "update_record",
]

PING, AUTH, ACK, SUBSCRIBE, UNSUBSCRIBE, DATA, PAUSE, RESUME, MODE = 11, 1, 3, 4, 5, 6, 7, 8, 12
CUSTOM = 51
NO_VALUE = -2_147_483_648
PRECISION = 2
MULTIPLIER = 1
_SCALE: int = 10**PRECISION * MULTIPLIER
_OK = b"K"

#: Field order of an ``sf`` (symbol) snapshot, as the SDK maps values by position.
SYMBOL_FIELDS = (
    "ltp",
    "vol_traded_today",
    "last_traded_time",
    "exch_feed_time",
    "bid_size",
    "ask_size",
    "bid_price",
    "ask_price",
    "last_traded_qty",
    "tot_buy_qty",
    "tot_sell_qty",
    "avg_trade_price",
    "OI",
    "low_price",
    "high_price",
    "Yhigh",
    "Ylow",
    "lower_ckt",
    "upper_ckt",
    "open_price",
    "prev_close_price",
)
#: Field order of an ``if`` (index) snapshot.
INDEX_FIELDS = (
    "ltp",
    "prev_close_price",
    "exch_feed_time",
    "high_price",
    "low_price",
    "open_price",
)


class ProtocolError(ValueError):
    """A client frame that does not follow the protocol (the server logs it and ignores it)."""


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Auth:
    hsm_key: str
    source: str


@dataclass(frozen=True, slots=True)
class Mode:
    channel_mask: int
    lite: bool


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscribe (``subscribe=True``) or unsubscribe frame."""

    subscribe: bool
    topics: tuple[str, ...]
    channel: int


@dataclass(frozen=True, slots=True)
class PauseResume:
    resume: bool
    channel_mask: int


@dataclass(frozen=True, slots=True)
class Ack:
    message_no: int


ClientFrame = Ping | Auth | Mode | Subscription | PauseResume | Ack


# ----------------------------------------------------------------------------- client frames


def _fields(data: bytes, offset: int, count: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for _ in range(count):
        if offset + 3 > len(data):
            raise ProtocolError("frame ends inside a field header")
        fid = data[offset]
        (size,) = struct.unpack_from(">H", data, offset + 1)
        offset += 3
        if offset + size > len(data):
            raise ProtocolError(f"field {fid} runs past the end of the frame")
        out[fid] = data[offset : offset + size]
        offset += size
    return out


def _topics(raw: bytes) -> tuple[str, ...]:
    if len(raw) < 2:
        raise ProtocolError("subscription field too short")
    (count,) = struct.unpack_from(">H", raw, 0)
    offset, topics = 2, []
    for _ in range(count):
        if offset >= len(raw):
            raise ProtocolError("subscription lists more topics than it holds")
        size = raw[offset]
        topics.append(raw[offset + 1 : offset + 1 + size].decode("ascii"))
        offset += 1 + size
    return tuple(topics)


def decode_client_frame(data: bytes) -> ClientFrame:
    """Decode one frame the SDK sent; raise :class:`ProtocolError` on anything else.

    The SDK writes wrong length prefixes on some frames (subscribe, mode), so lengths are not
    checked; field boundaries are.
    """
    if len(data) < 3:
        raise ProtocolError(f"frame of {len(data)} bytes is too short")
    kind = data[2]
    if kind == PING:
        return Ping()
    if kind == ACK:
        f = _fields(data, 4, 1)
        return Ack(struct.unpack(">I", f[1])[0])
    count = data[3] if len(data) > 3 else 0
    f = _fields(data, 4, count)
    try:
        if kind == AUTH:
            return Auth(f[1].decode("ascii"), f.get(4, b"").decode("ascii", "replace"))
        if kind == MODE:
            return Mode(int.from_bytes(f[1], "big"), f[2] == b"L")
        if kind in (SUBSCRIBE, UNSUBSCRIBE):
            return Subscription(kind == SUBSCRIBE, _topics(f[1]), f[2][0] if 2 in f else 11)
        if kind in (PAUSE, RESUME):
            return PauseResume(kind == RESUME, int.from_bytes(f[1], "big"))
    except (KeyError, IndexError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"frame type {kind} lacks a field it needs ({exc})") from None
    raise ProtocolError(f"unknown client frame type {kind}")


# ----------------------------------------------------------------------------- server frames


def _frame(kind: int, fields: Sequence[tuple[int, bytes]]) -> bytes:
    body = bytearray((kind, len(fields)))
    for fid, value in fields:
        body += struct.pack(">BH", fid, len(value)) + value
    return struct.pack(">H", len(body)) + bytes(body)


def auth_reply(ok: bool, ack_count: int = 0) -> bytes:
    """Reply to an auth frame: ``K`` = authenticated; ``ack_count`` > 0 asks the client to ack
    every N data frames."""
    return _frame(AUTH, [(1, _OK if ok else b"E"), (2, struct.pack(">I", ack_count))])


def subscription_reply(subscribe: bool, ok: bool = True) -> bytes:
    """Reply to a subscribe or unsubscribe frame."""
    return _frame(SUBSCRIBE if subscribe else UNSUBSCRIBE, [(1, _OK if ok else b"E")])


def mode_reply(ok: bool = True) -> bytes:
    return _frame(MODE, [(1, _OK if ok else b"E")])


def pause_resume_reply(resume: bool, ok: bool = True) -> bytes:
    return _frame(RESUME if resume else PAUSE, [(1, _OK if ok else b"E")])


def custom_message(code: int, message: str, ref_type: int) -> bytes:
    """Type 51: a server message with an error code, e.g. 51001 (symbol limit of the plan)."""
    return _frame(
        CUSTOM,
        [(1, struct.pack(">i", code)), (2, message.encode()), (3, bytes((ref_type,)))],
    )


def to_raw_price(price: float) -> int:
    """Rupees → the scaled integer the protocol carries (paise at precision 2)."""
    return round(price * _SCALE)


def _topic_id(topic_id: int) -> bytes:
    return struct.pack("<H", topic_id)


def _values(values: Sequence[int]) -> bytes:
    return struct.pack(f">{len(values)}i", *values)


def _string(text: str) -> bytes:
    raw = text.encode()
    return bytes((len(raw),)) + raw


def snapshot_record(
    topic_id: int,
    topic: str,
    values: Sequence[int],
    exchange: str = "NSE",
    token: str = "",
    symbol: str = "",
) -> bytes:
    """An ``S`` record: the full state of a topic, sent once after subscribing (and again after
    a reconnect) before any update; it carries the price scaling."""
    name = topic.encode("ascii")
    return (
        b"S"
        + _topic_id(topic_id)
        + bytes((len(name),))
        + name
        + bytes((len(values),))
        + _values(values)
        + b"\x00\x00"
        + struct.pack(">HB", MULTIPLIER, PRECISION)
        + _string(exchange)
        + _string(token)
        + _string(symbol)
    )


def update_record(topic_id: int, values: Sequence[int]) -> bytes:
    """A ``U`` record: values by position from field 0; ``NO_VALUE`` leaves a field unchanged."""
    return b"U" + _topic_id(topic_id) + bytes((len(values),)) + _values(values)


def lite_record(topic_id: int, raw_ltp: int) -> bytes:
    """An ``L`` record: LTP only (lite mode)."""
    return b"L" + _topic_id(topic_id) + struct.pack(">i", raw_ltp)


_DATA_HEADER = 7  # type (1) + message number (4) + record count (2)
MAX_FRAME_BODY = 0xFFFF  # the length prefix is a u16


def data_frame(message_no: int, records: Sequence[bytes]) -> bytes:
    """A type-6 frame of records; their bytes must fit the u16 length prefix
    (``split_records`` cuts a batch into frames that do)."""
    body = struct.pack(">BIH", DATA, message_no, len(records)) + b"".join(records)
    if len(body) > MAX_FRAME_BODY:
        raise ValueError(f"data frame of {len(body)} bytes exceeds the u16 length prefix")
    return struct.pack(">H", len(body)) + body


def split_records(records: Sequence[bytes], max_records: int) -> list[Sequence[bytes]]:
    """Cut ``records`` into runs that each fit one data frame: at most ``max_records`` records
    and at most ``MAX_FRAME_BODY`` bytes including the frame header."""
    chunks: list[Sequence[bytes]] = []
    start, size = 0, _DATA_HEADER
    for i, record in enumerate(records):
        if i > start and (i - start >= max_records or size + len(record) > MAX_FRAME_BODY):
            chunks.append(records[start:i])
            start, size = i, _DATA_HEADER
        size += len(record)
    if start < len(records):
        chunks.append(records[start:])
    return chunks
