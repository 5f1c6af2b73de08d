"""The Feed: pure parsers on recorded SDK messages, and the real SDK against the simulator's data
socket with its faults (drop, stall, malformed frame, expired token)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fyerstrade.config import Settings, load_settings
from fyerstrade.domain import Bar, Resolution, Tick
from fyerstrade.errors import AuthError
from fyerstrade.fyers.client import FyersClient
from fyerstrade.fyers.feed import (
    Backfilled,
    Feed,
    FeedStatus,
    Gap,
    backfill,
    control_from_message,
    tick_from_message,
)
from fyerstrade.live.bars import BarBuilder
from fyerstrade.sim import DEFAULT_APP_ID, SimServer
from fyerstrade.sim.datasocket import hub_for
from plugins.datasocket import MARKET_START, wait_for

RECORDED = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "hsm" / "sdk_messages.json").read_text()
)
SBIN = "NSE:SBIN-EQ"


# ----------------------------------------------------------------------------- parsers


def test_full_mode_messages_become_ticks() -> None:
    sf = [m for m in RECORDED["full"] if m.get("type") == "sf"]
    first = sf[0]
    tick = tick_from_message(first, recv_ns=7)
    assert tick == Tick(
        symbol=SBIN,
        ts=first["last_traded_time"],
        ltp=first["ltp"],
        volume=first["vol_traded_today"],
        bid=first["bid_price"],
        ask=first["ask_price"],
        bid_qty=first["bid_size"],
        ask_qty=first["ask_size"],
        last_qty=first["last_traded_qty"],
        recv_ns=7,
    )
    index = next(m for m in RECORDED["full"] if m.get("type") == "if")
    itick = tick_from_message(index)
    assert itick is not None and itick.ts == index["exch_feed_time"] and itick.volume == 0


def test_lite_messages_are_stamped_with_the_fallback_time() -> None:
    lite = next(m for m in RECORDED["lite"] if m.get("type") == "sf")
    tick = tick_from_message(lite, fallback_ts=1_700_000_000)
    assert tick is not None
    assert (tick.symbol, tick.ltp, tick.ts, tick.volume) == (SBIN, lite["ltp"], 1_700_000_000, 0)


def test_control_and_junk_messages_are_not_ticks() -> None:
    controls = [m for m in RECORDED["full"] if "ltp" not in m]
    assert {c["type"] for c in controls} >= {"cn", "ful", "sub", "unsub"}
    for m in controls + RECORDED["errors"]:
        assert tick_from_message(m) is None
        assert control_from_message(m) is not None
    cn = control_from_message(controls[0])
    assert cn is not None and (cn.kind, cn.code, cn.ok) == ("cn", 200, True)
    refused = control_from_message(
        {"type": "cn", "code": 11001, "message": "Authentication failed", "s": "error"}
    )
    assert refused is not None and not refused.ok
    for junk in (None, "KeyError: 'x'", ValueError("boom"), {"ltp": "1.0", "symbol": SBIN}, {}):
        assert tick_from_message(junk) is None
    assert tick_from_message({"type": "sf", "symbol": SBIN, "ltp": True}) is None


def test_gap_missed_minutes() -> None:
    assert Gap(600 + 30, 600 + 250).missed_minutes() == (600, 780)
    assert Gap(600 + 30, 600 + 250).crosses_minute
    assert Gap(600 + 5, 600 + 50).missed_minutes() == (600, 540)  # inside one minute: none
    assert not Gap(600 + 5, 600 + 50).crosses_minute


# ----------------------------------------------------------------------------- live feed


def drain(q: queue.SimpleQueue[Tick | Gap]) -> list[Tick | Gap]:
    out: list[Tick | Gap] = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


FeedFactory = Callable[..., Feed]


@pytest.fixture
def feed_factory(
    live_sim: SimServer, live_token: str, live_settings: Settings
) -> Iterator[FeedFactory]:
    """Feeds on the simulator with fast reconnects and an always-open market (the market clock
    runs in 2026 while the wall clock may be a weekend); stopped at the end."""
    feeds: list[Feed] = []

    def make(symbols: list[str], **kwargs: Any) -> Feed:
        kwargs.setdefault("reconnect_delays", (0.05,))
        kwargs.setdefault("market_open", lambda now: True)
        feed = Feed(live_settings, live_token, symbols, **kwargs)
        feeds.append(feed)
        return feed

    yield make
    for f in feeds:
        f.stop()


def test_feed_streams_ticks_that_build_bars(feed_factory: FeedFactory, live_token: str) -> None:
    feed = feed_factory([SBIN, "NSE:RELIANCE-EQ"])
    feed.start()
    assert feed.wait_live(15), feed.error
    assert feed.status is FeedStatus.LIVE
    builder = BarBuilder(grace_seconds=0)
    bars = []
    ticks: list[Tick] = []

    def three_bars() -> bool:
        for t in drain(feed.ticks):
            assert isinstance(t, Tick)  # no gap in this test
            ticks.append(t)
            bar = builder.on_tick(t)
            if bar is not None and bar.symbol == SBIN:
                bars.append(bar)
        return len(bars) >= 3

    wait_for(three_bars, what="three SBIN bars")
    assert {t.symbol for t in ticks} == {SBIN, "NSE:RELIANCE-EQ"}
    assert all(t.recv_ns > 0 for t in ticks)
    # complete minutes after the first (partial) one equal the simulator's candles
    client = FyersClient(
        feed.settings, app_id=DEFAULT_APP_ID, access_token=live_token.partition(":")[2]
    )
    complete = bars[1:]
    gap = Gap(complete[0].ts, complete[-1].ts + 60)
    assert backfill(client, [SBIN], gap) == Backfilled(complete, {})
    assert feed.reconnects == 0


def test_feed_reconnects_after_a_drop_and_backfill_fills_the_gap(
    feed_factory: FeedFactory, live_sim: SimServer, live_token: str
) -> None:
    hub = hub_for(live_sim.state)
    client = FyersClient(
        load_settings(env_file=None),
        app_id=DEFAULT_APP_ID,
        access_token=live_token.partition(":")[2],
    )
    feed = feed_factory([SBIN])
    feed.start()
    assert feed.wait_live(15)
    builder = BarBuilder(grace_seconds=0)
    bars: dict[int, Bar] = {}
    partial: set[int] = set()  # minutes the live builder saw only part of
    gaps: list[Gap] = []

    def keep(bar: Bar) -> None:
        assert bar.ts not in bars, f"duplicate bar {bar}"
        bars[bar.ts] = bar

    def consume() -> bool:
        """Handle what arrived; False so that ``consume() or condition`` reads as a poll."""
        for item in drain(feed.ticks):
            if isinstance(item, Gap):
                gaps.append(item)
                if not item.crosses_minute:
                    continue
                builder.restart([SBIN])
                for bar in backfill(client, [SBIN], item).bars:
                    keep(bar)
                partial.add(item.end - item.end % 60)
                continue
            if not bars and not partial:
                partial.add(item.ts - item.ts % 60)  # the first minute started before us
            closed = builder.on_tick(item)
            if closed is not None:
                keep(closed)
        return False

    wait_for(lambda: consume() or len(bars) >= 2, what="bars before the drop")
    hub.inject(drop=True)
    wait_for(lambda: consume() or len(gaps) == 1, timeout=15, what="the gap after the drop")
    gap = gaps[0]
    assert gap.end > gap.start and feed.reconnects == 1 and hub.connects == 2
    assert feed.gaps.get_nowait() == gap
    wait_for(lambda: consume() or max(bars) > gap.end + 180, what="bars after the gap")
    history = {
        ts: Bar(SBIN, Resolution.M1, ts, o, h, lo, c, v)
        for ts, o, h, lo, c, v in client.history(SBIN, Resolution.M1, min(bars), max(bars))
    }
    assert sorted(bars) == sorted(history)  # every minute once, none missing
    for ts, bar in bars.items():
        if ts not in partial:
            assert bar == history[ts]
    assert feed.status is FeedStatus.LIVE


def test_watchdog_reconnects_a_silent_stall(feed_factory: FeedFactory, live_sim: SimServer) -> None:
    hub = hub_for(live_sim.state)
    feed = feed_factory([SBIN], stall_seconds=1.0)
    feed.start()
    assert feed.wait_live(15)
    wait_for(lambda: feed.ticks_received > 5, what="first ticks")
    hub.inject(stall=True)
    gap = feed.gaps.get(timeout=15)
    assert feed.reconnects >= 1 and gap.end > gap.start
    assert hub.connects >= 2


def test_watchdog_stays_quiet_when_the_market_is_closed(
    feed_factory: FeedFactory, live_sim: SimServer
) -> None:
    feed = feed_factory([SBIN], stall_seconds=0.2, market_open=lambda now: False)
    feed.start()
    assert feed.wait_live(15)
    hub_for(live_sim.state).inject(stall=True)
    connects = hub_for(live_sim.state).connects
    # Absence can only be shown by letting time pass: three watchdog periods with no ticks.
    threading.Event().wait(0.6)
    assert feed.reconnects == 0 and hub_for(live_sim.state).connects == connects
    assert feed.status is FeedStatus.LIVE


def test_malformed_frames_are_skipped(feed_factory: FeedFactory, live_sim: SimServer) -> None:
    feed = feed_factory([SBIN])
    feed.start()
    assert feed.wait_live(15)
    wait_for(lambda: feed.ticks_received > 0, what="the snapshot")  # updates need it first
    hub = hub_for(live_sim.state)
    hub.inject(malformed=3)
    wait_for(lambda: hub.snapshot()["malformed_pending"] == 0, what="malformed frames sent")
    before = feed.ticks_received
    wait_for(lambda: feed.ticks_received > before + 5, what="ticks after the bad frames")
    assert feed.reconnects == 0 and feed.status is FeedStatus.LIVE


def test_expired_token_stops_the_feed_with_auth_error(
    feed_factory: FeedFactory, live_sim: SimServer, live_token: str
) -> None:
    hub = hub_for(live_sim.state)
    feed = feed_factory([SBIN])
    feed.start()
    assert feed.wait_live(15)
    hub.inject(expire_token=True)
    wait_for(lambda: feed.status is FeedStatus.AUTH_FAILED, timeout=20, what="AUTH_FAILED")
    assert isinstance(feed.error, AuthError)
    assert "fyerstrade auth login" in str(feed.error)
    assert live_token.partition(":")[2] not in str(feed.error)
    assert hub.auth_failures == 1
    wait_for(lambda: not feed.running, what="the feed to stop")
    assert hub.connects == 2  # the first connection and the refused one: no retry loop


def test_feed_refuses_a_token_without_app_id(live_settings: Settings) -> None:
    with pytest.raises(AuthError, match="APP_ID:TOKEN"):
        Feed(live_settings, "just-a-jwt", [SBIN])


def test_backfill_resolution_is_one_minute(live_sim: SimServer, live_token: str) -> None:
    client = FyersClient(
        load_settings(env_file=None),
        app_id=DEFAULT_APP_ID,
        access_token=live_token.partition(":")[2],
    )
    t0 = MARKET_START - 1800  # 09:30 IST, complete on the simulator's clock
    got = backfill(client, [SBIN, "NSE:RELIANCE-EQ"], Gap(t0 + 20, t0 + 190))
    assert [(b.symbol, b.ts) for b in got.bars] == [
        (s, t0 + 60 * i) for s in (SBIN, "NSE:RELIANCE-EQ") for i in range(3)
    ]
    assert all(b.resolution is Resolution.M1 and b.volume > 0 for b in got.bars)
    assert got.failed == {}


def test_backfill_keeps_the_symbols_whose_history_answers(
    live_sim: SimServer, live_token: str
) -> None:
    settings = load_settings(env_file=None)
    client = FyersClient(settings, app_id=DEFAULT_APP_ID, access_token=live_token.partition(":")[2])
    t0 = MARKET_START - 1800
    gap = Gap(t0 + 20, t0 + 190)
    symbols = [SBIN, "NSE:NOSUCH-EQ", "NSE:RELIANCE-EQ"]
    got = backfill(client, symbols, gap, workers=3)
    # the others' bars, in (symbol, time) order, whatever order the answers came back in
    assert [(b.symbol, b.ts) for b in got.bars] == [
        (s, t0 + 60 * i) for s in (SBIN, "NSE:RELIANCE-EQ") for i in range(3)
    ]
    assert list(got.failed) == ["NSE:NOSUCH-EQ"]
    assert "NSE:NOSUCH-EQ" in got.failed["NSE:NOSUCH-EQ"]
    assert _backfill_threads() == []  # every request answered before the call returned
    # a dead token is not a symbol's failure: it stops the backfill for the caller to handle,
    # and no request of it is left running (to retry and log after the caller moved on)
    dead = FyersClient(settings, app_id=DEFAULT_APP_ID, access_token="not-a-token")
    with pytest.raises(AuthError):
        backfill(dead, symbols, gap)
    assert _backfill_threads() == []


def _backfill_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("backfill")]


def test_a_token_already_expired_fails_fast_without_retrying(settings: Settings) -> None:
    from plugins.fyers import make_jwt

    expired = make_jwt(exp=int(time.time()) - 60, hsm_key="0" * 32)
    feed = Feed(settings, f"{DEFAULT_APP_ID}:{expired}", [SBIN], reconnect_delays=(0.05,))
    feed.start()
    try:
        wait_for(lambda: not feed.running, timeout=15, what="the feed to give up")
    finally:
        feed.stop()
    assert feed.status is FeedStatus.AUTH_FAILED and feed.connects == 1
    assert isinstance(feed.error, AuthError) and "expired" in str(feed.error)
