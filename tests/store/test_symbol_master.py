"""Symbol master replacement, lot-size history by date, search."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from fyerstrade.domain import Instrument, InstrumentKind, OptionType, Segment
from fyerstrade.errors import InputError
from fyerstrade.store.symbols import (
    SymbolMasterRow,
    get_instrument,
    lot_size_history,
    replace_symbol_master,
    search_symbols,
    segment_from_codes,
    symbol_count,
)

SBIN = Instrument(
    "NSE:SBIN-EQ",
    "STATE BANK OF INDIA",
    isin="INE062A01020",
    tick_size=0.1,
    fytoken="10100000003045",
)
INFY = Instrument("NSE:INFY-EQ", "INFOSYS LIMITED", isin="INE009A01021", fytoken="1010000001594")
NIFTY = Instrument("NSE:NIFTY50-INDEX", "NIFTY 50", kind=InstrumentKind.INDEX, lot_size=0)


def fut(lot: int) -> Instrument:
    return Instrument(
        "NSE:NIFTY26SEPFUT",
        "NIFTY 29 Sep 26 FUT",
        kind=InstrumentKind.FUTURE,
        segment=Segment.NSE_FO,
        lot_size=lot,
        tick_size=0.1,
        expiry=1_790_676_600,
        underlying="NIFTY",
        fytoken="1011260929035086",
    )


def opt(lot: int) -> Instrument:
    return Instrument(
        "NSE:NIFTY26SEP29200CE",
        "NIFTY 29 Sep 26 29200 CE",
        kind=InstrumentKind.OPTION,
        segment=Segment.NSE_FO,
        lot_size=lot,
        expiry=1_790_676_600,
        strike=29200.0,
        option_type=OptionType.CE,
        underlying="NIFTY",
    )


def test_replace_keeps_other_segments_and_round_trips_fields(hist_conn: sqlite3.Connection) -> None:
    assert replace_symbol_master(hist_conn, [SBIN, INFY, NIFTY], ["NSE_CM"], date(2026, 1, 5)) == 3
    raw = SymbolMasterRow(
        fut(65),
        exchange_instrument_type=11,
        trading_session="0915-1540|1815-1915:",
        last_update="2026-09-09",
        scrip_code=35086,
        underlying_scrip_code=26000,
        underlying_fytoken="101000000026000",
        reserved_1="None",
        reserved_2=0,
        reserved_3=0.0,
    )
    assert replace_symbol_master(hist_conn, [raw, opt(65)], [Segment.NSE_FO], date(2026, 1, 5)) == 2
    assert symbol_count(hist_conn) == 5
    assert symbol_count(hist_conn, "NSE_CM") == 3 and symbol_count(hist_conn, "NSE_FO") == 2

    assert get_instrument(hist_conn, "NSE:SBIN-EQ") == SBIN
    assert get_instrument(hist_conn, "NSE:NIFTY26SEP29200CE") == opt(65)
    assert get_instrument(hist_conn, "NSE:NIFTY26SEPFUT") == fut(65)
    assert get_instrument(hist_conn, "NSE:NOPE-EQ") is None
    row = hist_conn.execute(
        "SELECT exchange, segment, exchange_instrument_type, trading_session, scrip_code, "
        "underlying_fytoken FROM symbol_master WHERE symbol = 'NSE:NIFTY26SEPFUT'"
    ).fetchone()
    assert row == (10, 11, 11, "0915-1540|1815-1915:", 35086, "101000000026000")

    # a new CM download replaces CM only: INFY delisted, F&O untouched
    replace_symbol_master(hist_conn, [SBIN, NIFTY], ["NSE_CM"], date(2026, 1, 6))
    assert get_instrument(hist_conn, "NSE:INFY-EQ") is None
    assert symbol_count(hist_conn, "NSE_FO") == 2


def test_lot_size_in_force_on_a_date(hist_conn: sqlite3.Connection) -> None:
    replace_symbol_master(hist_conn, [fut(75)], ["NSE_FO"], date(2025, 1, 2))
    replace_symbol_master(hist_conn, [fut(75)], ["NSE_FO"], date(2025, 3, 3))  # unchanged
    replace_symbol_master(hist_conn, [fut(65)], ["NSE_FO"], date(2025, 12, 30))
    assert lot_size_history(hist_conn, "NSE:NIFTY26SEPFUT") == [
        (date(2025, 1, 2), 75),
        (date(2025, 12, 30), 65),
    ]
    ticker = "NSE:NIFTY26SEPFUT"

    def lot(on: date | None) -> int:
        ins = get_instrument(hist_conn, ticker, on)
        assert ins is not None
        return ins.lot_size

    assert lot(None) == 65
    assert lot(date(2025, 6, 1)) == 75
    assert lot(date(2025, 12, 29)) == 75
    assert lot(date(2025, 12, 30)) == 65
    assert lot(date(2026, 5, 1)) == 65
    assert lot(date(2024, 6, 1)) == 65  # before the history starts: the current one


def test_bad_input_changes_nothing(hist_conn: sqlite3.Connection) -> None:
    replace_symbol_master(hist_conn, [SBIN], ["NSE_CM"], date(2026, 1, 5))
    with pytest.raises(InputError, match="NSE:NIFTY26SEPFUT is in segment NSE_FO"):
        replace_symbol_master(hist_conn, [INFY, fut(65)], ["NSE_CM"], date(2026, 1, 6))
    with pytest.raises(InputError, match="lists NSE:INFY-EQ twice"):
        replace_symbol_master(hist_conn, [INFY, INFY], ["NSE_CM"], date(2026, 1, 6))
    with pytest.raises(InputError, match="unknown segment"):
        replace_symbol_master(hist_conn, [INFY], ["BSE_CM"], date(2026, 1, 6))
    assert symbol_count(hist_conn) == 1 and get_instrument(hist_conn, "NSE:SBIN-EQ") == SBIN


def test_search_ranks_exact_then_prefix_and_matches_name_and_underlying(
    hist_conn: sqlite3.Connection,
) -> None:
    replace_symbol_master(hist_conn, [SBIN, INFY, NIFTY], ["NSE_CM"], date(2026, 1, 5))
    replace_symbol_master(hist_conn, [fut(65), opt(65)], ["NSE_FO"], date(2026, 1, 5))
    assert [i.symbol for i in search_symbols(hist_conn, "infosys")] == ["NSE:INFY-EQ"]
    assert [i.symbol for i in search_symbols(hist_conn, "sbin-eq")] == ["NSE:SBIN-EQ"]
    nifty = [i.symbol for i in search_symbols(hist_conn, "nifty")]
    assert set(nifty) == {"NSE:NIFTY50-INDEX", "NSE:NIFTY26SEPFUT", "NSE:NIFTY26SEP29200CE"}
    assert len(search_symbols(hist_conn, "nifty", limit=2)) == 2
    assert search_symbols(hist_conn, "%") == [] and search_symbols(hist_conn, "  ") == []


def test_fyers_codes_map_to_segments() -> None:
    assert segment_from_codes(10, 10) is Segment.NSE_CM
    assert segment_from_codes(10, 11) is Segment.NSE_FO
    with pytest.raises(ValueError, match="12/20"):
        segment_from_codes(12, 20)
