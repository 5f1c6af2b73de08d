"""The Data page through AppTest: coverage table, heatmap, symbol search, login status."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from fyerstrade.config import Settings
from fyerstrade.fyers.tokens import TokenRecord, save_token
from plugins.dashboard import page_app


def _app() -> AppTest:
    return page_app("data")


def test_coverage_table_counts_the_missing_day(candle_store: Settings) -> None:
    at = _app()
    table = at.dataframe[0].value
    rows = {(r.symbol, r.resolution): r for r in table.itertuples()}
    assert set(rows) == {
        ("NSE:SBIN-EQ", "5 minutes"),
        ("NSE:SBIN-EQ", "daily"),
        ("NSE:TCS-EQ", "5 minutes"),
        ("NSE:TCS-EQ", "daily"),
    }
    sbin = rows[("NSE:SBIN-EQ", "5 minutes")]
    assert sbin.missing == 75  # one whole trading day of 5-minute bars removed
    assert "2026-10-15 09:15" in sbin._9  # the largest hole is that day
    assert rows[("NSE:TCS-EQ", "5 minutes")].missing == 0
    # the heatmap (finest stored resolution first: 5 minutes) covers the day with the hole
    heatmap = at.get("plotly_chart")[0].proto.spec
    assert '"type":"heatmap"' in heatmap.replace(" ", "")
    assert "NSE:SBIN-EQ" in heatmap and "2026-10-15" in heatmap


def test_empty_store_and_no_login(settings: Settings) -> None:
    at = _app()
    assert any("fyerstrade demo" in i.value for i in at.info)
    assert any("fyerstrade auth login" in w.value for w in at.warning)


def test_login_status_shows_validity_never_the_token(settings: Settings) -> None:
    token = "header.eyJleHAiOjQxMDI0NDQ4MDB9.secret-signature-value"
    save_token(
        settings.token_file,
        TokenRecord(
            access_token=token,
            app_id="SIM-100",
            issued_at=0,
            expires_at=4_102_444_800,
            name="SIM TRADER",
        ),
    )
    at = _app()
    text = " ".join(s.value for s in at.success)
    assert "SIM TRADER" in text and "valid until 2100-01-01" in text
    everything = str(at.main) + str(at.sidebar)
    assert "secret-signature-value" not in everything and token not in everything
