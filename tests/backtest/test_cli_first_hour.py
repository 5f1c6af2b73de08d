"""A trader's first hour on ``fyerstrade backtest run`` (issue 13 items 1–4, 10): one default
from one place, dates never changed silently, refused orders counted with their reason, hints
that name the real cause, any resolution built from finer stored bars."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date

import pytest

from fyerstrade import cli
from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.commands.live import CONFIG_HEADER
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import open_historical
from fyerstrade.trading.defaults import RUN_DEFAULTS

SYMBOL = "NSE:SBIN-EQ"
INDEX = "NSE:NIFTY50-INDEX"
# 2024-01-01 (Mon) .. 2024-01-12 (Fri): 10 sessions of 75 five-minute bars
RUN = ["backtest", "run", "--strategy", "sma_crossover", "--resolution", "5",
       "--param", "fast=5", "--param", "slow=20"]  # fmt: skip


@pytest.fixture
def store(settings: Settings) -> Settings:
    conn = open_historical(settings)
    for k, symbol in enumerate((SYMBOL, INDEX)):
        candles = synthetic_candles(
            750, start=date(2024, 1, 1), resolution=Resolution.M5, seed=11 + k,
            price=600.0 + 20_000 * k, volatility=0.002,
        )  # fmt: skip
        upsert_candles(conn, symbol, Resolution.M5, candles)
    conn.close()
    return settings


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _runs(settings: Settings) -> int:
    if not settings.trading_db.exists():
        return 0
    conn = sqlite3.connect(settings.trading_db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM backtest_runs").fetchone()[0])
    finally:
        conn.close()


# ---- 1. one default, one truth -------------------------------------------------------------


def test_cli_help_shows_the_one_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["backtest", "run", "--help"], capsys)
    assert code == 0
    text = re.sub(r"[\s│]+", " ", out)
    assert f"[default: {RUN_DEFAULTS.mode}]" in text.split("--mode", 1)[1].split("--param")[0]
    assert f"[default: {RUN_DEFAULTS.entry_window_text}]" in text
    assert f"[default: {RUN_DEFAULTS.square_off_text}]" in text
    assert "[default: 100000.0]" in text and RUN_DEFAULTS.capital == 100_000.0


def test_config_and_cli_runs_take_the_same_defaults(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = BacktestConfig("sma_crossover", {}, [SYMBOL], Resolution.M5, date(2024, 1, 1),
                         date(2024, 1, 12))  # fmt: skip
    assert (cfg.mode, cfg.capital, cfg.entry_start, cfg.square_off, cfg.intraday_leverage) == (
        RUN_DEFAULTS.mode, RUN_DEFAULTS.capital, RUN_DEFAULTS.entry_start,
        RUN_DEFAULTS.square_off, RUN_DEFAULTS.intraday_leverage,
    )  # fmt: skip
    code, out, err = _cli([*RUN, "--symbol", SYMBOL, "--from", "2024-01-01", "--to",
                           "2024-01-12", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["mode"] == RUN_DEFAULTS.mode == "positional"
    assert all(t["product"] == "CNC" for t in data["trades"])


def test_the_live_config_comment_names_real_commands(capsys: pytest.CaptureFixture[str]) -> None:
    commands = re.findall(r"`fyerstrade ([a-z ]+?)(?: --[a-z-]+)*`", CONFIG_HEADER)
    assert ["backtest", "strategies"] in [c.split() for c in commands]
    for command in commands:
        assert cli.main([*command.split(), "--help"]) == 0, command
    assert "backtest --help" not in CONFIG_HEADER


# ---- 2. dates never changed silently --------------------------------------------------------


def test_a_range_outside_the_store_warns_and_stores_the_period_used(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli([*RUN, "--symbol", SYMBOL, "--from", "2023-12-01", "--to",
                           "2024-01-31", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    assert (
        "warning: the range 2023-12-01 → 2024-01-31 reaches outside the stored 5-minute bars "
        f"({SYMBOL} 2024-01-01 → 2024-01-12); the run uses 2024-01-01 → 2024-01-12"
    ) in err
    data = json.loads(out)
    assert (data["from"], data["to"]) == ("2024-01-01", "2024-01-12")
    assert data["requested"] == {"from": "2023-12-01", "to": "2024-01-31"}
    assert data["notes"] and "reaches outside" in data["notes"][0]
    # listed with the period it used, and metrics over it (CAGR over 11 days, not 2 months)
    code, out, _ = _cli(["backtest", "list", "--json"], capsys)
    assert (json.loads(out)[0]["from"], json.loads(out)[0]["to"]) == ("2024-01-01", "2024-01-12")
    code, out, _ = _cli(["backtest", "show", data["run_id"]], capsys)
    assert "2024-01-01 → 2024-01-12 (asked 2023-12-01 → 2024-01-31)" in out


def test_strict_refuses_a_range_outside_the_store(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli([*RUN, "--symbol", SYMBOL, "--from", "2023-12-01", "--to",
                           "2024-01-12", "--strict"], capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: the range 2023-12-01 → 2024-01-12")
    assert "--strict" in err
    assert _runs(store) == 0


def test_a_range_inside_the_store_says_nothing(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli([*RUN, "--symbol", SYMBOL, "--from", "2024-01-01", "--to",
                         "2024-01-12", "--strict", "--json"], capsys)  # fmt: skip
    assert code == 0 and "warning" not in err, err


# ---- 3. nothing fails on the first click ----------------------------------------------------


@pytest.mark.parametrize(
    ("dates", "expected", "not_expected"),
    [
        (("2024-01-06", "2024-01-07"), "no NSE trading days between 2024-01-06 and 2024-01-07",
         "fetch"),
        (("2099-01-05", "2099-01-09"), "2099-01-05 → 2099-01-09 is in the future", "fetch"),
        (("2023-06-01", "2023-06-30"), "(stored: 5-minute 2024-01-01 → 2024-01-12); run "
         "`fyerstrade data fetch --symbol NSE:SBIN-EQ --resolution 5 --from 2023-06-01 "
         "--to 2023-06-30`", "in the future"),
    ],
)  # fmt: skip
def test_hints_name_the_real_cause(
    store: Settings,
    capsys: pytest.CaptureFixture[str],
    dates: tuple[str, str],
    expected: str,
    not_expected: str,
) -> None:
    code, out, err = _cli([*RUN, "--symbol", SYMBOL, "--from", dates[0], "--to", dates[1]],
                          capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err and not_expected not in err, err


def test_an_unknown_symbol_is_not_told_to_fetch(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli([*RUN, "--symbol", "NSE:FOOBAR-EQ", "--from", "2024-01-01", "--to",
                         "2024-01-12"], capsys)  # fmt: skip
    assert code == 2
    assert "unknown symbol 'NSE:FOOBAR-EQ'" in err and "check the spelling" in err
    assert "data fetch" not in err


def test_an_index_alone_is_refused_up_front(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli([*RUN, "--symbol", INDEX, "--from", "2024-01-01", "--to",
                           "2024-01-12"], capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert f"error: {INDEX} is an index and cannot be traded" in err
    assert _runs(store) == 0


def test_orders_on_an_index_beside_a_stock_are_refused_and_counted(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli([*RUN, "--symbol", SYMBOL, "--symbol", INDEX, "--from", "2024-01-01",
                           "--to", "2024-01-12", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    assert f"note: {INDEX} is an index: the strategy can read it, orders on it are refused" in err
    data = json.loads(out)
    refused = data["refused_orders"]
    assert refused["reasons"].get("an index cannot be traded", 0) > 0
    assert all(t["symbol"] == SYMBOL for t in data["trades"]) and data["trades"]


def test_refused_orders_are_counted_with_their_reason(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # ₹100 cannot buy one ₹600 share: every entry is refused for margin
    code, out, err = _cli([*RUN, "--symbol", SYMBOL, "--from", "2024-01-01", "--to",
                           "2024-01-12", "--capital", "100", "--quantity", "1", "--json"],
                          capsys)  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    n = data["refused_orders"]["count"]
    assert n > 0 and data["trades"] == []
    assert data["refused_orders"]["reasons"] == {"not enough free margin": n}
    assert f"note: {n} orders refused: not enough free margin" in err
    code, out, _ = _cli([*RUN, "--symbol", SYMBOL, "--from", "2024-01-01", "--to",
                         "2024-01-12", "--capital", "100", "--quantity", "1"], capsys)  # fmt: skip
    assert f"{n} orders refused: not enough free margin" in out


# ---- 4. any resolution from stored bars ----------------------------------------------------


def test_a_coarser_resolution_is_built_from_stored_bars(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a if a != "5" else "15" for a in RUN]
    code, out, err = _cli([*args, "--symbol", SYMBOL, "--from", "2024-01-01", "--to",
                           "2024-01-12", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    assert "note: 15-minute bars built from 5-minute bars" in err
    data = json.loads(out)
    assert data["resolution"] == "15" and data["source_resolutions"] == {SYMBOL: "5"}
    # 10-minute bars cannot be built from 5-minute ones at 09:15 anchors? They can (5 | 10);
    # 3-minute ones cannot: the hint says nothing finer is stored
    args = [a if a != "5" else "3" for a in RUN]
    code, _, err = _cli([*args, "--symbol", SYMBOL, "--from", "2024-01-01", "--to",
                         "2024-01-12"], capsys)  # fmt: skip
    assert code == 2 and "no 3-minute candles stored for NSE:SBIN-EQ, nor finer ones" in err
