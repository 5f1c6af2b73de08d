"""The README's five-minute tour, run as written on demo data (issue 13).

The demo store is filled from the simulator exactly as ``fyerstrade demo`` fills it (one symbol,
one month, to keep the test short). Each command of the tour's command-line step runs through the
CLI in order; dates in it are replaced by dates taken from what the store holds (so the README
never needs a hard-coded range that goes stale), and ``RUN_ID`` by the run the tour saved.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import date, timedelta
from pathlib import Path

import pytest

from fyerstrade import cli
from fyerstrade.calendar import ist_date
from fyerstrade.domain import Resolution
from fyerstrade.sim import SimServer
from fyerstrade.store.candles import candle_stats
from fyerstrade.store.db import connect

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TODAY = date(2026, 11, 20)  # the sim fixture's clock


def tour_commands(step_no: int = 2) -> list[str]:
    """The shell lines of the tour's step ``step_no``, continuation lines joined."""
    step = README.split(f"{step_no}. **", 1)[1].split(f"{step_no + 1}. **", 1)[0]
    block = re.search(r"```bash\n(.*?)```", step, flags=re.S)
    assert block is not None, f"the tour's step {step_no} has no bash block"
    text = block.group(1).replace("\\\n", " ")
    return [line.split("  #", 1)[0].strip() for line in text.splitlines() if line.strip()]


def test_the_tour_has_the_commands_a_newcomer_needs() -> None:
    lines = tour_commands()
    assert lines[0].startswith("source .venv/bin/activate")
    assert any(line.startswith("export FYERSTRADE_DATA_DIR=") for line in lines)
    runs = [line for line in lines if line.startswith("fyerstrade backtest run")]
    assert runs and any("--from" not in r for r in runs)  # the stored range by default
    assert any(line.startswith("fyerstrade backtest report RUN_ID") for line in lines)


@pytest.mark.e2e
def test_the_tour_runs_on_demo_data(
    sim: SimServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fyerstrade.demo import DemoOptions, demo_settings, fill_store

    data_dir = tmp_path / "demo"
    options = DemoOptions(data_dir=data_dir, log_dir=tmp_path / "logs",
                          symbols=("NSE:SBIN-EQ",), months=1, open_browser=False)  # fmt: skip
    fill_store(demo_settings(options, sim.url), options, TODAY, lambda _: None)
    conn = connect(data_dir / "historical_market_data.sqlite")
    try:
        stats = {s.resolution: s for s in candle_stats(conn, "NSE:SBIN-EQ")}
    finally:
        conn.close()
    first, last = ist_date(stats[Resolution.M5].first_ts), ist_date(stats[Resolution.M5].last_ts)
    start = first + timedelta(days=7)  # a week into what is stored, ending on the last day
    monkeypatch.chdir(tmp_path)

    run_id = ""
    ran = 0
    for line in tour_commands():
        if line.startswith("source "):
            continue
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            assert value == "data/demo"
            monkeypatch.setenv(key, str(data_dir))
            continue
        words = shlex.split(line)
        assert words[0] == "fyerstrade", line
        args = words[1:]
        for opt, day in (("--from", start), ("--to", last)):
            if opt in args:
                args[args.index(opt) + 1] = day.isoformat()
        args = [run_id if a == "RUN_ID" else a for a in args]
        code = cli.main(args)
        out = capsys.readouterr()
        assert code == 0, f"`{line}` failed: {out.err}"
        ran += 1
        if args[:2] == ["backtest", "run"]:
            if "--json" in args:
                data = json.loads(out.out)
                run_id = data["run_id"]
                assert (data["from"], data["to"]) == (start.isoformat(), last.isoformat())
                assert data["source_resolutions"] == {"NSE:SBIN-EQ": "1"}
            else:
                assert f"note: period {first} → {last}" in out.err
                run_id = re.findall(r"saved as (\S+):", out.out)[-1]
            assert "note: 15-minute bars built from 1-minute bars" in out.err
        if args[:2] == ["backtest", "report"]:
            assert (tmp_path / args[-1]).stat().st_size > 0
    assert ran >= 6

    # step 3, as written: a sweep (vectorized engine) with its best 3 saved as runs, and a
    # walk-forward, over everything stored
    sweep, walk = tour_commands(3)
    code = cli.main([*shlex.split(sweep)[1:], "--json"])
    out = capsys.readouterr()
    assert code == 0, f"`{sweep}` failed: {out.err}"
    report = json.loads(out.out)
    assert report["engine"] == "vector" and len(report["trials"]) == 90  # fast < slow
    assert report["status"] == "completed" and len(report["top_runs"]) == 3
    assert report["pbo"] is None or 0 <= report["pbo"] <= 1
    code = cli.main([*shlex.split(walk)[1:], "--json"])
    out = capsys.readouterr()
    assert code == 0, f"`{walk}` failed: {out.err}"
    walked = json.loads(out.out)
    assert walked["status"] == "completed" and len(walked["folds"]) == 5
