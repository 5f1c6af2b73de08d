"""The app script opens on the Backtest page (page switching is covered by the browser test:
AppTest switches only between file-based pages)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from fyerstrade.config import Settings
from fyerstrade.dashboard.launcher import APP_PATH


def test_app_opens_on_the_backtest_page(candle_store: Settings) -> None:
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Backtest"
    assert at.button(key="bt-run")
