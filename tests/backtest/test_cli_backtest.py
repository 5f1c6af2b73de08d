"""``fyerstrade backtest run`` end to end on candles written into a temporary store: the JSON
contract, the saved run, the human table, ``strategies``; and every bad input gives one line on
stderr, exit code 2 and no rows in trading_log."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from fyerstrade import cli
from fyerstrade.backtest.journal import load_series
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import open_historical, open_trading

SYMBOLS = ("NSE:SBIN-EQ", "NSE:INFY-EQ")
# 2024-01-01 (Mon) .. 2024-01-12: 10 sessions of 75 five-minute bars
BASE = ["backtest", "run", "--strategy", "sma_crossover", "--resolution", "5",
        "--from", "2024-01-01", "--to", "2024-01-12"]  # fmt: skip
TABLES = ("backtest_runs", "backtest_trades", "bt_portfolio_log")


@pytest.fixture
def store(settings: Settings) -> Settings:
    conn = open_historical(settings)
    for k, symbol in enumerate(SYMBOLS):
        candles = synthetic_candles(
            750,
            start=date(2024, 1, 1),
            resolution=Resolution.M5,
            seed=11 + k,
            price=600.0 + 900 * k,
            volatility=0.002,
        )
        upsert_candles(conn, symbol, Resolution.M5, candles)
    conn.close()
    return settings


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _rows(settings: Settings) -> dict[str, int]:
    if not settings.trading_db.exists():
        return dict.fromkeys(TABLES, 0)
    conn = sqlite3.connect(settings.trading_db)
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def test_run_json_contract_and_saved_run(
    store: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*BASE, "--symbol", SYMBOLS[0], "--symbol", SYMBOLS[1], "--param", "fast=5",
            "--param", "slow=20", "--quantity", "10", "--mode", "intraday", "--json"]  # fmt: skip
    code, out, err = _cli(args, capsys)
    assert code == 0, err
    data = json.loads(out)  # exactly one JSON object on stdout
    assert set(data) >= {"run_id", "metrics", "trades"}
    m = data["metrics"]
    for key in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate",
                "profit_factor", "trades", "total_costs", "final_equity"):  # fmt: skip
        assert key in m, key
        assert m[key] is None or isinstance(m[key], int | float), key
    assert isinstance(m["trades"], int) and m["trades"] == len(data["trades"]) > 0
    assert m["total_costs"] > 0  # costs on by default
    trade = data["trades"][0]
    assert set(trade) >= {"symbol", "side", "quantity", "entry_time", "entry_price", "exit_time",
                          "exit_price", "pnl", "costs", "exit_reason"}  # fmt: skip
    assert trade["entry_time"].endswith("+05:30") and trade["quantity"] == 10
    assert {t["symbol"] for t in data["trades"]} <= set(SYMBOLS)
    assert any(t["exit_reason"] == "square_off" for t in data["trades"])  # intraday mode
    assert data["params"]["fast"] == 5 and data["params"]["slow"] == 20

    run_id = data["run_id"]
    rows = _rows(store)
    # the per-bar series are one row of the run, not one row per bar
    assert rows["backtest_runs"] == 1 and rows["bt_portfolio_log"] == 1
    conn = open_trading(store)
    try:
        equity_ts, equity, _, _ = load_series(conn, run_id)
    finally:
        conn.close()
    assert len(equity_ts) == len(equity) == 750 and equity[-1] == m["final_equity"]
    code, out, _ = _cli(["backtest", "list", "--json"], capsys)
    assert [r["run_id"] for r in json.loads(out)] == [run_id]
    code, out, _ = _cli(["backtest", "show", run_id, "--json", "--trades"], capsys)
    shown = json.loads(out)
    assert shown["trades"] == data["trades"] and shown["metrics"] == m
    # `run` prints the run it saved without reading it back: the same object `show` reads
    assert {k: v for k, v in shown.items() if k != "config"} == data
    assert shown["config"]["entry_start"] == "09:20" and shown["config"]["mode"] == "intraday"
    report = tmp_path / "report.html"
    code, out, err = _cli(["backtest", "report", run_id, "--html", str(report)], capsys)
    assert code == 0, err
    text = report.read_text(encoding="utf-8")
    assert text.count('class="figure"') == 4  # equity, drawdown, two symbols
    assert '"name":"sma_fast"' in text  # the strategy's indicators are overlaid


_EXIT_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print(f"frozen {gc.get_freeze_count()}", file=sys.stderr))
from fyerstrade.cli import run
sys.argv = ["fyerstrade", *sys.argv[1:]]
run()
"""


def test_a_run_process_leaves_its_objects_to_the_exit_and_nothing_open(store: Settings) -> None:
    """The console script, after ``backtest run``: the objects left are frozen (the collection at
    exit skips them), the output is whole, and both stores are closed cleanly (no -wal or -shm
    file left); a command that does not say it closed everything is not frozen."""
    import subprocess
    import sys

    def console(*args: str) -> tuple[str, str]:
        proc = subprocess.run([sys.executable, "-c", _EXIT_PROBE, *args], capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout, proc.stderr

    out, err = console(*BASE, "--symbol", SYMBOLS[0], "--json")
    data = json.loads(out)
    assert data["metrics"]["trades"] == len(data["trades"]) > 0
    frozen = int(err.rsplit("frozen ", 1)[1])
    assert frozen > 10_000  # the run's objects (and the modules'), not walked at exit
    left = sorted(p.name for p in store.data_dir.iterdir() if p.name.endswith(("-wal", "-shm")))
    assert left == []
    out, err = console("backtest", "list", "--json")
    assert [r["run_id"] for r in json.loads(out)] == [data["run_id"]]
    assert err.rsplit("frozen ", 1)[1].strip() == "0"


def test_run_prints_a_metrics_table(store: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli([*BASE, "--symbol", SYMBOLS[0], "--no-costs", "--mode", "positional",
                           "--slippage-ticks", "1"], capsys)  # fmt: skip
    assert code == 0, err
    for needle in ("Total return", "Sharpe", "Max drawdown", "Final equity", "saved as"):
        assert needle in out, needle
    assert _rows(store)["backtest_runs"] == 1


def test_strategies_lists_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["backtest", "strategies", "--json"], capsys)
    assert code == 0
    by_name = {s["name"]: s for s in json.loads(out)}
    assert {"sma_crossover", "opening_price_crossover"} <= set(by_name)
    fast = {p["name"]: p for p in by_name["sma_crossover"]["params"]}["fast"]
    assert fast["default"] == 10 and fast["type"] == "int" and fast["help"]
    code, out, _ = _cli(["backtest", "strategies"], capsys)
    assert "sma_crossover" in out and "ema_fast" in out


BAD_INPUTS = [
    (["--strategy", "sma_crosover"], "did you mean 'sma_crossover'"),
    (["--param", "fats=5"], "did you mean 'fast'"),
    (["--param", "fast=abc"], "must be an integer"),
    (["--param", "fast"], "KEY=VALUE"),
    (["--symbol", "NSE:NOPE-EQ"], "NSE:NOPE-EQ"),
    (["--from", "2023-01-02", "--to", "2023-01-10"], "no 5-minute candles"),
    (["--from", "2024-01-12", "--to", "2024-01-01"], "before --from"),
    (["--from", "2024/01/01"], "use YYYY-MM-DD"),
    (["--to", "2024-13-01"], "use YYYY-MM-DD"),
    (["--resolution", "7"], "unknown resolution"),
    (["--mode", "swing"], "intraday or positional"),
    (["--entry-window", "14:30-09:20"], "ends before it starts"),
    (["--square-off", "3pm"], "HH:MM"),
    (["--resolution", "D", "--mode", "intraday"], "intraday mode needs intraday bars"),
]


@pytest.mark.parametrize(("override", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    store: Settings, override: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*BASE, "--symbol", SYMBOLS[0], "--json"]
    for i in range(0, len(override), 2):  # replace an option given in BASE, or add it
        opt = override[i]
        if opt in args and opt not in ("--symbol", "--param"):
            args[args.index(opt) + 1] = override[i + 1]
        elif opt == "--symbol":
            args[args.index("--symbol") + 1] = override[i + 1]
        else:
            args += override[i : i + 2]
    if override[0] == "--resolution" and override[1] == "D":
        # daily candles exist for this case, so only the mode is wrong
        conn = open_historical(store)
        upsert_candles(conn, SYMBOLS[0], Resolution.D,
                       synthetic_candles(10, resolution=Resolution.D))  # fmt: skip
        conn.close()
    code, out, err = _cli(args, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert message in err
    assert _rows(store) == dict.fromkeys(TABLES, 0)


def test_session_options_reach_the_engine(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*BASE, "--symbol", SYMBOLS[0], "--param", "fast=10", "--param", "slow=40",
            "--mode", "intraday", "--entry-window", "09:30-11:00", "--square-off", "14:00",
            "--no-costs", "--quantity", "5", "--json"]  # fmt: skip
    code, out, err = _cli(args, capsys)
    assert code == 0, err
    trades = json.loads(out)["trades"]
    assert trades
    for t in trades:
        entry_clock = t["entry_time"][11:16]
        assert "09:30" <= entry_clock <= "11:05", t  # signal inside the window, next-open fill
        assert t["exit_time"][11:16] <= "14:05", t  # flat by the 14:00 square-off
        assert t["costs"] == 0.0 and t["quantity"] == 5
    assert any(t["exit_reason"] == "square_off" for t in trades)  # (15:15 without the option)
