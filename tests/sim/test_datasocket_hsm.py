"""HSM frames, byte for byte, against the frames the real SDK sent and accepted (fixtures)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from fyerstrade.sim import hsm

FRAMES = json.loads((Path(__file__).parents[1] / "fixtures" / "hsm" / "frames.json").read_text())


def frame(group: str, name: str) -> bytes:
    return bytes.fromhex(FRAMES[group][name].replace(" ", ""))


def test_client_frames_decode() -> None:
    assert hsm.decode_client_frame(frame("client", "ping")) == hsm.Ping()
    assert hsm.decode_client_frame(frame("client", "auth")) == hsm.Auth(
        "0123456789abcdef", "PythonSDK-3.2.0"
    )
    assert hsm.decode_client_frame(frame("client", "mode_full")) == hsm.Mode(1 << 11, lite=False)
    assert hsm.decode_client_frame(frame("client", "mode_lite")) == hsm.Mode(1 << 11, lite=True)
    assert hsm.decode_client_frame(frame("client", "subscribe")) == hsm.Subscription(
        True, ("sf|nse_cm|3045",), 11
    )
    assert hsm.decode_client_frame(frame("client", "unsubscribe")) == hsm.Subscription(
        False, ("sf|nse_cm|3045",), 11
    )
    assert hsm.decode_client_frame(frame("client", "ack")) == hsm.Ack(2)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01", b"\x00\x05\x01\x01\x01\x00\x10ab", b"\x00\x03\x63\x00", bytes(3)],
)
def test_bad_client_frames_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(hsm.ProtocolError):
        hsm.decode_client_frame(data)


def test_server_replies_match_what_the_sdk_accepts() -> None:
    assert hsm.auth_reply(True) == frame("server", "auth_ok")
    assert hsm.subscription_reply(True) == frame("server", "subscribe_ok")
    assert hsm.subscription_reply(False) == frame("server", "unsubscribe_ok")
    assert hsm.mode_reply() == frame("server", "mode_ok")
    assert hsm.custom_message(51001, "limit", 4) == frame("server", "custom_51001")
    assert hsm.auth_reply(False)[7:8] != b"K"


def test_data_frame_layout() -> None:
    snap = hsm.snapshot_record(7, "sf|nse_cm|3045", [81235, 10], "NSE", "3045", "NSE:SBIN-EQ")
    upd = hsm.update_record(7, [81240, hsm.NO_VALUE])
    lite = hsm.lite_record(7, 81245)
    data = hsm.data_frame(42, [snap, upd, lite])
    assert struct.unpack(">H", data[:2])[0] == len(data) - 2
    assert data[2] == 6 and struct.unpack(">IH", data[3:9]) == (42, 3)
    assert data[9:10] == b"S" and data[10:12] == b"\x07\x00"  # topic id little-endian
    assert data[12] == len("sf|nse_cm|3045") and data[13:27] == b"sf|nse_cm|3045"
    assert data[27] == 2 and struct.unpack(">2i", data[28:36]) == (81235, 10)
    assert struct.unpack(">HB", data[38:41]) == (hsm.MULTIPLIER, hsm.PRECISION)
    assert upd == b"U\x07\x00\x02" + struct.pack(">2i", 81240, -(2**31))
    assert lite == b"L\x07\x00" + struct.pack(">i", 81245)
    assert hsm.to_raw_price(812.35) == 81235


def test_split_records_keeps_every_frame_within_the_length_prefix() -> None:
    upd = hsm.update_record(7, list(range(9)))  # 40 bytes, as a full-mode trade update
    records = [upd] * 5_000
    chunks = hsm.split_records(records, 2_000)
    assert sum(len(c) for c in chunks) == len(records)
    for chunk in chunks:
        data = hsm.data_frame(1, chunk)
        assert struct.unpack(">H", data[:2])[0] == len(data) - 2 <= hsm.MAX_FRAME_BODY
    assert len(hsm.split_records(records[:10], 2_000)) == 1
    assert hsm.split_records([], 2_000) == []
    with pytest.raises(ValueError, match="u16"):
        hsm.data_frame(1, records[:2_000])
