"""``fyerstrade data import``: good files are upserted; a bad row is named, nothing written."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.cli import main
from fyerstrade.config import Settings
from fyerstrade.data.importer import import_candles, parse_timestamp, read_candles
from fyerstrade.domain import Resolution
from fyerstrade.errors import InputError
from fyerstrade.store.candles import candle_stats, load_candles
from fyerstrade.store.db import open_historical

DAY = date(2026, 11, 17)
HEADER = "timestamp,open,high,low,close,volume"


def good_rows(n: int = 30) -> list[str]:
    bars = get_calendar().bar_times(DAY, Resolution.M1)[:n]
    rows = []
    for i, ts in enumerate(bars.tolist()):
        o = 100 + i * 0.05
        rows.append(f"{ts},{o:.2f},{o + 0.5:.2f},{o - 0.5:.2f},{o + 0.1:.2f},{1000 + i}")
    return rows


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def count(settings: Settings) -> int:
    conn = open_historical(settings)
    try:
        return sum(s.count for s in candle_stats(conn))
    finally:
        conn.close()


def test_good_csv_is_imported_once(tmp_path: Path, settings: Settings) -> None:
    f = write_csv(tmp_path / "sbin.csv", good_rows())
    conn = open_historical(settings)
    try:
        first = import_candles(conn, f, "NSE:SBIN-EQ", Resolution.M1)
        again = import_candles(conn, f, "NSE:SBIN-EQ", Resolution.M1)
        stored = load_candles(conn, "NSE:SBIN-EQ", Resolution.M1)
    finally:
        conn.close()
    assert (first.rows, first.written) == (30, 30)
    assert (again.rows, again.written) == (30, 0)
    assert not first.known_symbol  # not in the (empty) symbol master: equity, lot 1
    assert first.off_calendar == 0
    assert len(stored) == 30
    assert stored.ts[0] == ist_epoch(DAY, time(9, 15))
    assert stored.volume[-1] == 1029
    assert stored.close[0] == pytest.approx(100.1)


def test_iso_timestamps_with_offset_are_accepted_and_naive_ones_refused() -> None:
    assert parse_timestamp("2026-11-17T09:15:00+05:30") == ist_epoch(DAY, time(9, 15))
    assert parse_timestamp("2026-11-17T03:45:00Z") == ist_epoch(DAY, time(9, 15))
    assert parse_timestamp("1763351100") == 1763351100
    assert parse_timestamp("1763351100.0") == 1763351100
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_timestamp("2026-11-17T09:15:00")
    with pytest.raises(ValueError, match="milliseconds"):
        parse_timestamp("1763351100000")
    with pytest.raises(ValueError, match="neither epoch seconds nor ISO 8601"):
        parse_timestamp("yesterday")


@pytest.mark.parametrize(
    ("line", "row", "reason"),
    [
        (5, "{ts},100,99,98,99.5,10", "high is below open or close"),
        (7, "{ts},100,101,100.5,100.2,10", "low is above open or close"),
        (9, "{ts},-1,101,99,100,10", "open must be a positive price"),
        (4, "{ts},100,101,99,100,-3", "volume must not be negative"),
        (6, "{ts},100,101,99,100,2.5", "volume must be a whole number"),
        (3, "{ts},100,101,99,abc,10", "close 'abc' is not a number"),
        (8, "2026-11-17T09:21:00,100,101,99,100,10", "timestamp .* has no UTC offset"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(
    tmp_path: Path, settings: Settings, line: int, row: str, reason: str
) -> None:
    rows = good_rows()
    ts = rows[line - 2].split(",")[0]
    rows[line - 2] = row.format(ts=ts)
    f = write_csv(tmp_path / "bad.csv", rows)
    conn = open_historical(settings)
    try:
        with pytest.raises(InputError, match=f"bad.csv line {line}: {reason}"):
            import_candles(conn, f, "NSE:SBIN-EQ", Resolution.M1)
    finally:
        conn.close()
    assert count(settings) == 0


def test_unsorted_and_duplicate_rows_are_refused(tmp_path: Path) -> None:
    rows = good_rows()
    rows[10], rows[11] = rows[11], rows[10]  # lines 12 and 13 swapped
    with pytest.raises(InputError, match=r"line 13: not sorted: earlier than line 12"):
        read_candles(write_csv(tmp_path / "a.csv", rows), Resolution.M1)
    rows = good_rows()
    rows[20] = rows[19]
    with pytest.raises(InputError, match=r"line 22: duplicate timestamp \(same as line 21\)"):
        read_candles(write_csv(tmp_path / "b.csv", rows), Resolution.M1)


def test_missing_columns_are_listed(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "c.csv", ["1,2,3,4,5"], header="timestamp,open,high,low,close")
    with pytest.raises(InputError, match="missing column\\(s\\) volume"):
        read_candles(f, Resolution.M1)


def test_daily_bars_are_stamped_at_ist_midnight(tmp_path: Path) -> None:
    # A source stamping daily bars at 00:00 UTC (05:30 IST), as the Fyers docs' sample does.
    days = get_calendar().trading_days(date(2026, 11, 16), date(2026, 11, 20))
    rows = [f"{d.isoformat()}T00:00:00Z,100,101,99,100.5,5000" for d in days]
    candles = read_candles(write_csv(tmp_path / "d.csv", rows), Resolution.D)
    assert candles.ts.tolist() == [ist_epoch(d) for d in days]


def test_parquet_with_tz_aware_timestamps(tmp_path: Path, settings: Settings) -> None:
    bars = get_calendar().bar_times(DAY, Resolution.M5)[:10]
    table = pa.table(
        {
            "Timestamp": pa.array((bars * 1000).tolist(), type=pa.timestamp("ms", tz="UTC")),
            "Open": [100.0] * 10,
            "High": [101.0] * 10,
            "Low": [99.0] * 10,
            "Close": [100.5] * 10,
            "Volume": list(range(10)),
            "oi": [0] * 10,
        }
    )
    f = tmp_path / "x.parquet"
    pq.write_table(table, f)
    conn = open_historical(settings)
    try:
        result = import_candles(conn, f, "MY:DATA", Resolution.M5)
        assert result.written == 10
        assert load_candles(conn, "MY:DATA", Resolution.M5).ts.tolist() == bars.tolist()
    finally:
        conn.close()


def test_parquet_bad_row_and_naive_timestamps(tmp_path: Path) -> None:
    bars = get_calendar().bar_times(DAY, Resolution.M1)[:5].tolist()
    data = {
        "timestamp": bars,
        "open": [100.0, 100, 100, 100, 100],
        "high": [101.0, 101, 99, 101, 101],
        "low": [99.0] * 5,
        "close": [100.0] * 5,
        "volume": [1] * 5,
    }
    f = tmp_path / "bad.parquet"
    pq.write_table(pa.table(data), f)
    with pytest.raises(InputError, match=r"bad\.parquet row 3: high is below open or close"):
        read_candles(f, Resolution.M1)
    naive = dict(data, high=[101.0] * 5)
    naive["timestamp"] = pa.array([b * 1000 for b in bars], type=pa.timestamp("ms"))
    pq.write_table(pa.table(naive), f)
    with pytest.raises(InputError, match="has no time zone"):
        read_candles(f, Resolution.M1)


def test_cli_import(tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    f = write_csv(tmp_path / "sbin.csv", good_rows(12))
    code = main(["data", "import", str(f), "--symbol", "NSE:SBIN-EQ", "--resolution", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "12 candles of NSE:SBIN-EQ 1" in out.out
    assert "12 new, 0 replaced" in out.out
    assert "lot size 1 and tick size 0.05" in out.out
    rows = good_rows(12)
    rows[3] = rows[3].replace(",1003", ",-1")
    bad = write_csv(tmp_path / "bad.csv", rows)
    code = main(["data", "import", str(bad), "--symbol", "NSE:TCS-EQ", "--resolution", "5m"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "error: bad.csv line 5: volume must not be negative; nothing was imported"
    ]
    assert count(settings) == 12


def test_candles_off_the_calendar_grid_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 5-minute bars stamped one minute late (09:16, 09:21, ...): off the calendar's 5-minute grid.
    bars = get_calendar().bar_times(DAY, Resolution.M5)[:10] + 60
    f = write_csv(tmp_path / "late.csv", [f"{t},100,101,99,100,5" for t in bars.tolist()])
    assert main(["data", "import", str(f), "--symbol", "NSE:SBIN-EQ", "--resolution", "5"]) == 0
    assert "note: 10 candles are not at bar open times" in capsys.readouterr().out
