"""The Backtest page through Streamlit's AppTest: form validation messages and a real run."""

from __future__ import annotations

import base64
import re
from datetime import time
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fyerstrade.backtest.journal import list_runs, load_run
from fyerstrade.config import Settings
from fyerstrade.dashboard.pages.backtest import PREVIEW_DELAY_SECONDS
from fyerstrade.domain import Resolution
from fyerstrade.reporting.charts import ist_axis
from fyerstrade.store.db import connect
from plugins.dashboard import page_app


def _app() -> AppTest:
    return page_app("backtest")


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_empty_store_says_how_to_get_data(settings: Settings) -> None:
    at = _app()
    assert any("fyerstrade demo" in i.value for i in at.info)
    assert not at.button


def test_parameter_mistake_is_a_message_next_to_the_form(candle_store: Settings) -> None:
    at = _app()
    # the parameter form is generated from sma_crossover's declared params
    assert at.number_input(key="bt-param-sma_crossover-fast").value == 10
    assert at.number_input(key="bt-param-sma_crossover-slow").value == 30
    at.number_input(key="bt-param-sma_crossover-fast").set_value(40)
    at.button(key="bt-run").click().run()
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 1 and "fast" in errors[0] and "slow" in errors[0]
    assert not at.metric
    assert list_runs(connect(candle_store.trading_db)) == []


def test_missing_symbol_and_intraday_window_are_reported(candle_store: Settings) -> None:
    at = _app()
    at.multiselect(key="bt-symbols").set_value([])
    at.radio(key="bt-mode").set_value("intraday").run()
    at.time_input(key="bt-entry-start").set_value(time(14, 0))
    at.time_input(key="bt-entry-end").set_value(time(10, 0)).run()
    assert not at.exception
    errors = " | ".join(_errors(at))
    assert "pick at least one symbol" in errors
    assert "entry window" in errors
    assert at.button(key="bt-run").disabled  # Run waits until the form is right


def test_run_shows_metrics_charts_and_trades_and_saves_the_run(candle_store: Settings) -> None:
    at = _app()
    assert at.multiselect(key="bt-symbols").value == ["NSE:SBIN-EQ"]
    at.button(key="bt-run").click().run()
    assert not at.exception, at.exception
    assert not _errors(at)
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Total return", "CAGR", "Sharpe", "Max drawdown"]
    trades_df = at.dataframe[-1].value
    assert list(trades_df.columns)[:3] == ["symbol", "side", "quantity"]
    assert len(trades_df) > 0
    # a plain table (no pandas Styler: a display string and a style per cell cost the Run
    # 0.5-0.7 s), its P&L shown signed with two decimals
    trades_proto = at.dataframe[-1].proto
    assert not trades_proto.arrow_data.styler.uuid
    assert '"%+.2f"' in trades_proto.columns and "P&L" in trades_proto.columns
    runs = list_runs(connect(candle_store.trading_db))
    assert len(runs) == 1 and runs[0].strategy == "sma_crossover"
    assert runs[0].metrics["trades"] == len(trades_df)
    assert any(runs[0].run_id in s.value for s in at.success)
    charts = [c.proto.spec.replace(" ", "") for c in at.get("plotly_chart")]
    # the form's buy-and-hold preview, then equity, drawdown, one price chart for the one symbol
    assert len(charts) == 4
    assert "Buyandholdoverthepickeddates" in charts[0]
    price = charts[3]
    assert '"type":"candlestick"' in price
    assert '"name":"sma_fast"' in price and '"name":"sma_slow"' in price  # indicators drawn
    assert '"name":"longentry"' in price and '"name":"exit"' in price  # trades marked
    assert '"name":"cross"' not in price  # a -1/0/+1 signal is not a price level


def test_the_preview_comes_after_the_form_s_first_pass(
    candle_store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's first pass draws the form without the preview (plotly.js, which the browser
    loads with a page's first chart, would hold up drawing the form) and asks the browser for a
    timed pass; that pass, or any rerun, draws the preview and asks for no more."""
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    timers: list[float] = []
    enqueue = ForwardMsgQueue.enqueue

    def recording(self: ForwardMsgQueue, msg: Any) -> None:
        if msg.WhichOneof("type") == "auto_rerun":
            timers.append(msg.auto_rerun.interval)
        enqueue(self, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", recording)
    at = _app()  # the first pass
    assert at.button(key="bt-run")  # the form is drawn
    assert not at.get("plotly_chart")  # the preview is not (yet)
    assert timers == [pytest.approx(PREVIEW_DELAY_SECONDS)]
    at.run()  # the timer's pass (or the trader's first change)
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 1
    assert "Buy and hold" in at.get("plotly_chart")[0].proto.spec
    assert len(timers) == 1  # no timer asked for again


def test_the_form_previews_buy_and_hold_of_the_picked_symbols_and_dates(
    candle_store: Settings,
) -> None:
    """Before any run the form draws each picked symbol's close over the picked dates, as percent
    from its first close; it follows the picks and is left out when the dates are not usable."""
    import json
    from datetime import date

    from fyerstrade.data.bars import load_bars

    at = _app()
    at.multiselect(key="bt-symbols").set_value(["NSE:SBIN-EQ", "NSE:TCS-EQ"]).run()
    at.date_input(key="bt-start").set_value(date(2026, 10, 1))
    at.date_input(key="bt-end").set_value(date(2026, 10, 31)).run()
    assert not at.exception, at.exception
    resolution = Resolution(at.selectbox(key="bt-resolution").value)
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and not at.metric  # the preview only: nothing has run
    spec = json.loads(charts[0].proto.spec)
    assert spec["layout"]["title"]["text"] == "Buy and hold over the picked dates"
    lines = {t["name"]: _values(t["y"]) for t in spec["data"]}
    assert set(lines) == {"NSE:SBIN-EQ", "NSE:TCS-EQ"}
    conn = connect(candle_store.historical_db)
    loaded = load_bars(conn, list(lines), resolution, date(2026, 10, 1), date(2026, 10, 31))
    conn.close()
    for symbol, y in lines.items():
        close = loaded.bars[symbol].close
        assert y[0] == 0.0  # percent from the period's first close to its last
        assert y[-1] == pytest.approx((close[-1] / close[0] - 1.0) * 100.0)
    # the same figures as a table, exact (the thinning keeps first, last, lowest and highest)
    table = at.dataframe[0].value.set_index("symbol")
    assert list(table.index) == ["NSE:SBIN-EQ", "NSE:TCS-EQ"]
    for symbol, y in lines.items():
        bars = loaded.bars[symbol]
        row = table.loc[symbol]
        assert (row["first_close"], row["last_close"]) == (bars.close[0], bars.close[-1])
        assert (row["lowest_close"], row["highest_close"]) == (bars.close.min(), bars.close.max())
        assert row["buy_and_hold"] == pytest.approx(y[-1])
        assert str(row["from"]) == str(ist_axis([bars.ts[0]])[0]).replace("T", " ")
    at.date_input(key="bt-start").set_value(date(2026, 11, 5))
    at.date_input(key="bt-end").set_value(date(2026, 11, 1)).run()
    assert not at.get("plotly_chart")  # start after end: a form problem, no preview


def _values(encoded: Any) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed array ``{"dtype", "bdata"}``."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=np.dtype(encoded["dtype"]))
    return np.asarray(encoded, dtype=np.float64)


def test_dates_outside_the_stored_range_disable_run_until_the_stored_range_is_chosen(
    candle_store: Settings,
) -> None:
    """Dates are never changed silently: a range reaching outside what is stored (here after
    adding a symbol that starts later) disables Run with the reason, and one explicit click
    takes the stored range."""
    from datetime import date

    from fyerstrade.domain import Resolution
    from fyerstrade.store.candles import delete_candles

    at = _app()
    at.date_input(key="bt-start").set_value(date(2026, 9, 2)).run()
    conn = connect(candle_store.historical_db)
    delete_candles(conn, "NSE:TCS-EQ", Resolution.M5, 0, 1_790_000_000)  # TCS now starts later
    conn.close()
    at.multiselect(key="bt-symbols").set_value(["NSE:SBIN-EQ", "NSE:TCS-EQ"]).run()
    assert not at.exception, at.exception
    assert at.date_input(key="bt-start").value == date(2026, 9, 2)  # not moved behind our back
    assert at.button(key="bt-run").disabled
    errors = " | ".join(_errors(at))
    assert "2026-09-02 → 2026-11-20 reaches outside the stored candles (2026-09-22" in errors
    at.button(key="bt-use-stored").click().run()
    assert not at.exception, at.exception
    assert at.date_input(key="bt-start").value > date(2026, 9, 2)
    assert not at.button(key="bt-run").disabled and not _errors(at)
    at.button(key="bt-run").click().run()
    assert not at.exception, at.exception
    assert not _errors(at) and at.metric


def test_the_form_starts_with_the_one_default_and_a_tradable_symbol(
    candle_store: Settings,
) -> None:
    from fyerstrade.trading.defaults import RUN_DEFAULTS

    at = _app()
    assert at.radio(key="bt-mode").value == RUN_DEFAULTS.mode
    assert at.number_input(key="bt-capital").value == RUN_DEFAULTS.capital
    at.toggle(key="bt-options").set_value(True).run()
    assert at.number_input(key="bt-slip-ticks").value == RUN_DEFAULTS.slippage_ticks
    assert at.checkbox(key="bt-costs").value is RUN_DEFAULTS.costs


def test_costs_slippage_and_limits_one_line_until_asked_and_kept(
    candle_store: Settings,
) -> None:
    """The first pass draws one line of the run options, not their five inputs; the switch shows
    them; values changed there stay (and reach the run) after they are hidden again."""
    at = _app()
    keys = {w.key for w in [*at.number_input, *at.checkbox]}
    assert not keys & {
        "bt-costs",
        "bt-slip-ticks",
        "bt-slip-bps",
        "bt-max-loss",
        "bt-max-positions",
    }
    line = (
        "Indian trading costs on · no slippage · no daily loss limit · no limit on open positions"
    )
    assert line in [c.value for c in at.caption]
    at.toggle(key="bt-options").set_value(True).run()
    assert line not in [c.value for c in at.caption]
    at.checkbox(key="bt-costs").uncheck()
    at.number_input(key="bt-slip-bps").set_value(5.0)
    at.number_input(key="bt-max-positions").set_value(2).run()
    at.toggle(key="bt-options").set_value(False).run()
    assert not any(w.key == "bt-slip-bps" for w in at.number_input)
    changed = "no trading costs · slippage 0 ticks + 5 bps · no daily loss limit"
    changed += " · at most 2 open positions"
    assert changed in [c.value for c in at.caption]
    at.button(key="bt-run").click().run()
    assert not at.exception, at.exception
    assert not _errors(at)
    (run,) = list_runs(connect(candle_store.trading_db))
    stored = load_run(connect(candle_store.trading_db), run.run_id)
    assert stored.config["risk"] == {"max_daily_loss": None, "max_open_positions": 2}
    assert (stored.config["costs"], stored.config["slippage_bps"]) == (False, 5.0)
    assert at.toggle(key="bt-options").value is False  # still hidden after the run


def test_an_index_is_said_untradable_up_front(candle_store: Settings) -> None:
    from fyerstrade.dashboard.backtest_form import default_symbols

    assert default_symbols(["NSE:NIFTY50-INDEX", "NSE:SBIN-EQ"]) == ["NSE:SBIN-EQ"]
    _store_index(candle_store)
    at = _app()
    assert at.multiselect(key="bt-symbols").value == ["NSE:SBIN-EQ"]  # the index sorts first
    at.multiselect(key="bt-symbols").set_value(["NSE:NIFTY50-INDEX"]).run()
    assert at.button(key="bt-run").disabled
    assert any("an index cannot be traded" in e for e in _errors(at))
    at.multiselect(key="bt-symbols").set_value(["NSE:NIFTY50-INDEX", "NSE:SBIN-EQ"]).run()
    assert not at.button(key="bt-run").disabled
    assert any("orders on it are refused" in i.value for i in at.info)


def _store_index(settings: Settings) -> None:
    from fyerstrade.domain import Resolution
    from fyerstrade.store.candles import load_candles, upsert_candles

    conn = connect(settings.historical_db)
    try:
        for res in (Resolution.M5, Resolution.D):
            bars = load_candles(conn, "NSE:SBIN-EQ", res)
            upsert_candles(conn, "NSE:NIFTY50-INDEX", res, bars)
    finally:
        conn.close()


def test_refused_orders_are_said_on_the_page(candle_store: Settings) -> None:
    at = _app()
    at.number_input(key="bt-capital").set_value(100.0)  # cannot buy one ₹500 share
    at.radio(key="bt-sizing").set_value("fixed quantity").run()
    at.button(key="bt-run").click().run()
    assert not at.exception, at.exception
    notes = [w.value for w in at.warning]
    assert any(re.fullmatch(r"\d+ orders? refused: not enough free margin", n) for n in notes), (
        notes
    )


def test_a_coarser_resolution_is_offered_and_built(candle_store: Settings) -> None:
    at = _app()
    options = at.selectbox(key="bt-resolution").options
    assert "15 minutes" in options and "1 minute" not in options  # built from 5, not finer
    at.selectbox(key="bt-resolution").set_value(Resolution.M15).run()
    assert any("built from 5-minute bars" in c.value for c in at.caption)
    at.button(key="bt-run").click().run()
    assert not at.exception, at.exception
    assert not _errors(at) and at.metric


def test_a_broken_user_strategy_is_a_warning_not_a_crash(
    candle_store: Settings, tmp_path, monkeypatch
) -> None:
    folder = tmp_path / "user_strategies"
    folder.mkdir()
    (folder / "broken.py").write_text("import does_not_exist\n")
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(folder))
    at = _app()
    assert any("broken.py" in w.value for w in at.warning)
    assert at.button(key="bt-run")


BROKEN_STRATEGY = """
from fyerstrade.strategies.base import Strategy


class Explodes(Strategy):
    name = "explodes"
    description = "raises on its first bar"

    def on_data(self, ctx):
        raise ZeroDivisionError("boom")
"""


def test_a_strategy_that_raises_is_one_message(
    candle_store: Settings, tmp_path, monkeypatch
) -> None:
    folder = tmp_path / "user_strategies"
    folder.mkdir()
    (folder / "explodes.py").write_text(BROKEN_STRATEGY)
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(folder))
    at = _app()
    at.selectbox(key="bt-strategy").set_value("explodes").run()
    assert any("takes no parameters" in c.value for c in at.caption)
    at.button(key="bt-run").click().run()
    assert not at.exception, at.exception
    errors = _errors(at)
    assert len(errors) == 1 and "explodes" in errors[0] and "boom" in errors[0]
    assert "explodes.py:10 (raise ZeroDivisionError" in errors[0]  # its file and line
    assert not at.metric


def test_risk_limits_from_the_form_reach_the_run(candle_store: Settings) -> None:
    at = _app()
    at.toggle(key="bt-options").set_value(True).run()
    assert at.number_input(key="bt-max-loss").value is None  # no limit unless given
    assert at.number_input(key="bt-max-positions").value is None
    at.number_input(key="bt-max-loss").set_value(2500.0)
    at.number_input(key="bt-max-positions").set_value(1)
    at.button(key="bt-run").click().run()
    assert not at.exception, at.exception
    assert not _errors(at)
    (run,) = list_runs(connect(candle_store.trading_db))
    stored = load_run(connect(candle_store.trading_db), run.run_id)
    assert stored.config["risk"] == {"max_daily_loss": 2500.0, "max_open_positions": 1}
