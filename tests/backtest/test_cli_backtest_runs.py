"""``fyerstrade backtest list/show/report/delete`` on runs saved straight into the journal, and
the option parsers behind ``backtest run``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, time
from pathlib import Path

import numpy as np
import pytest

from fyerstrade import cli
from fyerstrade.backtest.journal import StoredRun, save_stored_run
from fyerstrade.candles import CandleArrays
from fyerstrade.commands.backtest import parse_clock, parse_window, run_json
from fyerstrade.commands.options import parse_date
from fyerstrade.config import Settings
from fyerstrade.domain import ProductType, Resolution, RoundTrip, Side
from fyerstrade.errors import InputError
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import open_historical, open_trading

T0 = 1_704_167_100  # 2024-01-02 09:15 IST
SYMBOL = "NSE:SBIN-EQ"


def _stored(n: int = 120, strategy: str = "sma_crossover") -> StoredRun:
    ts = T0 + 60 * np.arange(n, dtype=np.int64)
    equity = 100_000.0 + np.linspace(0.0, 500.0, n)
    trades = [
        RoundTrip(SYMBOL, Side.BUY, 10, T0 + 300, 100.5, T0 + 1500, 102.0, 14.0, 1.0, "signal",
                  ProductType.INTRADAY),
        RoundTrip(SYMBOL, Side.SELL, 10, T0 + 2400, 101.0, T0 + 3000, 100.0, 9.0, 1.0,
                  "square_off", ProductType.INTRADAY),
    ]  # fmt: skip
    return StoredRun(
        strategy=strategy, params={"fast": 5, "slow": 20}, symbols=(SYMBOL,), resolution="1",
        start=date(2024, 1, 2), end=date(2024, 1, 2), mode="intraday", capital=100_000.0,
        metrics={"total_return": 0.005, "profit_factor": math.inf, "sharpe": None, "trades": 2,
                 "final_equity": 100_500.0},
        trades=trades, equity_ts=ts, equity=equity, cash=equity, exposure=np.zeros(n),
    )  # fmt: skip


@pytest.fixture
def saved(settings: Settings) -> str:
    conn = open_trading(settings)
    try:
        save_stored_run(conn, _stored(strategy="older"), now=1_704_180_000)
        return save_stored_run(conn, _stored(), now=1_704_190_000)
    finally:
        conn.close()


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_json_and_table(saved: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run_cli(["backtest", "list", "--json"], capsys)
    assert code == 0
    runs = json.loads(out)
    assert [r["run_id"] for r in runs][:1] == [saved] and len(runs) == 2
    assert runs[0]["metrics"]["profit_factor"] is None  # inf → null
    assert runs[0]["created_at"].endswith("+05:30")
    code, out, _ = _run_cli(["backtest", "list", "--strategy", "older"], capsys)
    assert code == 0 and "older" in out and saved not in out


def test_show_prints_metrics_and_trades(saved: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run_cli(["backtest", "show", saved, "--trades"], capsys)
    assert code == 0
    for needle in (saved, "Total return", "0.50%", "∞", "square_off", "2 trades"):
        assert needle in out, needle
    code, out, _ = _run_cli(["backtest", "show", saved, "--json", "--trades"], capsys)
    data = json.loads(out)
    assert data["run_id"] == saved and len(data["trades"]) == 2
    assert data["trades"][0]["entry_time"] == "2024-01-02T09:20:00+05:30"
    assert data["trades"][1]["side"] == "short"


def test_report_writes_html_with_the_price_chart(
    saved: str,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    candle_factory: Callable[..., CandleArrays],
) -> None:
    conn = open_historical(settings)
    upsert_candles(conn, SYMBOL, Resolution.M1, candle_factory(120, start_ts=T0))
    conn.close()
    target = tmp_path / "out" / "report.html"
    code, out, err = _run_cli(["backtest", "report", saved, "--html", str(target)], capsys)
    assert code == 0, err
    assert str(target) in out
    text = target.read_text(encoding="utf-8")
    assert text.count('class="figure"') == 3  # equity, drawdown, price
    assert "candlestick" in text and "long entry" in text
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    args = ["backtest", "report", saved, "--html", str(blocked / "r.html")]
    code, _, err = _run_cli(args, capsys)
    assert code == 2 and err.startswith("error: cannot write") and err.count("\n") == 1


def test_delete_then_unknown(saved: str, settings: Settings,
                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code, _, err = _run_cli(["backtest", "delete", saved], capsys)  # not a terminal: no prompt
    assert code == 2 and "cannot be undone; add --yes" in err and err.count("\n") == 1
    code, out, _ = _run_cli(["backtest", "delete", saved, "--yes"], capsys)
    assert code == 0 and saved in out
    for args in (["show", saved], ["delete", saved], ["report", saved, "--html", "x.html"]):
        code, out, err = _run_cli(["backtest", *args], capsys)
        assert code == 2
        assert err.count("\n") == 1 and saved in err and err.startswith("error: unknown backtest")
    conn = open_trading(settings)
    assert conn.execute("SELECT COUNT(*) FROM backtest_runs").fetchone()[0] == 1
    conn.close()


def test_run_json_shape() -> None:
    run = _stored()
    run.run_id = "20240102-000000-000000"
    data = json.loads(json.dumps(run_json(run), allow_nan=False))
    assert set(data["trades"][0]) >= {
        "symbol",
        "side",
        "quantity",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "pnl",
        "costs",
        "exit_reason",
    }


def test_option_parsers() -> None:
    assert parse_date("2024-02-29", "--from") == date(2024, 2, 29)
    for bad in ("2024-02-30", "29-02-2024", "2024/02/01", "yesterday"):
        with pytest.raises(InputError, match="use YYYY-MM-DD"):
            parse_date(bad, "--from")
    assert parse_clock("9:20", "--square-off") == time(9, 20)
    with pytest.raises(InputError, match="HH:MM"):
        parse_clock("25:00", "--square-off")
    assert parse_window("09:20-14:30") == (time(9, 20), time(14, 30))
    with pytest.raises(InputError, match="ends before it starts"):
        parse_window("14:30-09:20")


def test_bulk_ist_times_read_as_format_ist() -> None:
    from fyerstrade.backtest.journal import format_ist
    from fyerstrade.commands.backtest import ist_times

    stamps = [0, 19_799, 19_800, T0, 1_900_000_000, 4_102_444_799, *range(T0, T0 + 86_400, 977)]
    assert ist_times(stamps) == [format_ist(t) for t in stamps]
    assert ist_times([]) == []


@pytest.mark.parametrize(
    "row",
    [
        {"symbol": "NSE:SBIN-EQ", "quantity": 10, "pnl": 0.1 + 0.2, "costs": -0.0, "x": None},
        {"tag": 'ü ₹ "quoted" \\ back\nline', "ok": True, "big": 1e300, "nested": [1, {"a": 2}]},
    ],
)
def test_json_rows_encode_as_json_dumps(row: dict[str, object]) -> None:
    """The one-object-per-line writer's encoder gives exactly ``json.dumps``' text."""
    from fyerstrade.commands.backtest import _row_encoder

    assert _row_encoder()(row) == json.dumps(row, allow_nan=False, ensure_ascii=False)


def test_json_rows_refuse_nan_like_json_dumps() -> None:
    from fyerstrade.commands.backtest import _row_encoder

    with pytest.raises(ValueError, match="not JSON compliant"):
        _row_encoder()({"pnl": math.nan})


def _odd_trades() -> list[RoundTrip]:
    """Round trips with awkward values: quotes, non-ASCII, -0.0, tiny and huge floats."""
    reasons = ["signal", 'stop "hard"', "ü ₹ back\\slash", "square_off"]
    values = [0.1 + 0.2, -0.0, 1e-300, 1e300, 123.45, 5.0, -7.25e-5, 2.0**52 + 0.5]
    return [
        RoundTrip(
            SYMBOL if i % 3 else "NSE:M&M-EQ",
            Side.BUY if i % 2 else Side.SELL,
            i + 1,
            T0 + 60 * i,
            values[i % len(values)],
            T0 + 60 * i + 86_400 * (i % 5),
            values[(i + 3) % len(values)],
            values[(i + 5) % len(values)],
            abs(values[(i + 1) % len(values)]),
            reasons[i % len(reasons)],
            ProductType.INTRADAY if i % 4 else ProductType.CNC,
        )
        for i in range(40)
    ]


def test_encoded_trade_rows_are_the_text_of_the_general_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``run --json`` writes its trades straight from the round trips: row by row the text json
    gives each ``trade_json``, and the whole printed object is the general path's, byte for byte."""
    from fyerstrade.commands.backtest import (
        _echo_json,
        ist_times,
        run_json_encoded,
        trade_json,
        trade_rows,
    )

    trades = _odd_trades()
    rows = trade_rows(trades)
    assert rows is not None
    entries = ist_times([t.entry_ts for t in trades])
    exits = ist_times([t.exit_ts for t in trades])
    expected = [
        json.dumps(trade_json(t, a, b), allow_nan=False, ensure_ascii=False)
        for t, a, b in zip(trades, entries, exits, strict=True)
    ]
    assert list(rows) == expected
    run = _stored()
    run.run_id = "20240102-000000-000000"
    run.trades = trades
    _echo_json(run_json(run))
    general = capsys.readouterr().out
    _echo_json(run_json_encoded(run))
    assert capsys.readouterr().out == general
    assert json.loads(general)["trades"][1]["exit_reason"] == 'stop "hard"'


def test_encoded_trade_rows_leave_odd_values_to_the_general_path() -> None:
    """A numpy number, a bool or a non-finite value is not encoded here (``None``): the general
    encoder then writes it, or refuses NaN as json does."""
    from dataclasses import replace

    from fyerstrade.commands.backtest import _echo_json, run_json_encoded, trade_rows

    trades = _odd_trades()
    base = trades[0]
    odd = [
        replace(base, pnl=math.nan),
        replace(base, costs=math.inf),
        replace(base, entry_price=np.float64(1.5)),
        replace(base, quantity=True),
    ]
    for trade in odd:
        assert trade_rows([*trades, trade]) is None
    run = _stored()
    run.trades = [*trades, odd[0]]
    with pytest.raises(ValueError, match="not JSON compliant"):
        _echo_json(run_json_encoded(run))
