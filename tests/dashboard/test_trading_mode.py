"""The live page's money-at-risk parts through Streamlit's AppTest: PAPER or REAL on every view,
the kill switch (pull, refuse a wrong phrase, unlock), a REAL start only through the typed
account id, and the session's orders with their statuses."""

from __future__ import annotations

from datetime import date
from datetime import time as dtime

import pytest
from streamlit.testing.v1 import AppTest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings
from fyerstrade.live.killswitch import KillSwitch
from fyerstrade.store.db import connect
from plugins.dashboard import page_app

OPEN = ist_epoch(date(2026, 11, 23), dtime(9, 15))


def _config(settings: Settings, broker: str) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.live_config_file.write_text(
        f"strategy: sma_crossover\nsymbols: [NSE:SBIN-EQ]\nbroker: {broker}\n", encoding="utf-8"
    )


def _texts(at: AppTest) -> str:
    parts = (
        [e.value for e in at.error] + [i.value for i in at.info] + [m.value for m in at.markdown]
    )
    parts += [w.value for w in at.warning] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


def test_paper_banner_and_the_kill_switch(settings: Settings) -> None:
    _config(settings, "paper")
    at = page_app("paper")
    text = _texts(at)
    assert "**PAPER**" in text and "REAL ORDERS" not in text
    assert at.title[0].value == "Paper trading"
    at.text_input(key="ks-reason").set_value("too volatile")
    at.button(key="ks-pull").click().run()
    assert not at.exception
    state = KillSwitch(settings.data_dir).state()
    assert state.active and state.reason == "too volatile" and state.source == "dashboard"
    assert "KILL SWITCH ON" in _texts(at)
    at.text_input(key="ks-unlock-text").set_value("unlock")
    at.button(key="ks-unlock").click().run()
    assert KillSwitch(settings.data_dir).active
    assert any("type UNLOCK exactly" in e.value for e in at.error)
    at.text_input(key="ks-unlock-text").set_value("UNLOCK")
    at.button(key="ks-unlock").click().run()
    assert not KillSwitch(settings.data_dir).active
    assert any("orders allowed" in s.value for s in at.success)


def test_real_setup_is_unmistakable_and_has_no_plain_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FYERSTRADE_REAL_TRADING", "true")
    _config(settings, "fyers")
    at = page_app("paper")
    assert at.title[0].value == "Live trading — REAL orders"
    assert "REAL ORDERS" in _texts(at)
    assert not [b for b in at.button if b.key == "pt-start"]
    # no login: the confirmation cannot even be prepared, and says why
    assert any("Cannot prepare a real start" in e.value for e in at.error)


def test_orders_with_their_statuses(settings: Settings) -> None:
    _config(settings, "paper")
    conn = connect(settings.trading_db)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO live_orders (order_id, broker_id, session_id, symbol, side, quantity,"
                " order_type, product, limit_price, stop_price, status, filled_quantity,"
                " avg_fill_price, reject_reason, tag, created_ts, updated_ts)"
                " VALUES (?, ?, '2026-11-23#1', 'NSE:SBIN-EQ', ?, ?, ?, 'INTRADAY', ?, NULL, ?,"
                " ?, ?, ?, 'entry', ?, ?)",
                [
                    ("o-1", "26112300000001", "BUY", 10, "MARKET", None, "FILLED", 10, 801.2,
                     "", OPEN + 60, OPEN + 61),
                    ("o-2", "26112300000002", "BUY", 3000, "LIMIT", 800.0, "PARTIALLY_FILLED",
                     1131, 800.0, "", OPEN + 120, OPEN + 180),
                    ("o-3", "", "SELL", 10, "MARKET", None, "REJECTED", 0, 0.0,
                     "RED:Margin Shortfall:INR 5,000.00", OPEN + 240, OPEN + 241),
                ],
            )  # fmt: skip
    finally:
        conn.close()
    at = page_app("paper")
    frames = [d.value for d in at.dataframe if "status" in d.value.columns]
    assert frames, "no orders table"
    orders = frames[0]
    assert list(orders["status"]) == ["REJECTED", "PARTIALLY_FILLED", "FILLED"]
    assert list(orders["filled"]) == [0, 1131, 10]
    assert orders["reason"].iloc[0].startswith("RED:Margin Shortfall")
