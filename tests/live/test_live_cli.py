"""``fyerstrade live start|stop|status|run`` and ``fyerstrade sim --speed/--start`` with real
processes: the engine process is the real ``live run`` (scheduler included), on a simulator
clock set to an evening, so it sleeps until the next session (state ``waiting``) and needs no
token or network beyond 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from datetime import time as dtime

import pytest

from fyerstrade import cli
from fyerstrade.calendar import IST, get_calendar, ist_epoch
from fyerstrade.config import Settings
from fyerstrade.live.control import engine_pid, engine_status, read_pid_file, stop_engine
from fyerstrade.sim import SimConfig, SimServer
from fyerstrade.sim.datasocket import MarketClock, hub_for
from plugins.datasocket import MARKET_DAY, market_year_calendar, wait_for
from plugins.store import write_symbol_master

pytestmark = pytest.mark.e2e

EVENING = ist_epoch(MARKET_DAY, dtime(20, 0))
NEXT_DAY = get_calendar(assume_weekdays=True).next_trading_day(MARKET_DAY)


@pytest.fixture
def evening_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    """A simulator whose market clock shows 20:00 IST on a trading day, at real speed."""
    clock = MarketClock(EVENING, 1.0)
    server = SimServer(SimConfig(port=0, seed=42, clock=clock.now))
    hub_for(server.state).clock = clock
    server.start()
    monkeypatch.setenv("FYERSTRADE_FYERS_URL", server.url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def engine_settings(evening_sim: SimServer, settings: Settings) -> Iterator[Settings]:
    """A valid live config in the data dir; any engine still running at the end is stopped."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.live_config_file.write_text(
        "strategy: sma_crossover\nsymbols: [NSE:SBIN-EQ]\nwarmup_bars: 0\n", encoding="utf-8"
    )
    write_symbol_master(settings, ["NSE:SBIN-EQ"])  # `live start` checks symbols against it
    market_year_calendar(settings.data_dir)  # the engine waits for the next session's year
    yield settings
    stop_engine(settings, timeout=5)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def wait_for_state(settings: Settings, state: str, timeout: float = 30.0) -> None:
    wait_for(lambda: engine_status(settings).state == state, timeout, f"state {state}")


def test_start_status_stop_and_a_second_start_refused(
    engine_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    s = engine_settings
    code, out, err = run_cli(capsys, "live", "start")
    assert code == 0, err
    started = re.search(r"live engine started \(pid (\d+)\)", out)
    assert started, out
    pid = int(started.group(1))
    assert engine_pid(s) == pid
    entry = read_pid_file(s.live_pid_file)
    assert entry is not None and entry.pid == pid and entry.started_at > 0

    code, out, err = run_cli(capsys, "live", "start")
    assert code == 2
    assert err.strip() == (
        f"error: the live engine is already running (pid {pid}); "
        "stop it with `fyerstrade live stop`"
    )
    assert engine_pid(s) == pid  # the first one is untouched

    wait_for_state(s, "waiting")
    code, out, _ = run_cli(capsys, "live", "status")
    assert code == 0
    assert f"state:      waiting (pid {pid})" in out
    assert "symbols:    NSE:SBIN-EQ" in out
    assert f"next start: {NEXT_DAY.isoformat()} 09:10:00 IST" in out
    code, out, _ = run_cli(capsys, "live", "status", "--json")
    data = json.loads(out)
    assert (data["state"], data["pid"], data["strategy"]) == ("waiting", pid, "sma_crossover")
    assert data["uptime_seconds"] >= 0

    t0 = time.monotonic()
    code, out, _ = run_cli(capsys, "live", "stop")
    assert time.monotonic() - t0 < 10
    assert code == 0
    assert out.startswith(f"live engine stopped (pid {pid})")
    assert not s.live_pid_file.exists()
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the engine process to be reaped")

    code, out, _ = run_cli(capsys, "live", "status")
    assert code == 0 and "state:      stopped" in out
    code, out, _ = run_cli(capsys, "live", "stop")
    assert code == 0 and "not running; nothing to stop" in out


def test_start_cleans_a_stale_pid_file(
    engine_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    s = engine_settings
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    s.live_pid_file.write_text(f"{int(dead.stdout)}\n{time.time():.3f}\n")
    code, out, err = run_cli(capsys, "live", "start")
    assert code == 0, err
    entry = read_pid_file(s.live_pid_file)
    assert entry is not None and entry.pid != int(dead.stdout)
    assert f"(pid {entry.pid})" in out
    assert stop_engine(s, timeout=10)


def test_start_with_a_bad_config_fails_in_the_foreground(
    engine_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    s = engine_settings
    s.live_config_file.write_text("strategy: sma_crossover\nrisk: {max_open_position: 2}\n")
    code, _, err = run_cli(capsys, "live", "start")
    assert code == 2
    assert err.strip().endswith(
        "unknown key 'risk.max_open_position' (did you mean 'max_open_positions'?)"
    )
    assert not s.live_pid_file.exists()


def test_status_with_nothing_running(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "live", "status")
    assert code == 0
    assert "state:      stopped" in out and "the engine is not running" in out
    assert "positions:  none" in out


def test_run_in_the_foreground_stops_on_sigint(engine_settings: Settings) -> None:
    s = engine_settings
    proc = subprocess.Popen(
        [sys.executable, "-m", "fyerstrade", "live", "run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        wait_for(lambda: engine_pid(s) == proc.pid, 30, "live run to take the PID file")
        wait_for_state(s, "waiting")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert not s.live_pid_file.exists()
    st = engine_status(s)
    assert (st.state, st.message) == ("stopped", "stopped on request")


def test_run_with_a_bad_config_is_one_line_and_leaves_no_pid_file(
    engine_settings: Settings,
) -> None:
    s = engine_settings
    s.live_config_file.write_text("strategy: no_such_strategy\n")
    done = subprocess.run(
        [sys.executable, "-m", "fyerstrade", "live", "run", "--once"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown strategy 'no_such_strategy'" in lines[0]
    assert not s.live_pid_file.exists()


def test_sim_speed_and_start_set_one_market_clock() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fyerstrade", "sim", "--port", "0", "--start", "10:00",
         "--speed", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        head = [proc.stdout.readline() for _ in range(2)]
        listening = re.search(r"listening on (http://127\.0\.0\.1:\d+)", head[0])
        assert listening, head
        url = listening.group(1)
        day = get_calendar(assume_weekdays=True).next_trading_day(datetime.now(IST).date())
        assert f"market time {day.isoformat()} 10:00:" in head[1]
        assert "speed 120x" in head[1]
        with urllib.request.urlopen(f"{url}/_sim/clock", timeout=5) as resp:
            clock = json.loads(resp.read())
        assert clock["speed"] == 120
        start = ist_epoch(day, dtime(10, 0))
        assert start <= clock["now"] < start + 120 * 60  # well under a wall minute has passed
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_sim_rejects_a_bad_speed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "sim", "--port", "0", "--speed", "0")
    assert code == 2 and "--speed" in err


def test_status_shows_the_engine_latency_when_it_has_some(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from fyerstrade.live.status import EngineStatus, write_status

    write_status(
        settings.live_status_file,
        EngineStatus(state="stopped", ticks=12_345, tick_p99_ms=0.42, strategy_p99_ms=1.5),
    )
    code, out, _ = run_cli(capsys, "live", "status")
    assert code == 0
    assert "latency:    tick p99 0.42 ms   tick→strategy p99 1.50 ms" in out
    assert "ticks:      12,345" in out
