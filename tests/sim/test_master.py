"""The symbol master files: 21 headerless CSV columns and the JSON keys of fyers-api.md §7."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import requests

from fyerstrade.calendar import get_calendar
from fyerstrade.sim import SimServer

IST = ZoneInfo("Asia/Kolkata")
JSON_KEYS = {
    "fyToken", "isin", "exSymbol", "symDetails", "symTicker", "exchange", "segment", "exSymName",
    "exToken", "exSeries", "optType", "underSym", "underFyTok", "exInstType", "minLotSize",
    "tickSize", "tradingSession", "lastUpdate", "expiryDate", "strikePrice", "qtyFreeze",
    "tradeStatus", "currencyCode", "upperPrice", "lowerPrice", "faceValue", "qtyMultiplier",
    "previousClose", "previousOi", "asmGsmVal", "exchangeName", "symbolDesc", "originalExpDate",
    "is_mtf_tradable", "mtf_margin", "stream",
}  # fmt: skip


def _valid(when: datetime, day: int) -> bool:
    try:
        date(when.year, when.month, day)
    except ValueError:
        return False
    return True


def _rows(sim: SimServer, segment: str) -> list[list[str]]:
    resp = requests.get(f"{sim.url}/sym_details/{segment}.csv", timeout=10)
    assert resp.status_code == 200
    assert not resp.text.startswith("Fytoken")  # headerless, like Fyers' files
    return list(csv.reader(io.StringIO(resp.text)))


def test_cash_master(sim: SimServer) -> None:
    rows = _rows(sim, "NSE_CM")
    assert 50 <= len(rows) <= 60
    assert {len(r) for r in rows} == {21}
    by_ticker = {r[9]: r for r in rows}
    sbin = by_ticker["NSE:SBIN-EQ"]
    assert sbin[0] == "10100000003045" and sbin[1] == "STATE BANK OF INDIA"
    assert (int(sbin[2]), int(sbin[3]), float(sbin[4])) == (0, 1, 0.1)
    assert sbin[8] == "" and float(sbin[15]) == -1.0 and sbin[16] == "XX"
    nifty = by_ticker["NSE:NIFTY50-INDEX"]
    assert (int(nifty[2]), int(nifty[3])) == (10, 0)  # index rows: type 10, lot 0
    assert nifty[0] == "101000000026000"
    assert "NSE:NIFTYBANK-INDEX" in by_ticker and "NSE:M&M-EQ" in by_ticker


def test_fo_master_lot_sizes_and_expiries(sim: SimServer) -> None:
    rows = _rows(sim, "NSE_FO")
    assert {len(r) for r in rows} == {21}
    futures = {r[9]: r for r in rows if r[2] == "11"}
    assert set(futures) == {
        "NSE:NIFTY26NOVFUT", "NSE:NIFTY26DECFUT", "NSE:BANKNIFTY26NOVFUT", "NSE:BANKNIFTY26DECFUT",
    }  # fmt: skip
    lots = {r[13]: int(r[3]) for r in rows}
    assert lots == {"NIFTY": 65, "BANKNIFTY": 30}
    cal = get_calendar()
    for row in rows:
        expiry = datetime.fromtimestamp(int(row[8]), IST)
        assert (expiry.hour, expiry.minute) == (15, 30)
        assert cal.is_trading_day(expiry.date())
        # the last Tuesday of the month, or the trading day before it when NSE is shut
        tuesday = max(
            d
            for d in (
                date(expiry.year, expiry.month, n) for n in range(22, 32) if _valid(expiry, n)
            )
            if d.weekday() == 1
        )
        want = tuesday if cal.is_trading_day(tuesday) else cal.previous_trading_day(tuesday)
        assert expiry.date() == want
        month = f"{expiry:%y}{expiry:%b}".upper()
        strike = f"{int(float(row[15]))}" if row[16] != "XX" else ""
        kind = row[16] if row[16] != "XX" else "FUT"
        assert row[9] == f"NSE:{row[13]}{month}{strike}{kind}"
        assert row[0].startswith("1011" + expiry.strftime("%y%m%d"))
    # 2026-11-24 (last Tuesday) is Guru Nanak Jayanti: the November expiry moves to Monday 23rd.
    nov = datetime.fromtimestamp(int(futures["NSE:NIFTY26NOVFUT"][8]), IST)
    assert nov.date().isoformat() == "2026-11-23"
    options = [r for r in rows if r[2] == "14"]
    nifty_strikes = sorted({float(r[15]) for r in options if r[13] == "NIFTY"})
    assert len(nifty_strikes) == 21
    assert set(np.diff(nifty_strikes)) == {50.0}
    bank_strikes = sorted({float(r[15]) for r in options if r[13] == "BANKNIFTY"})
    assert set(np.diff(bank_strikes)) == {100.0}
    assert {r[16] for r in options} == {"CE", "PE"}


def test_json_masters_have_the_documented_keys(sim: SimServer) -> None:
    for segment in ("NSE_CM", "NSE_FO"):
        resp = requests.get(f"{sim.url}/sym_details/{segment}_sym_master.json", timeout=10)
        master = resp.json()
        csv_tickers = {r[9] for r in _rows(sim, segment)}
        assert set(master) == csv_tickers
        for ticker, entry in master.items():
            assert set(entry) == JSON_KEYS
            assert entry["symTicker"] == ticker
    fo = requests.get(f"{sim.url}/sym_details/NSE_FO_sym_master.json", timeout=10).json()
    assert fo["NSE:BANKNIFTY26DECFUT"]["minLotSize"] == 30


def test_unknown_master_file_is_404(sim: SimServer) -> None:
    assert requests.get(f"{sim.url}/sym_details/MCX_COM.csv", timeout=10).status_code == 404


def test_index_name_map_agrees_with_the_sdk_bundled_map(sim: SimServer) -> None:
    import json
    from pathlib import Path

    from fyers_apiv3 import FyersWebsocket

    served = requests.get(f"{sim.url}/sym_details/index_hsm_mapping.json", timeout=10).json()
    bundled = json.loads((Path(FyersWebsocket.__file__).parent / "map.json").read_text())
    assert set(served) == {"NSE:NIFTY50-INDEX", "NSE:NIFTYBANK-INDEX"}
    for symbol, name in served.items():
        assert bundled["index_dict"][symbol] == name
