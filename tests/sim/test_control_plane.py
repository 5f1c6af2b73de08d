"""``fyerstrade sim`` as a separate process, driven through the ``/_sim/`` control plane."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fyerstrade.errors import ConfigError
from fyerstrade.sim import SimConfig, SimServer
from plugins.sim import free_port

FYERSTRADE = str(Path(sys.executable).parent / "fyerstrade")  # the console script


@pytest.fixture(scope="module")
def sim_process() -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    port = free_port()
    proc = subprocess.Popen(
        [FYERSTRADE, "sim", "--port", str(port), "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the server has bound its port
        assert first.startswith("Fyers simulator listening on http://127.0.0.1:"), first
        banner = [first]
        while not banner[-1].startswith("Press Ctrl-C"):
            banner.append(proc.stdout.readline())
        yield proc, f"http://127.0.0.1:{port}", "".join(banner)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_control_plane_over_http(sim_process: tuple[subprocess.Popen[str], str, str]) -> None:
    _, url, _ = sim_process
    with requests.Session() as http:
        assert http.get(f"{url}/data/quotes", timeout=10).status_code == 401
        stats = http.get(f"{url}/_sim/stats", timeout=10).json()
        assert stats["requests"] == {"/data/quotes": 1}
        assert stats["rejected_429"] == 0 and stats["history"] == []

        faults = http.post(f"{url}/_sim/faults", json={"http_5xx": 1, "slow": 0}, timeout=10)
        assert faults.status_code == 200 and faults.json()["http_5xx"] == 1
        assert http.get(f"{url}/sym_details/NSE_CM.csv", timeout=10).status_code == 502
        assert http.get(f"{url}/sym_details/NSE_CM.csv", timeout=10).status_code == 200

        bad = http.post(f"{url}/_sim/faults", json={"http_500": 3}, timeout=10)
        assert bad.status_code == 400 and "http_5xx" in bad.json()["message"]

        http.post(f"{url}/_sim/faults", json={"expired_token": True}, timeout=10)
        assert http.post(f"{url}/_sim/reset", timeout=10).json() == {"s": "ok"}
        stats = http.get(f"{url}/_sim/stats", timeout=10).json()
        assert stats["requests"] == {}
        faults_now = http.post(f"{url}/_sim/faults", json={}, timeout=10).json()
        assert faults_now["expired_token"] is False


def test_cli_prints_credentials_and_stops_cleanly_on_ctrl_c(
    sim_process: tuple[subprocess.Popen[str], str, str],
) -> None:
    proc, url, banner = sim_process
    assert f"FYERSTRADE_FYERS_URL={url}" in banner
    assert "FYERS_APP_ID=SIM-100" in banner and "FYERS_SECRET_KEY=sim-secret" in banner
    assert requests.get(f"{url}/sym_details/NSE_CM.csv", timeout=10).ok
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_port_in_use_is_one_clear_error(sim: SimServer) -> None:
    second = SimServer(SimConfig(port=sim.port))
    with pytest.raises(ConfigError, match="--port"):
        second.start()
