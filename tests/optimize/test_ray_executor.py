"""The Ray executor on a local two-CPU cluster (one per module, always shut down) returns the
same trials and metrics as the serial executor, in the event engine (a user strategy loaded on the
workers from the folder the job names) and in the vectorized engine (the kernel loaded from its
on-disk cache in each worker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fyerstrade.backtest.optimize.executors import SerialExecutor
from fyerstrade.backtest.optimize.ray_executor import RayExecutor
from fyerstrade.backtest.optimize.runner import engine_for
from fyerstrade.config import Settings

from .test_sweep_executors import _request, _sweep

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[None]:
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except Exception as exc:  # Ray's own start-up, not ours
        ray.shutdown()
        if "timed out during startup" in str(exc):
            # the raylet gives its agents a fixed 15 s to start (ray-project/ray#65983): on a
            # machine loaded far beyond its cores that is not enough, and nothing here can wait
            pytest.skip("Ray's node could not start its agents in Ray's fixed 15 s (overloaded)")
        raise
    try:
        yield
    finally:
        ray.shutdown()


def _rows(trials: list[Any]) -> list[tuple[Any, ...]]:
    return [(t.trial_no, t.params, t.metrics, t.trades, t.returns.tolist()) for t in trials]


@pytest.mark.parametrize("strategy", ["gated_test", "sma_crossover"])  # event / vector engine
def test_ray_returns_the_serial_trials(
    local_cluster: None, walk_store: Settings, strategy: str
) -> None:
    request = _request(
        walk_store, strategy, {"fast": "3:12:3", "slow": "20,30", "allow_short": "false"},
    )  # fmt: skip
    assert engine_for(request.config, walk_store) == (
        "vector" if strategy == "sma_crossover" else "event"
    )
    _, serial = _sweep(walk_store, request, SerialExecutor())
    executor = RayExecutor(None)
    executor.connect()
    assert executor.workers == 2
    _, on_ray = _sweep(walk_store, request, executor)
    assert len(serial) == 8
    assert _rows(on_ray) == _rows(serial)
    assert ray.is_initialized()  # the test's cluster is left to its owner
