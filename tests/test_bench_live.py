"""``make bench BENCH=live``'s throughput part, on three symbols: the bench drives the live
engine through its real path with a queued feed and a clock of its own, so it breaks when the
engine's expectations of a feed or of the end of a day change (it once waited forever)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_live_throughput_bench_drains_a_session_and_verifies_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import bench_live

    monkeypatch.setattr(bench_live, "N_SYMBOLS", 3)
    monkeypatch.setattr(bench_live, "NAIVE_TICKS", 200)
    bench_live._throughput(tmp_path)
    out = capsys.readouterr().out
    assert "session of 3 symbols:" in out
    # every tick stored once and every minute's bar built (the bench asserts both), no bar
    # asked of history: the queue starts with each symbol's pre-open snapshot
    assert "stored once, every bar built" in out
    assert "-> 1,125 one-minute bars" in out  # 3 symbols x 375 minutes
