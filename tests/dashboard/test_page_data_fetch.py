"""The Data page's fetch form against the simulator (real SDK over HTTP on 127.0.0.1)."""

from __future__ import annotations

from datetime import date

import pytest

from fyerstrade.calendar import get_calendar
from fyerstrade.config import load_settings
from fyerstrade.domain import Resolution
from fyerstrade.fyers.auth import login
from fyerstrade.sim import SimServer
from fyerstrade.store.candles import candle_stats
from fyerstrade.store.db import connect
from plugins.dashboard import page_app


@pytest.fixture
def logged_in(sim_env: SimServer) -> SimServer:
    login(
        load_settings(env_file=None), echo=lambda _: None, prompt=lambda _: "", open_browser=False
    )
    return sim_env


def test_fetch_form_fills_the_store_and_the_coverage_table(logged_in: SimServer) -> None:
    at = page_app("data")
    at.text_area(key="fetch-symbols").set_value("nse:sbin-eq, NSE:TCS-EQ")
    at.multiselect(key="fetch-resolutions").set_value([Resolution.D, Resolution.M5])
    at.date_input(key="fetch-from").set_value(date(2026, 11, 2))
    at.date_input(key="fetch-to").set_value(date(2026, 11, 20))
    at.button(key="fetch-submit").click().run()
    assert not at.exception, at.exception
    assert not [e.value for e in at.error]
    assert any("candles added" in s.value for s in at.success)
    conn = connect(load_settings(env_file=None).historical_db)
    counts = {(s.symbol, s.resolution.value): s.count for s in candle_stats(conn)}
    conn.close()
    cal = get_calendar()
    bars = int(cal.expected_bars(date(2026, 11, 2), date(2026, 11, 20), Resolution.M5).size)
    days = len(cal.trading_days(date(2026, 11, 2), date(2026, 11, 20)))
    assert counts == {
        ("NSE:SBIN-EQ", "5"): bars,
        ("NSE:SBIN-EQ", "D"): days,
        ("NSE:TCS-EQ", "5"): bars,
        ("NSE:TCS-EQ", "D"): days,
    }
    at.run()  # the coverage table now lists what was fetched
    assert len(at.dataframe[0].value) == 4


def test_fetch_without_login_says_what_to_run(sim_env: SimServer) -> None:
    at = page_app("data")
    at.text_area(key="fetch-symbols").set_value("NSE:SBIN-EQ")
    at.button(key="fetch-submit").click().run()
    assert not at.exception, at.exception
    assert any("fyerstrade auth login" in e.value for e in at.error)


def test_symbol_master_search_shows_lot_and_tick_size(logged_in: SimServer) -> None:
    from fyerstrade.data.symbols import refresh_symbol_master

    refresh_symbol_master(load_settings(env_file=None))
    at = page_app("data")
    at.text_input(key="symbol-search").set_value("nifty50").run()
    assert not at.exception, at.exception
    found = at.dataframe[-1].value
    assert {"symbol", "lot size", "tick size", "expiry"} <= set(found.columns)
    assert found["symbol"].iloc[0] == "NSE:NIFTY50-INDEX"
    at.text_input(key="symbol-search").set_value("fut").run()
    futures = at.dataframe[-1].value
    assert len(futures) > 0 and set(futures["kind"]) == {"FUTURE"}
    assert (futures["lot size"] > 1).all() and (futures["expiry"] != "").all()
