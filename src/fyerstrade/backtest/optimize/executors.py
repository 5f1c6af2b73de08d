"""Where trials are evaluated: one small interface, three executors.

``open(job)`` ships the job (configuration and bars) to the workers once; ``run(blocks)`` pulls
blocks from an iterator only when a worker is free and yields ``(block, outcomes, seconds)`` as
blocks finish, in completion order; ``close()`` releases everything. The search method produces
the blocks lazily, so the executor never holds more than ``slots`` blocks and an ask-and-tell
method asks only when a result can be used.

- :class:`SerialExecutor`: in this process, one block at a time (tests, debugging, one core);
- :class:`PoolExecutor`: a process pool on every core (the default). The bars go into one
  shared memory block that each worker maps once at start; only parameter sets and outcomes
  cross the process boundary. Where workers are forked, the driver loads the vectorized
  kernel first and they inherit it. Workers ignore Ctrl-C; a driver stopping early has them
  abandon their blocks (:data:`ABANDON_SIGNAL`) and kills only one that does not;
- ``RayExecutor`` (``ray_executor.py``): tasks on a Ray cluster, the job put once in its object
  store.

A worker that dies (killed, out of memory) raises :class:`WorkerLostError`; what finished before is
already stored, so ``--resume`` continues from there.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory
from typing import Any, Protocol, TypeVar

from fyerstrade.backtest.evaluate import TrialOutcome
from fyerstrade.backtest.optimize.job import (
    Block,
    EvaluationJob,
    EvaluatorCache,
    Layout,
    Period,
    bars_from_shared,
    bars_to_shared,
    evaluate_block,
)
from fyerstrade.errors import FyersTradeError
from fyerstrade.gcfreeze import freeze_for_good

__all__ = ["Executor", "PoolExecutor", "SerialExecutor", "WorkerLostError", "default_workers"]

Result = tuple[Block, list[TrialOutcome], float]
_H = TypeVar("_H")  # a submitted block's handle: a future, a Ray object reference


def in_flight(
    blocks: Iterator[Block],
    slots: int,
    pending: dict[_H, Block],
    submit: Callable[[Block], _H],
    finished: Callable[[list[_H]], Iterable[_H]],
    result: Callable[[_H], tuple[list[TrialOutcome], float]],
) -> Iterator[Result]:
    """Keep up to ``slots`` blocks submitted and yield each block's result as it finishes.
    ``pending`` (handle → block) holds what is still running when the consumer stops, for the
    executor's ``close`` to cancel; ``finished`` waits until at least one handle is done."""
    exhausted = False
    while True:
        while not exhausted and len(pending) < slots:
            block = next(blocks, None)
            if block is None:
                exhausted = True
                break
            pending[submit(block)] = block
        if not pending:
            return
        for handle in finished(list(pending)):
            block = pending.pop(handle)
            outcomes, seconds = result(handle)
            yield block, outcomes, seconds


class WorkerLostError(FyersTradeError):
    """A worker process died while evaluating."""


class Executor(Protocol):
    """Evaluates blocks of trials somewhere."""

    name: str

    @property
    def workers(self) -> int:
        """How many blocks run at once."""
        ...

    def open(self, job: EvaluationJob) -> None: ...

    def run(self, blocks: Iterator[Block]) -> Iterator[Result]: ...

    def close(self) -> None: ...


def default_workers() -> int:
    """Every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class SerialExecutor:
    """Evaluates in this process, one block after the other."""

    name = "serial"

    def __init__(self) -> None:
        self._job: EvaluationJob | None = None
        self._cache = EvaluatorCache()

    @property
    def workers(self) -> int:
        return 1

    def open(self, job: EvaluationJob) -> None:
        self._job = job

    def run(self, blocks: Iterator[Block]) -> Iterator[Result]:
        assert self._job is not None, "open() first"
        for block in blocks:
            outcomes, seconds = evaluate_block(self._cache, self._job, block.period, block.params)
            yield block, outcomes, seconds

    def close(self) -> None:
        self._job = None
        self._cache = EvaluatorCache()


# ---- process pool --------------------------------------------------------------------------

_worker_job: EvaluationJob | None = None
_worker_shm: shared_memory.SharedMemory | None = None
_worker_cache = EvaluatorCache()
_worker_evaluating = False  # inside a block's evaluation (where an abandon may stop it)
_worker_abandoned = False  # the driver stopped: blocks still queued for this worker are dropped

#: What the driver sends its workers when it stops early (Ctrl-C, a worker lost): a worker
#: evaluating a block abandons it, and its pool sends that back as one whole message; a worker
#: between blocks (perhaps sending a result) ignores it. Killing a worker instead can cut a
#: result in the middle of the pool's pipe, and the pool's reader then waits forever for the
#: rest of it: the process never ends.
ABANDON_SIGNAL: signal.Signals | None = getattr(signal, "SIGUSR1", None)
#: How long a stopping driver waits for its workers to abandon their blocks before it kills
#: them (a trial deep in compiled code notices only when it returns to Python).
ABANDON_GRACE_SECONDS = 30.0


class BlockAbandoned(BaseException):
    """A worker's block stopped because the driver stopped (not an error of the trials: a
    BaseException, so nothing on the way records it as a refused trial)."""


def _on_abandon(signum: int, frame: object) -> None:
    global _worker_abandoned
    _worker_abandoned = True
    if _worker_evaluating:
        raise BlockAbandoned("the sweep stopped")


def _init_worker(job: EvaluationJob, shm_name: str, layout: Layout) -> None:
    """Pool worker start: map the shared bars once; Ctrl-C belongs to the driver. What the
    worker inherited from the driver at fork is frozen (out of the collector's sight): each
    block's full collection then walks the worker's own objects, not the driver's whole heap
    (a dashboard or a test session: hundreds of thousands of objects), and never writes to
    the pages it shares with the driver (``fyerstrade.gcfreeze``)."""
    global _worker_job, _worker_shm
    freeze_for_good()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if ABANDON_SIGNAL is not None:
        signal.signal(ABANDON_SIGNAL, _on_abandon)
    _worker_shm = shared_memory.SharedMemory(name=shm_name)
    job.bars = bars_from_shared(_worker_shm, layout)
    _worker_job = job


def _evaluate_in_worker(
    period: Period, params: list[dict[str, Any]]
) -> tuple[list[TrialOutcome], float]:
    global _worker_evaluating
    assert _worker_job is not None
    if _worker_abandoned:
        raise BlockAbandoned("the sweep stopped")
    _worker_evaluating = True
    try:
        return evaluate_block(_worker_cache, _worker_job, period, params)
    finally:
        _worker_evaluating = False


def _context() -> Any:
    """``fork`` where it exists (workers start in milliseconds with everything imported),
    else ``spawn``."""
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


class PoolExecutor:
    """A process pool; the bars reach each worker once, through shared memory."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None
        self._shm: shared_memory.SharedMemory | None = None
        self._pending: dict[Future[tuple[list[TrialOutcome], float]], Block] = {}

    @property
    def workers(self) -> int:
        return self._workers

    def open(self, job: EvaluationJob) -> None:
        context = _context()
        if context.get_start_method() == "fork":
            job.load_kernel()  # every worker inherits it
        self._shm, layout = bars_to_shared(job.bars)
        self._pool = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(job.without_bars(), self._shm.name, layout),
        )

    def run(self, blocks: Iterator[Block]) -> Iterator[Result]:
        pool = self._pool
        assert pool is not None, "open() first"

        def submit(block: Block) -> Future[Any]:
            return pool.submit(_evaluate_in_worker, block.period, block.params)

        def finished(futures: list[Future[Any]]) -> Iterable[Future[Any]]:
            return wait(futures, return_when=FIRST_COMPLETED)[0]

        def result(fut: Future[Any]) -> tuple[list[TrialOutcome], float]:
            try:
                outcomes, seconds = fut.result()
            except BrokenProcessPool:
                raise WorkerLostError(
                    "a worker process died (killed, or out of memory?); every finished "
                    "trial is stored"
                ) from None
            return outcomes, seconds

        yield from in_flight(blocks, 2 * self._workers, self._pending, submit, finished, result)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            for fut in self._pending:
                fut.cancel()
            busy = [f for f in self._pending if not f.done()]
            if busy:  # stopped early: do not wait for blocks nobody will read
                _abandon(pool, busy)
            pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
        shm, self._shm = self._shm, None
        if shm is not None:
            shm.close()
            shm.unlink()


def _abandon(pool: ProcessPoolExecutor, busy: list[Future[Any]]) -> None:
    """Have the workers drop the blocks they are evaluating (:data:`ABANDON_SIGNAL`), wait for
    those futures to end, and kill the workers only if they did not within the grace (or where
    the signal does not exist)."""
    processes = list(getattr(pool, "_processes", {}).values())
    if ABANDON_SIGNAL is not None:
        for proc in processes:
            if proc.pid is not None and proc.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, ABANDON_SIGNAL)
        if not wait(busy, timeout=ABANDON_GRACE_SECONDS).not_done:
            return
    for proc in processes:
        proc.terminate()
