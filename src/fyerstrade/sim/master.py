"""The symbol master files Fyers publishes under ``/sym_details/`` (fyers-api.md §7).

``NSE_CM.csv`` / ``NSE_FO.csv``: headerless CSV, exactly 21 columns per row, in the order of
§7.2. ``NSE_CM_sym_master.json`` / ``NSE_FO_sym_master.json``: a dict keyed by ticker with the
§7.3 keys. Both are rendered from the simulator's universe on the sim clock's date, so lot
sizes, tick sizes and expiries agree with what history and quotes serve.
``index_hsm_mapping.json``: index ticker → the index name the data socket subscribes with.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from fyerstrade.sim.universe import SimInstrument, Universe

SEGMENTS = {"NSE_CM": 10, "NSE_FO": 11}
INDEX_MAP_FILE = "index_hsm_mapping.json"
# Index ticker -> the exchange's index name the data socket subscribes with (as in the SDK's
# bundled map.json); the SDK fetches this file once per process.
INDEX_HSM_NAMES = {"NSE:NIFTY50-INDEX": "Nifty 50", "NSE:NIFTYBANK-INDEX": "Nifty Bank"}
CASH_SESSION = "0915-1530|1815-1915:"
FO_SESSION = "0915-1530|1815-1915:"


def _row(inst: SimInstrument, day: date) -> list[str]:
    return [
        inst.fytoken,
        inst.name,
        str(inst.instrument_type),
        str(inst.lot),
        f"{inst.tick}",
        inst.isin,
        FO_SESSION if inst.is_derivative else CASH_SESSION,
        day.isoformat(),
        str(inst.expiry_ts) if inst.expiry else "",
        inst.symbol,
        "10",
        str(inst.segment),
        str(inst.token),
        inst.underlying,
        str(inst.underlying_token),
        f"{inst.strike:.1f}",
        inst.option_type,
        f"1010000000{inst.underlying_token}" if inst.is_derivative else "",
        "None",
        "0",
        "0.0",
    ]


def csv_master(universe: Universe, segment: str) -> bytes:
    """The headerless 21-column CSV of one segment (``NSE_CM`` or ``NSE_FO``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for inst in universe.segment(SEGMENTS[segment]):
        writer.writerow(_row(inst, universe.day))
    return buf.getvalue().encode()


def _json_entry(inst: SimInstrument, day: date) -> dict[str, Any]:
    ex_symbol = inst.underlying if inst.is_derivative else inst.symbol.split(":")[1]
    return {
        "fyToken": inst.fytoken,
        "isin": inst.isin,
        "exSymbol": ex_symbol,
        "symDetails": inst.name,
        "symTicker": inst.symbol,
        "exchange": 10,
        "segment": inst.segment,
        "exSymName": inst.underlying,
        "exToken": inst.token,
        "exSeries": "XX" if inst.is_derivative else "EQ" if inst.lot else "INDEX",
        "optType": inst.option_type,
        "underSym": inst.underlying,
        "underFyTok": f"1010000000{inst.underlying_token}" if inst.is_derivative else "",
        "exInstType": inst.instrument_type,
        "minLotSize": inst.lot,
        "tickSize": inst.tick,
        "tradingSession": FO_SESSION if inst.is_derivative else CASH_SESSION,
        "lastUpdate": day.isoformat(),
        "expiryDate": str(inst.expiry_ts) if inst.expiry else "",
        "strikePrice": inst.strike,
        "qtyFreeze": str(inst.lot * 24) if inst.is_derivative else "",
        "tradeStatus": 1,
        "currencyCode": "INR",
        "upperPrice": 0,
        "lowerPrice": 0,
        "faceValue": 1 if inst.kind == "EQ" else 0,
        "qtyMultiplier": 1,
        "previousClose": 0,
        "previousOi": 0,
        "asmGsmVal": "",
        "exchangeName": "NSE",
        "symbolDesc": inst.name,
        "originalExpDate": None,
        "is_mtf_tradable": 0,
        "mtf_margin": 0.0,
        "stream": "",
    }


def json_master(universe: Universe, segment: str) -> bytes:
    """The JSON master of one segment: ``{ticker: {...§7.3 keys...}}``."""
    entries = {
        inst.symbol: _json_entry(inst, universe.day) for inst in universe.segment(SEGMENTS[segment])
    }
    return json.dumps(entries, separators=(",", ":")).encode()


def index_map() -> bytes:
    """``index_hsm_mapping.json`` for the simulator's indices."""
    return json.dumps(INDEX_HSM_NAMES).encode()
