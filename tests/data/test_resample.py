"""Coarser bars built from finer stored ones equal the simulator's own candles (issue 13.4).

The simulator serves every resolution itself (aggregated from its 1-minute bars, anchored at each
session's open like Fyers). We fetch 1-minute bars and the simulator's 15-, 60-, 240-minute and
daily candles over real HTTP through the official SDK, then build the coarser ones from the
stored 1-minute bars: they must be identical, bar for bar — including the short last bar of a
60- and 240-minute day (15:15–15:30, 13:15–15:30) and the Muhurat session of Sunday 2026-11-08.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time
from pathlib import Path

import numpy as np
import pytest

from fyerstrade.calendar import get_calendar, ist_date, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.config import Settings
from fyerstrade.data.bars import load_bars
from fyerstrade.data.history import fetch_history
from fyerstrade.data.resample import can_resample, resample, source_candidates
from fyerstrade.demo import DemoOptions, demo_settings, login_to_simulator
from fyerstrade.domain import Resolution
from fyerstrade.fyers.client import FyersClient
from fyerstrade.sim import SimServer
from fyerstrade.store.candles import load_candles, upsert_candles
from fyerstrade.store.db import connect

SYMBOLS = ("NSE:SBIN-EQ", "NSE:NIFTY50-INDEX")
START, END = date(2026, 11, 2), date(2026, 11, 20)
TARGETS = (Resolution.M15, Resolution.M60, Resolution.M240, Resolution.D)


@pytest.fixture(scope="module")
def sim_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from plugins.sim import SIM_NOW, start_sim

    sim: SimServer = start_sim()
    try:
        root = tmp_path_factory.mktemp("resample")
        options = DemoOptions(
            data_dir=root / "data", log_dir=root / "logs", symbols=SYMBOLS, months=1,
            open_browser=False,
        )  # fmt: skip
        settings = demo_settings(options, sim.url)
        login_to_simulator(settings)
        conn = connect(settings.historical_db)
        try:
            summary = fetch_history(
                conn, FyersClient.from_settings(settings), list(SYMBOLS),
                (Resolution.M1, *TARGETS), calendar=get_calendar(), clock=lambda: SIM_NOW,
                start=START, end=END,
            )  # fmt: skip
        finally:
            conn.close()
        assert not summary.errors, summary.errors
        yield settings
    finally:
        sim.stop()


def _same(a: CandleArrays, b: CandleArrays) -> None:
    np.testing.assert_array_equal(a.ts, b.ts)
    for name in ("open", "high", "low", "close"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(a.volume, b.volume)


@pytest.mark.parametrize("target", TARGETS, ids=[t.value for t in TARGETS])
@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bars_built_from_one_minute_equal_the_simulators(
    sim_store: Settings, symbol: str, target: Resolution
) -> None:
    conn = connect(sim_store.historical_db)
    try:
        minutes = load_candles(conn, symbol, Resolution.M1)
        theirs = load_candles(conn, symbol, target)
    finally:
        conn.close()
    assert len(minutes) > 5_000 and len(theirs) > 10
    ours = resample(minutes, Resolution.M1, target)
    _same(ours, theirs)


def test_session_anchors_short_last_bars_and_muhurat(sim_store: Settings) -> None:
    conn = connect(sim_store.historical_db)
    try:
        minutes = load_candles(conn, "NSE:SBIN-EQ", Resolution.M1)
    finally:
        conn.close()
    hourly = resample(minutes, Resolution.M1, Resolution.M60)
    day = date(2026, 11, 20)
    stamps = [t for t in hourly.ts.tolist() if ist_date(t) == day]
    assert stamps[0] == ist_epoch(day, time(9, 15)) and stamps[-1] == ist_epoch(day, time(15, 15))
    assert len(stamps) == 7  # 09:15 … 14:15 and the short 15:15–15:30 bar
    muhurat = date(2026, 11, 8)
    session = get_calendar().session(muhurat)
    assert session is not None and session.label == "Muhurat"
    sunday = [t for t in hourly.ts.tolist() if ist_date(t) == muhurat]
    assert sunday == [session.open_ts]  # one bar, anchored at the special session's own open


def test_the_loader_builds_what_is_not_stored_and_says_from_what(
    sim_store: Settings, settings: Settings
) -> None:
    """A store holding only 1-minute bars answers a 15-minute run, and names its source."""
    src = connect(sim_store.historical_db)
    dst = connect(settings.historical_db)
    try:
        upsert_candles(dst, "NSE:SBIN-EQ", Resolution.M1,
                       load_candles(src, "NSE:SBIN-EQ", Resolution.M1))  # fmt: skip
        loaded = load_bars(dst, ["NSE:SBIN-EQ"], Resolution.M15, START, END, today=END)
        expected = load_candles(src, "NSE:SBIN-EQ", Resolution.M15)
    finally:
        src.close()
        dst.close()
    assert loaded.sources == {"NSE:SBIN-EQ": Resolution.M1}
    assert loaded.source_text() == "built from 1-minute bars"
    _same(loaded.bars["NSE:SBIN-EQ"], expected)
    assert loaded.period == (START, END) and not loaded.outside


def test_which_resolutions_can_be_built() -> None:
    assert can_resample(Resolution.M1, Resolution.M15)
    assert can_resample(Resolution.M5, Resolution.M15)
    assert can_resample(Resolution.M5, Resolution.D)
    assert not can_resample(Resolution.M10, Resolution.M15)
    assert not can_resample(Resolution.M15, Resolution.M5)
    assert not can_resample(Resolution.D, Resolution.M60)
    stored = {Resolution.M1, Resolution.M5, Resolution.D}
    assert source_candidates(Resolution.M15, stored) == [Resolution.M1, Resolution.M5]
    assert source_candidates(Resolution.D, stored)[0] is Resolution.D
    with pytest.raises(ValueError, match="cannot be built"):
        resample(CandleArrays.empty(), Resolution.M15, Resolution.M5)


def test_dr_drill_segments_each_start_their_own_buckets(tmp_path: Path) -> None:
    """2024-03-02: 09:15–10:00 and 11:30–12:30; 60-minute bars open at 09:15 and 11:30."""
    d = date(2024, 3, 2)
    ts = get_calendar().minute_bars(d)
    n = len(ts)
    bars = CandleArrays(ts.copy(), np.full(n, 100.0), np.full(n, 101.0), np.full(n, 99.0),
                        np.full(n, 100.5), np.ones(n, np.int64))  # fmt: skip
    hourly = resample(bars, Resolution.M1, Resolution.M60)
    assert hourly.ts.tolist() == [ist_epoch(d, time(9, 15)), ist_epoch(d, time(11, 30))]
    assert hourly.volume.tolist() == [45, 60]
