"""Evaluating on a Ray cluster (``--ray auto`` or ``--ray HOST:PORT``).

The driver connects to a cluster that is already running (``ray start --head`` on the head
node, ``ray start --address=...`` on the others; every node needs fyerstrade installed), puts the
job (configuration and bars) in the object store once, and submits one task per block with
``num_cpus=1``, keeping at most two per CPU in flight and collecting them with ``ray.wait`` as
they finish, so results are stored as they come and a crash loses only blocks in flight. The
job reaches workers explicitly as a task argument; nothing depends on the driver's globals or
environment. Workers keep the evaluators they built (per job and period) between tasks.

If this process already has Ray initialised (a test's ``ray.init(num_cpus=2)``), that cluster is
used and left running; a cluster this executor connected to is disconnected on ``close``.
A Ray address that does not answer is an :class:`~fyerstrade.errors.InputError` raised by
:meth:`RayExecutor.connect`, before anything is written.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Iterator
from typing import Any

from fyerstrade.backtest.evaluate import TrialOutcome
from fyerstrade.backtest.optimize.executors import Result, in_flight
from fyerstrade.backtest.optimize.job import (
    Block,
    EvaluationJob,
    EvaluatorCache,
    Period,
    evaluate_block,
)
from fyerstrade.errors import InputError

__all__ = ["RayExecutor"]

PROBE_SECONDS = 3.0

_cache = EvaluatorCache()


def _evaluate_on_ray(
    job: EvaluationJob, period: Period, params: list[dict[str, Any]]
) -> tuple[list[TrialOutcome], float]:
    return evaluate_block(_cache, job, period, params)


def _host_port(address: str) -> tuple[str, int] | None:
    text = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


class RayExecutor:
    """Blocks as Ray tasks on an existing cluster."""

    name = "ray"

    def __init__(self, address: str | None = "auto") -> None:
        self.address = address
        self._own = False
        self._cpus = 1
        self._job_ref: Any = None
        self._remote: Any = None
        self._pending: dict[Any, Block] = {}

    @property
    def workers(self) -> int:
        return self._cpus

    def connect(self) -> None:
        """Join the cluster (or use the one this process runs); InputError when it does not
        answer."""
        running = "ray" in sys.modules and sys.modules["ray"].is_initialized()
        if not running:
            # probe the address before importing Ray (seconds) and before it retries for a minute
            where = self.address or "auto"
            target = _host_port(where) if where != "auto" else None
            if where != "auto" and target is None:
                raise InputError(f"--ray {where!r} is not an address; use auto or HOST:PORT")
            if target is not None:
                try:
                    socket.create_connection(target, timeout=PROBE_SECONDS).close()
                except OSError:
                    raise InputError(
                        f"no Ray cluster answers at {where}; start one with `ray start --head` "
                        "or check the address (HOST:PORT of the head node)"
                    ) from None
            import ray

            try:
                ray.init(
                    address=where,
                    logging_level=logging.ERROR,
                    log_to_driver=False,
                    include_dashboard=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                hint = (
                    "no Ray cluster is running on this machine; start one with "
                    "`ray start --head` or give its address with --ray HOST:PORT"
                    if where == "auto"
                    else f"cannot join the Ray cluster at {where}"
                )
                raise InputError(f"{hint} ({str(exc).splitlines()[0][:120]})") from None
            self._own = True
        import ray

        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        self._cpus = max(1, int(resources.get("CPU", 1)))

    def open(self, job: EvaluationJob) -> None:
        import ray

        if not ray.is_initialized():
            self.connect()
        self._job_ref = ray.put(job)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_evaluate_on_ray)

    def run(self, blocks: Iterator[Block]) -> Iterator[Result]:
        import ray

        remote, job_ref = self._remote, self._job_ref
        assert remote is not None, "open() first"

        def submit(block: Block) -> Any:
            return remote.remote(job_ref, block.period, block.params)

        def finished(refs: list[Any]) -> list[Any]:
            done: list[Any] = ray.wait(refs, num_returns=1)[0]
            return done

        def result(ref: Any) -> tuple[list[TrialOutcome], float]:
            outcomes, seconds = ray.get(ref)
            return outcomes, seconds

        yield from in_flight(blocks, 2 * self._cpus, self._pending, submit, finished, result)

    def close(self) -> None:
        import ray

        for ref in self._pending:
            ray.cancel(ref, force=True)
        self._pending.clear()
        self._job_ref = None
        if self._own and ray.is_initialized():
            ray.shutdown()
        self._own = False
