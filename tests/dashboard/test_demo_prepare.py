"""The demo's preparation against an in-process simulator: a second run reuses the data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fyerstrade.backtest.journal import list_runs
from fyerstrade.config import Settings
from fyerstrade.demo import DemoOptions, demo_data_dir, demo_settings, fetch_start, prepare
from fyerstrade.sim import SimServer
from fyerstrade.store.candles import candle_stats
from fyerstrade.store.db import connect

TODAY = date(2026, 11, 20)  # the sim fixture's clock: Friday 16:00 IST


def test_demo_dir_is_separate_from_the_data_dir(settings: Settings, tmp_path: Path) -> None:
    assert demo_data_dir(settings) == settings.data_dir / "demo"
    assert demo_data_dir(settings, tmp_path / "x") == tmp_path / "x"
    assert fetch_start(6, TODAY) == date(2026, 5, 21)


def test_second_prepare_reuses_data_and_runs(settings: Settings, sim: SimServer) -> None:
    options = DemoOptions(
        data_dir=demo_data_dir(settings), log_dir=settings.log_dir, symbols=("NSE:SBIN-EQ",),
        months=1, open_browser=False,
    )  # fmt: skip
    demo = demo_settings(options, sim.url)
    lines: list[str] = []
    first = prepare(demo, options, TODAY, lines.append)
    assert first.errors == []
    assert first.candles_added > 0 and first.symbols_in_master > 0
    assert len(first.sample_runs) == 2
    conn = connect(demo.historical_db)
    stats = {(s.symbol, s.resolution.value): s.count for s in candle_stats(conn)}
    conn.close()
    assert set(stats) == {("NSE:SBIN-EQ", "1"), ("NSE:SBIN-EQ", "5"), ("NSE:SBIN-EQ", "D")}
    assert stats[("NSE:SBIN-EQ", "5")] * 5 == stats[("NSE:SBIN-EQ", "1")]

    second = prepare(demo, options, TODAY, lines.append)
    assert second.candles_added == 0 and second.requests == 0
    assert second.sample_runs == []
    conn = connect(demo.trading_db)
    assert len(list_runs(conn)) == 2
    conn.close()
    # nothing was written to the configured (non-demo) data dir
    assert not settings.historical_db.exists()
    assert not settings.trading_db.exists()
