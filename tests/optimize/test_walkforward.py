"""Walk-forward: folds never overlap out-of-sample, the stitched curve is the out-of-sample runs
put end to end, and the JSON carries every fold and the summary."""

from __future__ import annotations

import itertools
import json
from datetime import date

import numpy as np
import pytest

from fyerstrade import cli
from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.optimize.walkforward import plan_folds
from fyerstrade.config import Settings
from fyerstrade.domain import Resolution
from fyerstrade.errors import InputError
from fyerstrade.reporting.metrics import compute_metrics, daily_returns
from fyerstrade.store.candles import load_candles
from fyerstrade.store.db import open_historical
from plugins.optimize import OPT_SYMBOL

DAYS = np.arange(20_000, 20_060)


@pytest.mark.parametrize("anchored", [False, True])
def test_folds_tile_the_end_of_the_data_without_overlap(anchored: bool) -> None:
    folds = plan_folds(DAYS, 4, in_sample=20, out_of_sample=10, anchored=anchored)
    assert len(folds) == 4
    assert folds[-1].out_of_sample[1] == DAYS[-1]  # the latest day is always used
    for a, b in itertools.pairwise(folds):
        assert a.out_of_sample[1] + 1 == b.out_of_sample[0]  # consecutive, never overlapping
    for f in folds:
        assert f.in_sample[1] + 1 == f.out_of_sample[0]
        assert f.out_of_sample[1] - f.out_of_sample[0] + 1 == 10
    starts = {f.in_sample[0] for f in folds}
    if anchored:
        assert starts == {DAYS[0]} and folds[-1].in_sample[1] - DAYS[0] + 1 == 50
    else:
        assert all(f.in_sample[1] - f.in_sample[0] + 1 == 20 for f in folds)


def test_default_lengths_and_refusals() -> None:
    folds = plan_folds(DAYS, 3)  # out-of-sample 60 // 6 = 10, in-sample three times that
    assert [f.out_of_sample[1] - f.out_of_sample[0] + 1 for f in folds] == [10, 10, 10]
    assert folds[0].in_sample[1] - folds[0].in_sample[0] + 1 == 30
    with pytest.raises(InputError, match="need 70 trading days; the data has 60"):
        plan_folds(DAYS, 5, in_sample=20, out_of_sample=10)
    with pytest.raises(InputError, match="at least 2 trading days"):
        plan_folds(DAYS[:10], 5)


def test_walkforward_json_stitches_the_out_of_sample_runs(
    walk_store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["optimize", "walkforward", "--strategy", "sma_crossover", "-s", OPT_SYMBOL, "-r", "5",
            "--from", "2026-06-01", "--to", "2026-08-21", "--quantity", "10", "--folds", "3",
            "--mode", "intraday",
            "--in-sample", "20", "--out-of-sample", "8", "--param", "fast=4:12:4",
            "--param", "slow=20,30", "--param", "allow_short=false", "--min-trades", "1",
            "--workers", "2", "--json"]  # fmt: skip
    code = cli.main(args)
    out = capsys.readouterr()
    assert code == 0, out.err
    report = json.loads(out.out)
    folds, summary = report["folds"], report["summary"]
    assert len(folds) == 3 and report["status"] == "completed"
    for f in folds:
        assert set(f) >= {"in_sample", "out_of_sample", "params", "in_sample_metrics",
                          "out_of_sample_metrics"}  # fmt: skip
    oos = [tuple(date.fromisoformat(x) for x in f["out_of_sample"]) for f in folds]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(oos))
    assert set(summary) >= {"metrics", "sharpe", "total_return", "max_drawdown", "pbo",
                            "deflated_sharpe", "worst_fold", "parameter_stability",
                            "walk_forward_efficiency"}  # fmt: skip

    # each fold's out-of-sample run again, on its own, then end to end by adding the P&L
    conn = open_historical(walk_store)
    bars = {OPT_SYMBOL: load_candles(conn, OPT_SYMBOL, Resolution.M5)}
    conn.close()
    base = BacktestConfig(
        strategy="sma_crossover", params={}, symbols=(OPT_SYMBOL,), resolution=Resolution.M5,
        start=date(2026, 6, 1), end=date(2026, 8, 21), mode="intraday", quantity=10,
    )  # fmt: skip
    points: list[list[object]] = []
    carried = 0.0
    trades = 0
    for f, (start, end) in zip(folds, oos, strict=True):
        assert f["params"] is not None
        warm = date.fromisoformat(f["in_sample"][0])
        cfg = base.model_copy(update={"start": start, "end": end, "params": f["params"]})
        run = run_backtest(cfg, data=bars, warmup_from=warm)
        assert all(t.entry_ts >= run.equity_ts[0] for t in run.trades)
        metrics = compute_metrics(
            run.trades, run.equity_ts, run.equity, cfg.capital, exposure=run.exposure
        ).to_dict()
        assert f["out_of_sample_metrics"]["total_return"] == pytest.approx(metrics["total_return"])
        assert f["out_of_sample_metrics"]["trades"] == metrics["trades"]
        d, eq = daily_returns(run.equity_ts, run.equity + carried)
        points += [[str(x), round(float(v), 2)] for x, v in zip(d, eq, strict=True)]
        carried += run.final_equity - cfg.capital
        trades += len(run.trades)
    assert summary["equity"] == points
    assert summary["metrics"]["trades"] == trades
    assert summary["total_return"] == pytest.approx(carried / base.capital)

    code = cli.main(["optimize", "show", report["id"]])
    shown = capsys.readouterr().out
    assert code == 0 and "stitched out-of-sample" in shown and "worst fold" in shown
