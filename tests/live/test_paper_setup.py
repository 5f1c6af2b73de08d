"""A paper start picks its segment of the day (live/paper_setup.py) on real SQLite files: a
crashed segment with the same config and a record of where its ticks begin is resumed;
otherwise a new segment opens from the stored account. SessionStore.open checks and opens both
databases and, when the second cannot be opened, leaves nothing open behind."""

from __future__ import annotations

import logging
import threading

import pytest

from fyerstrade.config import Settings
from fyerstrade.errors import FyersTradeError
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.paper_setup import PaperStart
from fyerstrade.live.session_store import Mark, SessionStore

DAY = "2026-12-02"
NOW = 1_764_646_500  # 2026-12-02 09:05 IST


def _start(store: SessionStore, config: LiveConfig, now: int = NOW) -> tuple[int, bool]:
    row = PaperStart(config).segment_row(store, store.trading, DAY, now, {})
    return row.segment, row.resume


def _crash_with_start_mark(store: SessionStore, segment: int) -> None:
    store.add_mark(f"{DAY}#{segment}", Mark(1, 0, "start", store.last_tick_id()))
    store.flush_live()


def test_the_first_start_of_a_day_opens_segment_one_from_the_capital(settings: Settings) -> None:
    store = SessionStore.open(settings)
    try:
        config = LiveConfig(capital=250_000.0)
        row = PaperStart(config).segment_row(store, store.trading, DAY, NOW, {})
        assert (row.segment, row.resume, row.start_cash) == (1, False, 250_000.0)
        assert row.replay_from == NOW and row.positions == []
        found = store.session_row(DAY)
        assert found is not None and found[1] == "running"
    finally:
        store.close()


def test_a_crashed_segment_is_resumed_only_with_the_same_config_and_its_start_mark(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    store = SessionStore.open(settings)
    try:
        config = LiveConfig()
        assert _start(store, config) == (1, False)
        # crashed before its first mark was written (an older fyerstrade): not resumable
        with caplog.at_level(logging.WARNING, logger="fyerstrade.live.paper_setup"):
            assert _start(store, config, NOW + 60) == (2, False)
        assert "no record of where its ticks begin" in caplog.text
        _crash_with_start_mark(store, 2)
        assert _start(store, config, NOW + 120) == (2, True)  # resumed, from its own start
        assert store.session_row(DAY) is not None
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="fyerstrade.live.paper_setup"):
            assert _start(store, LiveConfig(capital=123_456.0), NOW + 180) == (3, False)
        assert "the live config changed since the last start" in caplog.text
        # a cleanly closed segment is never resumed: the next start is a new segment
        store.close_segment(DAY, status="stopped", now=NOW + 240, cash=1.0, equity=1.0)
        _crash_with_start_mark(store, 3)
        assert _start(store, LiveConfig(capital=123_456.0), NOW + 300) == (4, False)
    finally:
        store.close()


def test_session_store_close_writes_what_is_queued_once(settings: Settings) -> None:
    store = SessionStore.open(settings)
    store.add_mark(f"{DAY}#1", Mark(1, 0, "start", 0))
    store.close()
    store.close()  # a second close does nothing
    reopened = SessionStore.open(settings)
    try:
        assert [m.kind for m in reopened.marks(f"{DAY}#1")] == ["start"]
    finally:
        reopened.close()


def test_session_store_open_leaves_nothing_open_when_the_trading_log_is_damaged(
    settings: Settings,
) -> None:
    SessionStore.open(settings).close()  # both databases exist
    settings.trading_db.write_bytes(b"this is not a database" * 100)
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(FyersTradeError):
        SessionStore.open(settings)
    assert "wal-checkpoint" not in {t.name for t in threading.enumerate()} - before
