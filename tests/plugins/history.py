"""Fixtures for the history fetch tests.

* ``remote_sim``: the simulator in a child process (seed 42, clock pinned to ``SIM_NOW``), driven
  through its HTTP control plane. Large fetches need it: in-process, the simulator's event loop
  shares the GIL with the fetcher's threads, stalls, and then admits a burst of queued requests
  at once — a test artefact, not something a real server does.
* ``fetch_login(url)``: point our settings at a simulator URL and write a token file holding a
  token from that simulator (via the official SDK's login flow). The token file's own expiry is
  set from the wall clock, because the token's JWT expiry follows the simulator's pinned clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from fyerstrade.config import Settings, load_settings
from fyerstrade.fyers.tokens import TokenRecord, save_token
from fyerstrade.sim import DEFAULT_APP_ID, DEFAULT_SECRET

_CHILD = """
import sys
from fyerstrade.sim import SimConfig, SimServer
now = int(sys.argv[1])
server = SimServer(SimConfig(port=0, seed=42, clock=lambda: now))
print(server.start(), flush=True)
sys.stdin.read()
server.stop()
"""


class RemoteSim:
    """A simulator running in a child process."""

    def __init__(self, now: int | None = None) -> None:
        from plugins.sim import SIM_NOW  # imported late: plugins load in name order

        self.now = SIM_NOW if now is None else now
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self.now)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("the simulator child process did not start")

    def stats(self) -> dict[str, Any]:
        reply = requests.get(f"{self.url}/_sim/stats", timeout=10)
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data

    def history(self) -> list[tuple[str, str, int, int]]:
        return [
            (h["symbol"], h["resolution"], int(h["range_from"]), int(h["range_to"]))
            for h in self.stats()["history"]
        ]

    def faults(self, **switches: Any) -> None:
        requests.post(f"{self.url}/_sim/faults", json=switches, timeout=10).raise_for_status()

    def close(self) -> None:
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


@pytest.fixture
def remote_sim() -> Iterator[RemoteSim]:
    sim = RemoteSim()
    try:
        yield sim
    finally:
        sim.close()


@pytest.fixture
def fetch_login(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Settings]:
    def login(url: str) -> Settings:
        from fyers_apiv3 import fyersModel

        from plugins.sim import free_port, sdk_login

        monkeypatch.setenv("FYERSTRADE_FYERS_URL", url)
        monkeypatch.setenv("FYERS_APP_ID", DEFAULT_APP_ID)
        monkeypatch.setenv("FYERS_SECRET_KEY", DEFAULT_SECRET)
        monkeypatch.setenv("FYERS_REDIRECT_URI", f"http://127.0.0.1:{free_port()}/fyers/callback")
        monkeypatch.setattr(fyersModel.Config, "API", f"{url}/api/v3")
        monkeypatch.setattr(fyersModel.Config, "DATA_API", f"{url}/data")
        token = sdk_login(None)  # type: ignore[arg-type]  # the SDK's Config points at url
        settings = load_settings(env_file=None)
        now = int(time.time())
        save_token(
            settings.token_file,
            TokenRecord(
                access_token=token, app_id=DEFAULT_APP_ID, issued_at=now, expires_at=now + 3600
            ),
        )
        assert os.environ["FYERSTRADE_FYERS_URL"] == url
        return settings

    return login
