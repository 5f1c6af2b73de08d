"""``backtest run --max-daily-loss / --max-positions``: the session guard's limits from the
command line, and their bad values as one line, exit 2, nothing saved."""

from __future__ import annotations

import json
from datetime import date
from itertools import pairwise

import pytest

from fyerstrade import cli
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import open_historical

SYMBOLS = ("NSE:SBIN-EQ", "NSE:INFY-EQ")
BASE = ["backtest", "run", "--strategy", "sma_crossover", "--resolution", "5",
        "--from", "2024-01-01", "--to", "2024-01-12", "--symbol", SYMBOLS[0],
        "--symbol", SYMBOLS[1], "--param", "fast=5", "--param", "slow=20", "--mode", "intraday",
        "--quantity", "50", "--json"]  # fmt: skip


@pytest.fixture
def store(settings: Settings) -> Settings:
    conn = open_historical(settings)
    for k, symbol in enumerate(SYMBOLS):
        candles = synthetic_candles(
            750, start=date(2024, 1, 1), resolution=Resolution.M5, seed=11 + k,
            price=600.0 + 900 * k, volatility=0.002,
        )  # fmt: skip
        upsert_candles(conn, symbol, Resolution.M5, candles)
    conn.close()
    return settings


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = cli.main(args)
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 else {}), out.err


def test_limits_change_the_run_as_the_guard_says(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, free, err = _run(BASE, capsys)
    assert code == 0, err
    code, capped, err = _run([*BASE, "--max-daily-loss", "100", "--max-positions", "1"], capsys)
    assert code == 0, err
    reasons = {t["exit_reason"] for t in capped["trades"]}
    assert "risk" in reasons and "risk" not in {t["exit_reason"] for t in free["trades"]}
    assert len(capped["trades"]) < len(free["trades"])
    # never two symbols held at once
    spans = sorted((t["entry_time"], t["exit_time"]) for t in capped["trades"])
    assert all(b[0] >= a[1] for a, b in pairwise(spans))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-daily-loss", "0"], "--max-daily-loss must be a positive amount, got 0"),
        (["--max-daily-loss", "inf"], "--max-daily-loss must be a positive amount, got inf"),
        (["--max-positions", "0"], "--max-positions must be at least 1, got 0"),
    ],
)
def test_bad_limits_are_one_line(
    store: Settings, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code, _, err = _run([*BASE, *extra], capsys)
    assert code == 2
    assert err.strip().endswith(message), err
