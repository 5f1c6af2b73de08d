"""Helpers for the simulator's tests: an SDK client logged in to the ``sim`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fyerstrade.sim import SimServer
from plugins.sim import sdk_client


@pytest.fixture
def fyers(sdk_at_sim: SimServer, sim_token: str, tmp_path: Path) -> Iterator[Any]:
    """An official ``FyersModel`` with a valid token, talking to ``sim`` (SDK logs in tmp)."""
    with sdk_client(sim_token, tmp_path / "sdk-logs") as client:
        yield client
