"""The Paper trading page through Streamlit's AppTest: the live config editor's validation and
saving, and the monitor over a real trading DB and status file written here."""

from __future__ import annotations

import re
import time
from datetime import date
from datetime import time as dtime

import pytest
from streamlit.testing.v1 import AppTest

from fyerstrade.calendar import ist_epoch
from fyerstrade.config import Settings
from fyerstrade.dashboard import paper_reads
from fyerstrade.domain import Instrument
from fyerstrade.live.config import LiveConfig, load_live_config, save_live_config
from fyerstrade.live.control import PidLock
from fyerstrade.live.status import EngineStatus, write_status
from fyerstrade.store.db import connect
from fyerstrade.store.symbols import replace_symbol_master
from plugins.dashboard import page_app

SESSION = "2026-11-23"
SBIN, TCS = "NSE:SBIN-EQ", "NSE:TCS-EQ"
#: The engine journals each run of a trading day (a restart is another run) as ``day#run``.
RUN_1, RUN_2 = f"{SESSION}#1", f"{SESSION}#2"
OPEN = ist_epoch(date(2026, 11, 23), dtime(9, 15))


@pytest.fixture
def master_store(candle_store: Settings) -> Settings:
    """The candle store plus a symbol master listing its two symbols."""
    conn = connect(candle_store.historical_db)
    try:
        replace_symbol_master(
            conn, [Instrument(s) for s in (SBIN, TCS)], ["NSE_CM"], date(2026, 11, 20)
        )
    finally:
        conn.close()
    return candle_store


def _app() -> AppTest:
    return page_app("paper")


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _fill_trading_db(settings: Settings) -> None:
    """A paper trading day in two runs (a restart in between): three fills, an open position,
    equity, log lines; and one fill of an earlier day."""
    conn = connect(settings.trading_db)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO live_paper_trades (session_id, order_id, fill_seq, ts, symbol, side,"
                " quantity, price, costs, product, tag, strategy, realized_pnl)"
                " VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, 'INTRADAY', ?, 'sma_crossover', ?)",
                [
                    (RUN_1, "o-1", OPEN + 600, SBIN, "BUY", 10, 801.25, 4.1, "entry", 0),
                    (RUN_1, "o-2", OPEN + 1200, SBIN, "SELL", 10, 806.5, 4.2, "exit", 44.2),
                    (RUN_2, "o-3", OPEN + 1500, TCS, "BUY", 3, 3520.0, 3.0, "entry", 0),
                    ("2026-11-20#1", "o-0", OPEN - 3 * 86400, TCS, "BUY", 1, 3400.0, 1.0, "x", 0),
                ],
            )
            conn.execute(
                "INSERT INTO live_positions (symbol, quantity, avg_price, realized_pnl, product,"
                " opened_ts, updated_ts, session_id) VALUES"
                " ('NSE:TCS-EQ', 3, 3520.0, 0, 'INTRADAY', ?, ?, ?)",
                (OPEN + 1500, OPEN + 1500, RUN_2),
            )
            conn.executemany(
                "INSERT INTO pt_portfolio_log (session_id, ts, equity, cash, exposure,"
                " realized_pnl, unrealized_pnl) VALUES (?, ?, ?, ?, 0, 0, 0)",
                [
                    (RUN_1 if i < 20 else RUN_2, OPEN + 60 * i, 100_000.0 + 5 * i, 100_000.0)
                    for i in range(40)
                ],
            )
            conn.executemany(
                "INSERT INTO pt_live_debug_log (ts, level, source, symbol, message)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (OPEN, "INFO", "engine", None, "session started"),
                    (OPEN + 5, "DEBUG", "engine", None, "bar closed NSE:SBIN-EQ 09:15"),
                    (OPEN + 600, "WARNING", "feed", "NSE:SBIN-EQ", "stall: reconnecting"),
                    (OPEN + 700, "ERROR", "strategy", "NSE:TCS-EQ", "strategy raised ValueError"),
                ],
            )
    finally:
        conn.close()


def _status(state: str, **kw: object) -> EngineStatus:
    now = time.time()
    base: dict[str, object] = {
        "state": state,
        "started_at": now - 125,
        "updated_at": now,
        "session_id": SESSION,
        "strategy": "sma_crossover",
        "symbols": ["NSE:SBIN-EQ", "NSE:TCS-EQ"],
        "market_time": OPEN + 1800,
        "last_tick_ts": OPEN + 1799,
        "ticks": 12_345,
        "bars": 60,
        "trades": 3,
        "equity": 100_195.0,
        "cash": 89_440.0,
        "day_pnl": 195.0,
        "positions": [
            {
                "symbol": "NSE:TCS-EQ",
                "quantity": 3,
                "avg_price": 3520.0,
                "last_price": 3531.5,
                "unrealized_pnl": 34.5,
                "product": "INTRADAY",
            }
        ],
    }
    base.update(kw)
    return EngineStatus(**base)  # type: ignore[arg-type]


# ---- the config editor -------------------------------------------------------------------


def test_no_config_shows_defaults_and_a_stopped_engine(settings: Settings) -> None:
    at = _app()
    assert at.title[0].value == "Paper trading"
    assert any("No live config yet" in i.value for i in at.info)
    assert at.selectbox(key="lc-strategy").value == "sma_crossover"
    assert at.number_input(key="lc-param-sma_crossover-fast").value == 10
    assert at.button(key="pt-start").disabled is False
    assert at.button(key="pt-stop").disabled is True
    assert any("stopped" in m.value for m in at.markdown)
    assert any("No paper session recorded yet" in c.value for c in at.caption)


def test_out_of_range_parameter_is_one_line_and_nothing_is_saved(candle_store: Settings) -> None:
    at = _app()
    at.number_input(key="lc-param-sma_crossover-fast").set_value(0)
    at.button(key="lc-save").click().run()
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 1
    assert "fast" in errors[0] and "between 1 and 1000" in errors[0] and "got 0" in errors[0]
    assert "Traceback" not in errors[0]
    assert not candle_store.live_config_file.exists()

    # a rule across parameters (the strategy's constructor) is reported the same way
    at.number_input(key="lc-param-sma_crossover-fast").set_value(30)
    at.button(key="lc-save").click().run()
    errors = _errors(at)
    assert len(errors) == 1 and "fast < slow" in errors[0]
    assert not candle_store.live_config_file.exists()


def test_bad_symbols_are_named(master_store: Settings) -> None:
    at = _app()
    at.multiselect(key="lc-symbols").set_value(["SBIN"])
    at.button(key="lc-save").click().run()
    errors = _errors(at)
    assert len(errors) == 1 and "'SBIN' is not a Fyers symbol" in errors[0]

    # well formed, but not in the symbol master (where the engine looks symbols up)
    at.multiselect(key="lc-symbols").set_value(["NSE:SBIN-EQ", "NSE:NOSUCH-EQ"])
    at.button(key="lc-save").click().run()
    errors = _errors(at)
    assert len(errors) == 1
    assert errors[0].startswith("live config: symbols: NSE:NOSUCH-EQ not in the symbol master")

    at.multiselect(key="lc-symbols").set_value([])
    at.button(key="lc-save").click().run()
    assert "give at least one symbol" in _errors(at)[0]
    assert not master_store.live_config_file.exists()


def test_an_empty_symbol_master_says_how_to_load_it(candle_store: Settings) -> None:
    at = _app()
    at.button(key="lc-save").click().run()
    errors = _errors(at)
    assert len(errors) == 1
    assert "symbol master is empty" in errors[0] and "fyerstrade data symbols" in errors[0]
    assert not candle_store.live_config_file.exists()


def test_square_off_before_the_entry_window_ends_is_refused(candle_store: Settings) -> None:
    at = _app()
    at.radio(key="lc-mode").set_value("intraday").run()  # the one default is positional
    at.time_input(key="lc-square-off").set_value(dtime(14, 0))
    at.button(key="lc-save").click().run()
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith("live config: square_off: 14:00")


def test_saving_a_valid_config_writes_the_yaml(master_store: Settings) -> None:
    at = _app()
    at.number_input(key="lc-param-sma_crossover-fast").set_value(3)
    at.number_input(key="lc-param-sma_crossover-slow").set_value(8)
    at.multiselect(key="lc-symbols").set_value(["NSE:SBIN-EQ", "NSE:TCS-EQ"])
    at.selectbox(key="lc-resolution").set_value(
        next(o for o in at.selectbox(key="lc-resolution").options if o == "5 minutes")
    )
    at.radio(key="lc-sizing").set_value("fixed quantity").run()
    at.number_input(key="lc-quantity").set_value(5)
    at.number_input(key="lc-max-loss").set_value(2500.0)
    at.number_input(key="lc-max-open").set_value(2)
    at.radio(key="lc-on-stop").set_value("keep")
    at.radio(key="lc-mode").set_value("intraday")  # the one default is positional
    at.checkbox(key="lc-archive").uncheck()
    at.button(key="lc-save").click().run()
    assert not at.exception, at.exception
    assert not _errors(at)
    assert any("Saved to" in s.value for s in at.success)

    saved = load_live_config(master_store.live_config_file, master_store)
    assert saved.strategy == "sma_crossover"
    assert saved.params == {"fast": 3, "slow": 8, "allow_short": False}
    assert saved.symbols == ["NSE:SBIN-EQ", "NSE:TCS-EQ"]
    assert saved.resolution.value == "5"
    assert saved.quantity == 5
    assert saved.risk.max_daily_loss == 2500.0 and saved.risk.max_open_positions == 2
    assert saved.on_stop == "keep"
    assert saved.schedule.archive is False
    assert saved.mode == "intraday" and saved.square_off == dtime(15, 15)
    text = master_store.live_config_file.read_text()
    assert "entry_start: 09:20" in text or "entry_start: '09:20'" in text


def test_the_form_starts_from_the_saved_file(candle_store: Settings) -> None:
    config = LiveConfig(
        strategy="sma_crossover",
        params={"fast": 4, "slow": 12},
        symbols=["NSE:TCS-EQ"],
        quantity=7,
        on_stop="keep",
    )
    save_live_config(candle_store.live_config_file, config)
    at = _app()
    assert at.number_input(key="lc-param-sma_crossover-fast").value == 4
    assert at.number_input(key="lc-param-sma_crossover-slow").value == 12
    assert at.multiselect(key="lc-symbols").value == ["NSE:TCS-EQ"]
    assert at.radio(key="lc-sizing").value == "fixed quantity"
    assert at.number_input(key="lc-quantity").value == 7
    assert at.radio(key="lc-on-stop").value == "keep"


def test_a_broken_saved_file_is_one_warning(settings: Settings) -> None:
    settings.live_config_file.parent.mkdir(parents=True, exist_ok=True)
    settings.live_config_file.write_text("strategy: sma_crossover\nsymbol: [NSE:SBIN-EQ]\n")
    at = _app()
    warnings = [w.value for w in at.warning]
    assert any("unknown key 'symbol'" in w and "did you mean 'symbols'" in w for w in warnings)


# ---- the monitor -------------------------------------------------------------------------


def test_monitor_shows_a_running_engine_its_positions_trades_equity_and_log(
    settings: Settings,
) -> None:
    _fill_trading_db(settings)
    with PidLock(settings):  # this process plays the engine process
        write_status(settings.live_status_file, _status("running"))
        at = _app()
        assert not _errors(at)
        head = " ".join(m.value for m in at.markdown)
        assert "running" in head and f"session {SESSION}" in head
        metrics = {m.label: m.value for m in at.metric}
        assert re.fullmatch(r"\d{1,2} s", metrics["Uptime"])  # since the PID lock was taken
        assert metrics["Market time (IST)"] == "09:45:00"
        assert metrics["Last tick (IST)"] == "09:44:59"
        assert (metrics["Ticks"], metrics["Bars"], metrics["Trades"]) == ("12,345", "60", "3")
        assert metrics["Day P&L"] == "₹195.00"
        # margin, not cash: 3 TCS @ 3,520 intraday at 5x block 2,112 of the 100,195 equity
        assert (metrics["Margin used"], metrics["Margin available"]) == ("₹2,112.00", "₹98,083.00")
        assert "Cash" not in metrics
        assert at.button(key="pt-start").disabled is True
        assert at.button(key="pt-stop").disabled is False

        positions, trades, log = (d.value for d in at.dataframe)
        assert positions.to_dict("records") == [
            {
                "symbol": "NSE:TCS-EQ",
                "quantity": 3,
                "avg price": 3520.0,
                "last price": 3531.5,
                "unrealized P&L": 34.5,
                "product": "INTRADAY",
            }
        ]
        assert at.selectbox(key="pt-session").value == SESSION
        assert any(h.value == "Trades (3)" for h in at.subheader)
        assert list(trades["side"]) == ["buy", "sell", "buy"]  # newest first (fills)
        assert trades["time (IST)"].iloc[0] == "2026-11-23 09:40:00"
        assert trades["realized P&L"].iloc[1] == 44.2
        assert at.selectbox(key="pt-session").options == [SESSION, "2026-11-20"]
        assert '"equity"' in at.get("plotly_chart")[0].proto.spec
        # newest first, DEBUG hidden by default
        assert list(log["level"]) == ["ERROR", "WARNING", "INFO"]
        assert log["message"][0] == "strategy raised ValueError"

        at.multiselect(key="pt-log-levels").set_value(["ERROR"]).run()
        assert list(at.dataframe[-1].value["level"]) == ["ERROR"]


def test_monitor_falls_back_to_stored_positions_when_the_engine_is_gone(
    settings: Settings,
) -> None:
    _fill_trading_db(settings)
    # the status says running, but no process holds the PID file: the engine died
    write_status(settings.live_status_file, _status("running"))
    at = _app()
    head = " ".join(m.value for m in at.markdown)
    assert "stopped" in head
    assert any("the engine is not running (it last reported running" in c.value for c in at.caption)
    assert at.button(key="pt-start").disabled is False
    positions = at.dataframe[0].value
    assert list(positions["symbol"]) == ["NSE:TCS-EQ"]
    assert "realized P&L" in positions.columns  # the committed row, not live prices
    assert any("not reporting" in c.value for c in at.caption)


def test_auth_failed_says_how_to_log_in(settings: Settings) -> None:
    with PidLock(settings):
        write_status(
            settings.live_status_file,
            _status("auth_failed", message="the Fyers token expired at 2026-11-23 06:00 IST"),
        )
        at = _app()
        errors = _errors(at)
        assert len(errors) == 1
        assert "token expired" in errors[0] and "fyerstrade auth login" in errors[0]
        assert at.button(key="pt-start").disabled is True  # the process is still up


def test_start_with_no_config_is_one_line(settings: Settings) -> None:
    at = _app()
    at.button(key="pt-start").click().run()
    assert not at.exception, at.exception
    errors = _errors(at)
    assert len(errors) == 1 and "no live config" in errors[0]
    assert not settings.live_pid_file.exists()


def test_reads_of_a_missing_database_are_empty(settings: Settings) -> None:
    assert paper_reads.sessions(settings) == []
    assert paper_reads.session_trades(settings, SESSION) == []
    assert paper_reads.stored_positions(settings) == []
    assert len(paper_reads.equity_curve(settings, SESSION)) == 0
    assert paper_reads.debug_log(settings, ["INFO"]) == []
    assert not settings.trading_db.exists()  # reading never creates the file


@pytest.mark.parametrize("levels", [["ERROR", "WARNING"], ["info"]])
def test_debug_log_filters_levels_case_insensitively(settings: Settings, levels: list[str]) -> None:
    _fill_trading_db(settings)
    lines = paper_reads.debug_log(settings, levels)
    assert {d.level for d in lines} == {lv.upper() for lv in levels}
    assert [d.ts for d in lines] == sorted((d.ts for d in lines), reverse=True)
