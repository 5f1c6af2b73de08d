"""Symbol master: parsing recorded rows, loading both segments from the simulator through the CLI,
search, and that a broken, malformed or much smaller download leaves the stored table untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fyerstrade.cli import main
from fyerstrade.config import load_settings
from fyerstrade.data.symbols import parse_master, refresh_symbol_master
from fyerstrade.domain import InstrumentKind, OptionType, Segment
from fyerstrade.errors import DataError, RetryableError
from fyerstrade.sim import SimServer
from fyerstrade.store.db import open_historical
from fyerstrade.store.symbols import get_instrument, symbol_count

# Rows shaped like real Fyers files (reference §7.2): 21 columns, and an older 19-column row.
CM_ROWS = (
    "10100000003045,STATE BANK OF INDIA,0,1,0.1,INE062A01020,0915-1530|1815-1915:,2026-09-09,,"
    "NSE:SBIN-EQ,10,10,3045,SBIN,3045,-1.0,XX,,None,1,3.7\n"
    "101000000026000,NIFTY 50,10,0,0.05,,0915-1530|1815-1915:,2026-09-09,,"
    "NSE:NIFTY50-INDEX,10,10,26000,NIFTY50,26000,-1.0,XX,,None\n"
    "10100000099999,SOME DEBENTURE,2,1,0.01,INE000X01010,0915-1530|1815-1915:,2026-09-08,,"
    "NSE:SOMEDEB-N1,10,10,99999,SOMEDEB,99999,-1.0,XX,,None,0,0.0\n"
)
FO_ROWS = (
    "101126092935086,NIFTY 29 Sep 26 FUT,11,65,0.1,,0915-1540|1815-1915:,2026-09-09,1790676600,"
    "NSE:NIFTY26SEPFUT,10,11,35086,NIFTY,26000,-1.0,XX,101000000026000,None,0,0.0\n"
    "101126092935200,NIFTY 29 Sep 26 29200 CE,14,65,0.05,,0915-1540|1815-1915:,2026-09-09,"
    "1790676600,NSE:NIFTY2692929200CE,10,11,35200,NIFTY,26000,29200.0,CE,101000000026000,None,0,0.0\n"
)


def test_parse_maps_kinds_lots_strikes_and_expiry() -> None:
    cm = parse_master("NSE_CM", CM_ROWS)
    assert cm.skipped == 0 and len(cm.rows) == 3
    sbin, nifty, _ = (r.instrument for r in cm.rows)
    assert (sbin.symbol, sbin.kind, sbin.lot_size, sbin.tick_size) == (
        "NSE:SBIN-EQ",
        InstrumentKind.EQUITY,
        1,
        0.1,
    )
    assert sbin.isin == "INE062A01020" and sbin.fytoken == "10100000003045"
    assert sbin.strike is None and sbin.option_type is None and sbin.expiry is None
    assert nifty.kind is InstrumentKind.INDEX and nifty.segment is Segment.NSE_CM
    assert cm.rows[0].reserved_3 == 3.7 and cm.rows[1].reserved_3 is None  # 19-column row
    assert str(cm.as_of) == "2026-09-09"

    fo = parse_master("NSE_FO", FO_ROWS)
    fut, ce = (r.instrument for r in fo.rows)
    assert fut.kind is InstrumentKind.FUTURE and fut.lot_size == 65 and fut.expiry == 1790676600
    assert fut.underlying == "NIFTY" and fut.strike is None
    assert ce.kind is InstrumentKind.OPTION and ce.strike == 29200.0
    assert ce.option_type is OptionType.CE


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("10100000003045,SBIN,0,1,0.1,INE\n", r"line 1 is malformed \(6 columns"),
        (CM_ROWS.replace(",1,0.1,", ",x,0.1,", 1), "line 1 is malformed"),
        (CM_ROWS.replace(",10,10,3045", ",10,11,3045", 1), "do not belong to NSE_CM"),
        (CM_ROWS + CM_ROWS[:70], "line 4 is malformed"),  # cut off mid-row
    ],
)
def test_malformed_rows_are_named_by_line(text: str, problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        parse_master("NSE_CM", text)


def _counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT segment_name, COUNT(*) FROM symbol_master GROUP BY segment_name"
        ).fetchall()
    finally:
        conn.close()
    return {str(a): int(b) for a, b in rows}


def _dump(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM symbol_master ORDER BY symbol").fetchall()
    finally:
        conn.close()


def test_cli_loads_both_segments_and_searches(
    sim_env: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "symbols"]) == 0
    assert "NSE_CM" in capsys.readouterr().out
    settings = load_settings(env_file=None)
    counts = _counts(settings.historical_db)
    assert counts["NSE_CM"] > 40 and counts["NSE_FO"] > 100

    conn = open_historical(settings)
    try:
        fut = get_instrument(conn, "NSE:NIFTY26NOVFUT")
    finally:
        conn.close()
    assert fut is not None and fut.kind is InstrumentKind.FUTURE and fut.lot_size == 65
    assert fut.expiry is not None

    assert main(["data", "symbols", "--search", "NIFTY26NOV"]) == 0
    out = capsys.readouterr().out
    assert "NSE:NIFTY26NOVFUT" in out and "65" in out and "2026-11-2" in out


def test_broken_download_keeps_the_old_table(
    sim_env: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(env_file=None)
    refresh_symbol_master(settings)
    before = _dump(settings.historical_db)

    sim_env.faults.set(symbol_master_break=True)
    assert main(["data", "symbols"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "previous symbol master is unchanged" in err
    assert _dump(settings.historical_db) == before

    sim_env.faults.reset()  # the next good download replaces it again
    assert refresh_symbol_master(settings)["NSE_FO"] == _counts(settings.historical_db)["NSE_FO"]


def test_one_bad_segment_writes_nothing(sim_env: SimServer) -> None:
    settings = load_settings(env_file=None)
    refresh_symbol_master(settings, ["NSE_CM"])
    before = _dump(settings.historical_db)
    sim_env.faults.set(symbol_master_break=True)
    with pytest.raises(RetryableError, match="unchanged"):
        refresh_symbol_master(settings, ["NSE_CM", "NSE_FO"])
    assert _dump(settings.historical_db) == before


def test_much_smaller_master_needs_force(sim_env: SimServer) -> None:
    settings = load_settings(env_file=None)
    refresh_symbol_master(settings, ["NSE_CM"])
    conn = open_historical(settings)
    try:
        real = symbol_count(conn, "NSE_CM")
        # pretend the last master was twice as large
        conn.execute(
            "INSERT INTO symbol_master (fytoken, symbol, name, lot_size, tick_size, exchange, "
            "segment, kind, segment_name, updated_at) SELECT fytoken || 'x', symbol || 'X', name, "
            "lot_size, tick_size, exchange, segment, kind, segment_name, updated_at "
            "FROM symbol_master WHERE segment_name = 'NSE_CM'"
        )
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(DataError, match="below 80%"):
        refresh_symbol_master(settings, ["NSE_CM"])
    assert _counts(settings.historical_db)["NSE_CM"] == 2 * real
    assert refresh_symbol_master(settings, ["NSE_CM"], force=True) == {"NSE_CM": real}
    assert _counts(settings.historical_db)["NSE_CM"] == real


def test_unknown_segment_is_named(sim_env: SimServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "symbols", "--segment", "MCX_COM"]) == 2
    assert "MCX_COM" in capsys.readouterr().err


def test_a_single_502_from_the_master_host_is_retried(
    sim_env: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sim_env.faults.set(http_5xx=1)  # the first download answers a Cloudflare 502 page
    assert main(["data", "symbols", "--segment", "NSE_CM"]) == 0, capsys.readouterr().err
    assert sim_env.stats.requests["/sym_details/NSE_CM.csv"] == 2
    assert _counts(load_settings(env_file=None).historical_db)["NSE_CM"] > 40
