"""``data import`` never changes stored candles silently: changes are counted and refused unless
``--replace``; implausible prices and a file of another resolution are refused; nothing is written
by a refused import."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from fyerstrade.calendar import get_calendar
from fyerstrade.cli import main
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import load_candles
from fyerstrade.store.db import open_historical

SYMBOL = "NSE:SBIN-EQ"
DAY = date(2026, 11, 17)
HEADER = "timestamp,open,high,low,close,volume"


def good_rows(n: int) -> list[str]:
    bars = get_calendar().bar_times(DAY, Resolution.M1)[:n]
    rows = []
    for i, ts in enumerate(bars.tolist()):
        o = 100 + i * 0.05
        rows.append(f"{ts},{o:.2f},{o + 0.5:.2f},{o - 0.5:.2f},{o + 0.1:.2f},{1000 + i}")
    return rows


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _import(path: Path, resolution: str = "1", *extra: str) -> int:
    return main(["data", "import", str(path), "-s", SYMBOL, "-r", resolution, *extra])


def _digest(settings: Settings) -> str:
    conn = open_historical(settings)
    try:
        rows = conn.execute("SELECT * FROM historical_data ORDER BY symbol, resolution, ts")
        return hashlib.sha256(repr(rows.fetchall()).encode()).hexdigest()
    finally:
        conn.close()


def _doubled(rows: list[str]) -> list[str]:
    out = []
    for row in rows:
        ts, *prices, vol = row.split(",")
        out.append(",".join([ts, *(f"{2 * float(p):.2f}" for p in prices), vol]))
    return out


def test_an_import_that_changes_stored_candles_is_refused_unless_replace(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = good_rows(30)
    assert _import(write_csv(tmp_path / "sbin.csv", rows)) == 0
    before = _digest(settings)
    capsys.readouterr()
    # The first 20 bars doubled plus 5 new bars after the stored ones.
    more = good_rows(35)[30:]
    doubled = write_csv(tmp_path / "doubled.csv", _doubled(rows[:20]) + more)
    assert _import(doubled) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "20 of its 25 candles would change stored NSE:SBIN-EQ 1 candles" in err[0]
    assert "2026-11-17 09:15 IST open 100.00 → 200.00" in err[0]
    assert "pass --replace" in err[0]
    assert _digest(settings) == before  # not even the 5 new ones

    assert _import(doubled, "1", "--replace") == 0
    assert "5 new, 20 replaced in the store" in capsys.readouterr().out
    conn = open_historical(settings)
    try:
        stored = load_candles(conn, SYMBOL, Resolution.M1)
    finally:
        conn.close()
    assert len(stored) == 35
    assert stored.close[0] == pytest.approx(2 * 100.1)
    assert stored.close[25] == pytest.approx(100 + 25 * 0.05 + 0.1)


def test_the_same_candles_again_are_no_change(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write_csv(tmp_path / "sbin.csv", good_rows(12))
    assert _import(f) == 0
    assert _import(f) == 0
    assert "0 new, 0 replaced" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1e308", "high is above 10,000,000 rupees"),
        ("nan", "high is nan"),
        ("inf", "high is inf"),
    ],
)
def test_implausible_prices_are_refused(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str], value: str, reason: str
) -> None:
    rows = good_rows(10)
    ts, o, _h, low, c, v = rows[4].split(",")
    rows[4] = ",".join([ts, o, value, low, c, v])
    assert _import(write_csv(tmp_path / "big.csv", rows)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"big.csv line 6: {reason}" in err[0], err
    conn = open_historical(settings)
    try:
        assert conn.execute("SELECT COUNT(*) FROM historical_data").fetchone()[0] == 0
    finally:
        conn.close()


def _bars(resolution: Resolution, n: int) -> list[str]:
    bars = get_calendar().bar_times(DAY, resolution)[:n]
    return [f"{t},100,101,99,100.5,10" for t in bars.tolist()]


@pytest.mark.parametrize(
    ("file_res", "claimed", "message"),
    [
        (Resolution.M5, "1", "these look like 5-minute candles, not 1-minute; use -r 5"),
        (Resolution.M15, "5", "these look like 15-minute candles, not 5-minute; use -r 15"),
        (
            Resolution.M1,
            "5",
            "are 1 minute apart, closer than 5-minute bars; if this is a 1-minute file, use -r 1",
        ),
    ],
)
def test_a_file_of_another_resolution_is_detected(
    tmp_path: Path,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    file_res: Resolution,
    claimed: str,
    message: str,
) -> None:
    f = write_csv(tmp_path / "bars.csv", _bars(file_res, 20))
    assert _import(f, claimed) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert "nothing was imported" in err[0]
    assert _import(f, file_res.value) == 0


def test_daily_candles_imported_as_intraday_are_detected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    days = get_calendar().trading_days(DAY, DAY.replace(day=27))
    rows = [f"{d.isoformat()}T09:15:00+05:30,100,101,99,100.5,5000" for d in days]
    assert _import(write_csv(tmp_path / "d.csv", rows), "1") == 2
    assert "these look like daily candles; use -r D" in capsys.readouterr().err


def test_sparse_one_minute_bars_are_still_one_minute(tmp_path: Path) -> None:
    bars = get_calendar().bar_times(DAY, Resolution.M1)
    picked = bars[[0, 1, 4, 9, 11, 30, 31, 50]]  # an illiquid symbol: some minutes have no trade
    f = write_csv(tmp_path / "s.csv", [f"{t},100,101,99,100.5,10" for t in picked.tolist()])
    assert _import(f, "1") == 0


def test_a_binary_csv_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "junk.csv"
    f.write_bytes(b"timestamp,open\n\xff\xfe\x00\x01" * 10)
    assert _import(f) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: junk.csv is not a UTF-8 text CSV (undecodable byte at offset 15); export it as "
        "CSV text or Parquet; nothing was imported"
    ]
