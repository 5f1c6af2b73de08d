"""``data fetch`` end to end: the real SDK against the simulator, real SQLite files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from datetime import time as dtime
from pathlib import Path

import numpy as np
import pytest

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.cli import main
from fyerstrade.config import Settings
from fyerstrade.data.history import fetch_history, last_complete_bar, read_universe
from fyerstrade.domain import Resolution
from fyerstrade.fyers.client import FyersClient
from fyerstrade.sim import SimServer
from fyerstrade.store.candles import candle_stats, delete_candles
from fyerstrade.store.db import open_historical
from plugins.history import RemoteSim

END = date(2026, 11, 20)  # the simulator's pinned "today" (16:00 IST, after the close)
SYMBOLS = ["NSE:SBIN-EQ", "NSE:TCS-EQ", "NSE:INFY-EQ"]
RES = [Resolution.M1, Resolution.M5, Resolution.D]


@pytest.fixture
def logged_in(sim: SimServer, fetch_login: Callable[[str], Settings]) -> Settings:
    """Settings pointing at the in-process simulator, with a token file."""
    return fetch_login(sim.url)


def counts(settings: Settings) -> dict[tuple[str, str], int]:
    conn = open_historical(settings)
    try:
        return {(s.symbol, s.resolution.value): s.count for s in candle_stats(conn)}
    finally:
        conn.close()


def ledger_rows(settings: Settings) -> int:
    conn = open_historical(settings)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM fetch_ledger").fetchone()[0])
    finally:
        conn.close()


def test_last_complete_bar_never_returns_a_forming_bar() -> None:
    cal = get_calendar()
    at_1031 = ist_epoch(END, dtime(10, 31, 30))
    assert last_complete_bar(cal, Resolution.M1, at_1031) == ist_epoch(END, dtime(10, 30))
    assert last_complete_bar(cal, Resolution.M5, at_1031) == ist_epoch(END, dtime(10, 25))
    # Today's daily bar only after the close: before it, yesterday's.
    assert last_complete_bar(cal, Resolution.D, at_1031) == ist_epoch(date(2026, 11, 19))
    after = ist_epoch(END, dtime(15, 30))
    assert last_complete_bar(cal, Resolution.D, after) == ist_epoch(END)
    assert last_complete_bar(cal, Resolution.M60, after) == ist_epoch(END, dtime(15, 15))
    # Saturday: Friday's last bar.
    saturday = ist_epoch(date(2026, 11, 21), dtime(12, 0))
    assert last_complete_bar(cal, Resolution.M1, saturday) == ist_epoch(END, dtime(15, 29))


def test_read_universe() -> None:
    assert read_universe("NSE:SBIN-EQ\n\n# banks\nNSE:HDFCBANK-EQ  # big\n") == [
        "NSE:SBIN-EQ",
        "NSE:HDFCBANK-EQ",
    ]


def test_fetch_complete_resume_and_repair(
    remote_sim: RemoteSim, fetch_login: Callable[[str], Settings]
) -> None:
    logged_in = fetch_login(remote_sim.url)
    now = remote_sim.now
    cal = get_calendar()
    start = cal.trading_days(date(2025, 10, 1), END)[-250]
    client = FyersClient.from_settings(logged_in)
    conn = open_historical(logged_in)
    try:
        first = fetch_history(
            conn, client, SYMBOLS, RES, calendar=cal, clock=lambda: now, start=start
        )
        assert not first.errors
        assert remote_sim.stats()["rejected_429"] == 0
        assert first.requests == first.planned == len(remote_sim.history())
        # 250 trading days span 366 calendar days: five 90-day requests intraday, two daily.
        assert first.planned == 3 * (5 + 5 + 2)
        have = {(s.symbol, s.resolution): s.count for s in candle_stats(conn)}
        for sym in SYMBOLS:
            for res in RES:
                assert have[(sym, res)] == cal.expected_bars(start, END, res).size
        # 249 regular sessions and the 2026-11-08 Muhurat hour.
        assert have[(SYMBOLS[0], Resolution.M1)] == 249 * 375 + 60
        assert first.candles_added == sum(have.values())

        # Second fetch (default window: from the first stored bar): nothing to ask.
        seen = len(remote_sim.history())
        second = fetch_history(conn, client, SYMBOLS, RES, calendar=cal, clock=lambda: now)
        assert (second.planned, second.requests, second.candles_added) == (0, 0, 0)
        assert len(remote_sim.history()) == seen

        # Delete one day (every resolution of SBIN) and one single minute of TCS.
        day = date(2026, 6, 10)
        for res in RES:
            delete_candles(conn, SYMBOLS[0], res, ist_epoch(day), ist_epoch(day) + 86_399)
        minute = ist_epoch(date(2026, 3, 4), dtime(13, 7))
        assert delete_candles(conn, SYMBOLS[1], Resolution.M1, minute, minute) == 1
        third = fetch_history(conn, client, SYMBOLS, RES, calendar=cal, clock=lambda: now)
        repairs = sorted(remote_sim.history()[seen:])
        assert repairs == sorted(
            [
                (SYMBOLS[0], "1", ist_epoch(day, dtime(9, 15)), ist_epoch(day, dtime(15, 29)) + 59),
                (
                    SYMBOLS[0],
                    "5",
                    ist_epoch(day, dtime(9, 15)),
                    ist_epoch(day, dtime(15, 25)) + 299,
                ),
                (SYMBOLS[0], "D", ist_epoch(day), ist_epoch(day) + 86_399),
                (SYMBOLS[1], "1", minute, minute + 59),
            ]
        )
        assert third.holes_repaired == 4
        assert third.candles_added == 375 + 75 + 1 + 1
        after = {(s.symbol, s.resolution): s.count for s in candle_stats(conn)}
        assert after == have
        assert remote_sim.stats()["rejected_429"] == 0
    finally:
        conn.close()


def test_unknown_symbol_is_named_and_others_fetched(
    logged_in: Settings, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "fetch", "-s", "NSE:SBIN-EQ", "-s", "NSE:NOSUCH-EQ", "-s", "NSE:TCS-EQ"]
    code = main(
        [*args, "-r", "D", "-r", "5", "--from", "2026-10-01", "--to", "2026-11-20", "--json"]
    )
    out = capsys.readouterr()
    assert code == 2
    summary = json.loads(out.out)
    assert set(summary) >= {"requests", "candles_added", "holes_repaired", "seconds"}
    errors = [line for line in out.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "NSE:NOSUCH-EQ" in errors[0]
    assert summary["failed_symbols"] == ["NSE:NOSUCH-EQ"]
    cal = get_calendar()
    have = counts(logged_in)
    for sym in ("NSE:SBIN-EQ", "NSE:TCS-EQ"):
        assert have[(sym, "D")] == cal.expected_bars(date(2026, 10, 1), END, Resolution.D).size
        assert have[(sym, "5")] == cal.expected_bars(date(2026, 10, 1), END, Resolution.M5).size
    assert not any(sym == "NSE:NOSUCH-EQ" for sym, _ in have)
    assert summary["candles_added"] == sum(have.values())


def test_expired_token_one_line_and_store_unchanged(
    logged_in: Settings, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "fetch", "-s", "NSE:SBIN-EQ", "-r", "D", "--to", "2026-11-20"]
    assert main([*args, "--from", "2026-10-01"]) == 0
    before, ledger_before = counts(logged_in), ledger_rows(logged_in)
    capsys.readouterr()
    sim.faults.set(expired_token=True)
    code = main([*args, "--from", "2025-06-01", "-r", "5"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") and "fyerstrade auth login" in lines[0]
    assert counts(logged_in) == before
    assert ledger_rows(logged_in) == ledger_before


@pytest.mark.e2e
def test_sigint_mid_fetch_then_rerun_completes(logged_in: Settings, sim: SimServer) -> None:
    symbols = ["NSE:SBIN-EQ", "NSE:TCS-EQ", "NSE:INFY-EQ", "NSE:RELIANCE-EQ", "NSE:ITC-EQ"]
    args = [
        sys.executable,
        "-c",
        "from fyerstrade.cli import run; run()",
        "data",
        "fetch",
        "--json",
        "-r",
        "D",
        "-r",
        "60",
    ]
    args += [f"--symbol={s}" for s in symbols] + ["--from", "2025-06-02", "--to", "2026-11-20"]
    # 5 symbols x (2 daily + 6 hourly chunks) = 40 requests, each answered after 1 s.
    sim.faults.set(slow=1.0)
    proc = subprocess.Popen(
        args, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        db = logged_in.historical_db
        while time.monotonic() < deadline:
            if db.exists():
                with sqlite3.connect(db) as c:
                    try:
                        done = c.execute("SELECT COUNT(*) FROM fetch_ledger").fetchone()[0]
                    except sqlite3.OperationalError:
                        done = 0
                if done >= 3:
                    break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    partial = json.loads(out)
    assert partial["interrupted"] is True
    assert 0 < partial["completed"] < partial["planned"] == 40

    sim.faults.set(slow=0.0)
    rejected_before = sim.stats.rejected_429
    rerun = subprocess.run(args, env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    resumed = json.loads(rerun.stdout)
    assert resumed["planned"] < 40
    # Every planned request is sent once; the only extra requests are retries of 429s, which the
    # interrupted process's last requests (still in the server's 1-second window, unknown to the
    # new process's limiter) can cause.
    retries = resumed["requests"] - resumed["planned"]
    assert retries == sim.stats.rejected_429 - rejected_before
    assert sim.stats.rejected_429 == 0
    cal = get_calendar()
    have = counts(logged_in)
    for sym in symbols:
        for res in (Resolution.D, Resolution.M60):
            assert have[(sym, res.value)] == cal.expected_bars(date(2025, 6, 2), END, res).size
    with sqlite3.connect(logged_in.historical_db) as c:
        total, distinct = c.execute(
            "SELECT COUNT(*), COUNT(DISTINCT symbol || resolution || ts) FROM historical_data"
        ).fetchone()
    assert total == distinct == sum(have.values())
    assert np.all(np.array(list(have.values())) > 0)


def test_universe_file_dry_run_and_text_summary(
    logged_in: Settings, sim: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    universe = tmp_path / "universe.txt"
    universe.write_text("# my watchlist\nNSE:SBIN-EQ\n\nNSE:TCS-EQ  # IT\n")
    args = ["data", "fetch", "--universe", str(universe), "-r", "D"]
    args += ["--from", "2026-11-02", "--to", "2026-11-20"]
    assert main([*args, "--dry-run", "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    # 15 sessions: 14 weekdays (10 Nov is a holiday) and the Sunday 8 Nov Muhurat session.
    assert [(p["symbol"], p["resolution"], p["bars"]) for p in planned] == [
        ("NSE:SBIN-EQ", "D", 15),
        ("NSE:TCS-EQ", "D", 15),
    ]
    assert planned[0]["range_from"] == "2026-11-02T00:00:00+05:30"
    assert planned[0]["range_to"] == "2026-11-20T23:59:59+05:30"
    assert sim.stats.history == []  # a dry run sends nothing
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("2 requests, 30 candles added, 0 holes repaired")
    assert main(args) == 0
    assert "nothing to fetch: the store is complete" in capsys.readouterr().out
