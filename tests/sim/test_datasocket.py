"""The simulator's data socket against the unmodified official SDK (``FyersDataSocket``)."""

from __future__ import annotations

import threading
from typing import Any

import requests

from fyerstrade.config import Settings
from fyerstrade.fyers.feed import control_from_message, tick_from_message
from fyerstrade.sim import SimServer
from plugins.datasocket import MARKET_START, private_sdk_socket, wait_for


class Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Any] = []
        self.errors: list[Any] = []

    def on_message(self, m: Any) -> None:
        with self.lock:
            self.messages.append(m)

    def on_error(self, m: Any) -> None:
        with self.lock:
            self.errors.append(m)

    def of(self, kind: str, symbol: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                m
                for m in self.messages
                if isinstance(m, dict)
                and m.get("type") == kind
                and (symbol is None or m.get("symbol") == symbol)
            ]


def test_sdk_full_mode_snapshot_updates_and_unsubscribe(
    live_sim: SimServer, live_token: str, live_settings: Settings
) -> None:
    inbox = Inbox()
    with private_sdk_socket(
        live_token,
        live_settings,
        on_message=inbox.on_message,
        on_error=inbox.on_error,
        on_connect=lambda: None,
        on_close=lambda m: None,
    ) as sdk:
        sdk.connect()
        wait_for(lambda: bool(inbox.of("cn")) and bool(inbox.of("ful")), what="auth and mode")
        assert inbox.of("cn")[0]["code"] == 200
        sdk.subscribe(symbols=["NSE:SBIN-EQ", "NSE:NIFTY50-INDEX", "NSE:RELIANCE-EQ"])
        wait_for(lambda: len(inbox.of("sf", "NSE:SBIN-EQ")) > 20, what="SBIN ticks")
        wait_for(lambda: len(inbox.of("if", "NSE:NIFTY50-INDEX")) > 5, what="index ticks")
        sbin = inbox.of("sf", "NSE:SBIN-EQ")
        ticks = [tick_from_message(m) for m in sbin]
        assert all(t is not None for t in ticks)
        times = [t.ts for t in ticks if t is not None]
        vols = [t.volume for t in ticks if t is not None]
        assert times == sorted(times) and times[0] >= MARKET_START - 60
        assert vols == sorted(vols) and vols[-1] > 0
        assert ticks[-1] is not None and 100 < ticks[-1].ltp < 5000
        nifty = tick_from_message(inbox.of("if", "NSE:NIFTY50-INDEX")[-1])
        assert nifty is not None and nifty.volume == 0 and nifty.ltp > 10_000

        sdk.unsubscribe(symbols=["NSE:RELIANCE-EQ"])
        wait_for(lambda: bool(inbox.of("unsub")), what="unsubscribe ack")
        with inbox.lock:
            at_ack = len(inbox.messages)
        wait_for(lambda: len(inbox.of("sf", "NSE:SBIN-EQ")) > len(sbin) + 20, what="more SBIN")
        with inbox.lock:
            after = inbox.messages[at_ack:]
        assert not [m for m in after if m.get("symbol") == "NSE:RELIANCE-EQ"]
    assert not [e for e in inbox.errors if control_from_message(e) is None]


def test_sdk_lite_mode_sends_ltp_only(
    live_sim: SimServer, live_token: str, live_settings: Settings
) -> None:
    inbox = Inbox()
    with private_sdk_socket(
        live_token,
        live_settings,
        litemode=True,
        on_message=inbox.on_message,
        on_error=inbox.on_error,
        on_connect=lambda: None,
        on_close=lambda m: None,
    ) as sdk:
        sdk.connect()
        wait_for(lambda: bool(inbox.of("lit")), what="lite mode ack")
        sdk.subscribe(symbols=["NSE:SBIN-EQ"])
        wait_for(lambda: len(inbox.of("sf", "NSE:SBIN-EQ")) > 5, what="lite ticks")
        for m in inbox.of("sf", "NSE:SBIN-EQ"):
            assert set(m) == {"ltp", "symbol", "type"}
        tick = tick_from_message(inbox.of("sf")[-1], fallback_ts=123)
        assert tick is not None and tick.ts == 123 and tick.volume == 0


def test_control_plane_sets_the_market_clock_and_faults(sim: SimServer) -> None:
    url = sim.url
    r = requests.post(
        f"{url}/_sim/clock", json={"start": "2026-11-20T10:00:00+05:30", "speed": 60}, timeout=5
    )
    assert r.status_code == 200, r.text
    ten_am = 1_795_149_000  # 2026-11-20 10:00 IST
    assert ten_am <= r.json()["now"] < ten_am + 600 and r.json()["speed"] == 60
    assert requests.get(f"{url}/_sim/clock", timeout=5).json()["speed"] == 60
    naive = requests.post(f"{url}/_sim/clock", json={"start": "2026-11-20T10:00:00"}, timeout=5)
    assert naive.status_code == 400 and "offset" in naive.json()["message"]
    bad = requests.post(f"{url}/_sim/clock", json={"speed": 0}, timeout=5)
    assert bad.status_code == 400
    unknown = requests.post(f"{url}/_sim/datasocket", json={"explode": True}, timeout=5)
    assert unknown.status_code == 400 and "malformed" in unknown.json()["message"]
    ok = requests.post(f"{url}/_sim/datasocket", json={"malformed": 2}, timeout=5)
    assert ok.status_code == 200 and ok.json()["malformed_pending"] == 2
