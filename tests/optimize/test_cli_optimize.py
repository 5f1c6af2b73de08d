"""``fyerstrade optimize`` end to end: the JSON contract (metric names of ``backtest run``),
list/show/delete, ``--top`` saving backtest runs, every bad input as one line with exit 2 and
nothing written, and a sweep killed with SIGKILL or stopped with Ctrl-C that ``--resume``
finishes with no trial lost or counted twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fyerstrade import cli
from fyerstrade.config import Settings
from plugins.optimize import GATE_FAST, OPT_SYMBOL

RUN = ["optimize", "run", "--strategy", "sma_crossover", "-s", OPT_SYMBOL, "-r", "5",
       "--from", "2026-06-01", "--to", "2026-07-31", "--quantity", "10"]  # fmt: skip
SMALL = ["--param", "fast=5:15:5", "--param", "slow=20,40", "--param", "allow_short=false"]
CLI = "from fyerstrade.cli import run; run()"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _count(settings: Settings, table: str = "optimizations") -> int:
    if not settings.trading_db.exists():
        return 0
    conn = sqlite3.connect(settings.trading_db)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_run_json_has_every_trial_with_backtest_metric_names(
    walk_store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli([*RUN, *SMALL, "--workers", "2", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["id"].startswith("opt-") and report["status"] == "completed"
    assert len(report["trials"]) == 6
    assert report["pbo"] is not None and 0 <= report["pbo"] <= 1
    assert report["deflated_sharpe"] is not None
    code, out, err = _cli(
        ["backtest", "run", *RUN[2:], "--param", "fast=10", "--param", "slow=40", "--json"], capsys
    )
    assert code == 0, err
    backtest = json.loads(out)["metrics"]
    trial = next(t for t in report["trials"] if t["params"] == {"fast": 10, "slow": 40,
                                                               "allow_short": False})  # fmt: skip
    assert set(trial["metrics"]) == set(backtest)
    assert trial["metrics"] == pytest.approx(backtest)

    code, out, _ = _cli(["optimize", "list", "--json"], capsys)
    listed = json.loads(out)
    assert [r["id"] for r in listed] == [report["id"]] and listed[0]["trials"] == 6
    code, out, _ = _cli(["optimize", "show", report["id"]], capsys)
    assert code == 0 and "6 trials: " in out and "PBO" in out and "Deflated Sharpe" in out
    code, out, _ = _cli(["optimize", "delete", report["id"]], capsys)
    assert code == 0 and _count(walk_store) == 0 and _count(walk_store, "optimization_trials") == 0


def test_top_n_become_backtest_runs_rerun_with_costs(
    walk_store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli([*RUN, *SMALL, "--workers", "1", "--top", "2", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert len(report["top_runs"]) == 2
    ranked = sorted(
        (t for t in report["trials"] if t["score"] is not None), key=lambda t: -t["score"]
    )
    for saved, trial in zip(report["top_runs"], ranked, strict=False):
        code, out, _ = _cli(["backtest", "show", saved["run_id"], "--json"], capsys)
        run = json.loads(out)
        assert run["params"] == trial["params"] and run["costs"] is True
        assert run["metrics"]["sharpe"] == pytest.approx(trial["metrics"]["sharpe"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--param", "fsat=1:5"],
            "unknown parameter 'fsat' for sma_crossover (did you mean 'fast'?)",
        ),
        (["--param", "fast=50:5"], "the minimum 50 is above the maximum 5"),
        (["--param", "fast=5:50:0"], "the step must not be zero"),
        ([*SMALL, "--constraint", "fast < solw"], "names 'solw', which is not a parameter"),
        ([*SMALL, "--constraint", "fast > slow"], "excludes every combination"),
        (
            [],
            "more than the trial budget of 10,000; narrow the ranges with --param, raise --trials,"
            " or search it with --method random --trials N or --method tpe --trials N",
        ),
        ([*SMALL, "--trials", "3"], "the grid has 6 combinations, more than the trial budget of 3"),
        ([*SMALL, "--objective", "sharp"], "is not an objective (did you mean 'sharpe'?)"),
        ([*SMALL, "--method", "bayes"], "is not a method; use grid, random or tpe"),
        ([*SMALL, "--ray", "127.0.0.1:PORT"], "no Ray cluster answers at 127.0.0.1:"),
        ([*SMALL, "--from", "2025-01-01", "--to", "2025-01-31"], "no 5-minute candles for"),
        ([*SMALL, "--resume", "opt-nope"], "no optimization 'opt-nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    walk_store: Settings, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    args = [a.replace("PORT", str(_free_port())) for a in args]
    if "--from" in args:
        base = [a for a in RUN if a not in ("--from", "2026-06-01", "--to", "2026-07-31")]
    else:
        base = RUN
    if "--resume" in args:
        base = ["optimize", "run"]
        args = ["--resume", "opt-nope"]
    code, out, err = _cli([*base, *args], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert _count(walk_store) == 0


def test_a_parameter_that_is_not_optimizable_is_refused(
    ramp_store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["optimize", "run", "--strategy", "window_test", "-s", OPT_SYMBOL, "-r", "5",
            "--from", "2026-06-01", "--to", "2026-06-12", "--param", "label=a,b"]  # fmt: skip
    code, _, err = _cli(args, capsys)
    assert code == 2 and "'label' of window_test declares no bounds or choices" in err
    assert _count(ramp_store) == 0


# ---- interruptions: kill -9 and Ctrl-C, then --resume ----------------------------------------

GATED = ["optimize", "run", "--strategy", "gated_test", "-s", OPT_SYMBOL, "-r", "5",
         "--from", "2026-06-01", "--to", "2026-06-30", "--quantity", "10",
         "--param", "fast=2:12", "--param", "slow=30", "--param", "allow_short=false",
         "--min-trades", "0"]  # fmt: skip


def _stored(settings: Settings) -> tuple[str | None, list[int], str | None]:
    if not settings.trading_db.exists():
        return None, [], None
    conn = sqlite3.connect(settings.trading_db)
    try:
        row = conn.execute("SELECT opt_id, status FROM optimizations").fetchone()
        if row is None:
            return None, [], None
        nos = [r[0] for r in conn.execute(
            "SELECT trial_no FROM optimization_trials WHERE opt_id = ? ORDER BY trial_no", (row[0],)
        )]  # fmt: skip
        return row[0], nos, row[1]
    except sqlite3.OperationalError:
        return None, [], None
    finally:
        conn.close()


def _wait_at_gate(gate: Path, proc: subprocess.Popen[bytes]) -> None:
    waiting = Path(f"{gate}.waiting")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if waiting.exists():
            return
        assert proc.poll() is None, "the sweep ended before it reached the gate"
        time.sleep(0.05)
    raise AssertionError("the sweep did not reach the gate in time")


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _reference(
    settings: Settings, capsys: pytest.CaptureFixture[str], gate: Path
) -> dict[int, dict[str, object]]:
    gate.touch()
    code, out, err = _cli([*GATED, "--workers", "1", "--json"], capsys)
    assert code == 0, err
    trials = json.loads(out)["trials"]
    code, _, _ = _cli(["optimize", "delete", json.loads(out)["id"]], capsys)
    gate.unlink()
    Path(f"{gate}.waiting").unlink()
    return {t["trial"]: t["metrics"] for t in trials}


@pytest.mark.parametrize("how", ["kill -9", "ctrl-c"])
def test_an_interrupted_sweep_resumes_without_losing_or_repeating_a_trial(
    walk_store: Settings, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    gate = Path(os.environ["FYERSTRADE_TEST_GATE"])
    reference = _reference(walk_store, capsys, gate)
    assert sorted(reference) == list(range(11))  # fast 2..12, the gate at fast == 7
    env = dict(os.environ)
    proc = _start([*GATED, "--workers", "1" if how == "kill -9" else "2"], env)
    try:
        # the trial with fast == GATE_FAST (trial 5) waits at the gate; what finished is stored
        _wait_at_gate(gate, proc)
        opt_id, stored, _ = _stored(walk_store)
        assert opt_id is not None
        if how == "kill -9":
            proc.kill()
            assert proc.wait(timeout=30) == -signal.SIGKILL
        else:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 130
            err = proc.stderr.read().decode() if proc.stderr else ""
            assert f"--resume {opt_id}" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    before, kept, status = _stored(walk_store)
    assert before == opt_id and status == ("interrupted" if how == "ctrl-c" else "running")
    assert set(stored) <= set(kept) and GATE_FAST - 2 not in kept and len(kept) < 11
    gate.touch()
    code, out, err = _cli(["optimize", "run", "--resume", opt_id, "--workers", "1", "--json"],
                          capsys)  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "completed"
    numbers = [t["trial"] for t in report["trials"]]
    assert numbers == list(range(11))  # every trial once: nothing lost, nothing twice
    assert {t["trial"]: t["metrics"] for t in report["trials"]} == reference
