"""Dashboard details a trader notices (issue 13.8): margin instead of a negative cash figure on
the paper page, coloured P&L, the index first when searching "NIFTY"."""

from __future__ import annotations

from datetime import date

import pandas as pd

from fyerstrade.config import Settings
from fyerstrade.dashboard.pages.paper import margin_figures
from fyerstrade.dashboard.results_view import LOSS_COLOUR, PROFIT_COLOUR, pnl_styled
from fyerstrade.domain import Instrument, InstrumentKind, OptionType, Segment
from fyerstrade.live.status import EngineStatus
from fyerstrade.store.db import open_historical
from fyerstrade.store.symbols import replace_symbol_master, search_symbols


def test_margin_used_and_available_under_leverage() -> None:
    """A 5x intraday long of ₹5,00,000 on ₹1,00,000 leaves cash at -₹4,00,000: the page shows
    ₹1,00,000 margin used and what is left, not the negative cash."""
    status = EngineStatus(
        equity=101_000.0,
        cash=-400_000.0,
        positions=[
            {"symbol": "NSE:SBIN-EQ", "quantity": 500, "avg_price": 1000.0, "product": "INTRADAY"},
            {"symbol": "NSE:TCS-EQ", "quantity": 0, "avg_price": 3000.0, "product": "CNC"},
        ],
    )
    used, available = margin_figures(status, 5.0)
    assert used == 100_000.0 and available == 1_000.0
    held = {"symbol": "NSE:TCS-EQ", "quantity": 10, "avg_price": 3000.0, "product": "CNC"}
    cnc = EngineStatus(equity=50_000.0, positions=[held])
    assert margin_figures(cnc, 5.0) == (30_000.0, 20_000.0)


def test_pnl_is_coloured() -> None:
    frame = pd.DataFrame({"pnl": [12.5, -3.0, 0.0]})
    html = pnl_styled(frame).to_html()
    assert PROFIT_COLOUR in html and LOSS_COLOUR in html


def test_searching_nifty_lists_the_index_first(settings: Settings) -> None:
    expiry = int(pd.Timestamp("2026-12-29 15:30", tz="Asia/Kolkata").timestamp())
    options = [
        Instrument(f"NSE:NIFTY26DEC{k}CE", name="NIFTY 26 Dec", kind=InstrumentKind.OPTION,
                   segment=Segment.NSE_FO, lot_size=65, strike=float(k),
                   option_type=OptionType.CE, underlying="NIFTY", expiry=expiry)
        for k in range(24000, 26500, 50)
    ]  # fmt: skip
    index = Instrument("NSE:NIFTY50-INDEX", name="NIFTY 50", kind=InstrumentKind.INDEX)
    conn = open_historical(settings)
    try:
        replace_symbol_master(conn, [*options, index], ["NSE_CM", "NSE_FO"], date(2026, 12, 1))
        found = search_symbols(conn, "NIFTY", limit=50)
    finally:
        conn.close()
    assert found[0].symbol == "NSE:NIFTY50-INDEX"
    assert len(found) == 50
