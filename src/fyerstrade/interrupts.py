"""Ctrl-C is not lost when a C callback swallows it.

Python turns SIGINT into a :class:`KeyboardInterrupt` raised wherever the main thread is running
Python code. When that is a callback called from C through ctypes (numba's compiler calls
llvmlite's object-cache hooks that way while it compiles a kernel), ctypes prints "Exception
ignored on calling ctypes callback function" and drops it: the program goes on as if nobody had
pressed Ctrl-C, and a dashboard's Stop (which sends SIGINT to the sweep's process) is lost.

Inside :func:`remembered_interrupts` a SIGINT still raises :class:`KeyboardInterrupt` at once,
and is also remembered; long loops call :func:`check_interrupted` at their safe points (between
a sweep's blocks), which raises it again if it was swallowed. Nothing changes when SIGINT is
ignored or handled by someone else (the handler is only swapped for Python's default one).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["check_interrupted", "remembered_interrupts"]

_requested = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextmanager
def remembered_interrupts() -> Iterator[None]:
    """Remember every SIGINT while inside (main thread, default handler only)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _requested.clear()
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _requested.clear()


def check_interrupted() -> None:
    """Raise :class:`KeyboardInterrupt` if a SIGINT came since :func:`remembered_interrupts`
    began (one that raised already and was swallowed on the way)."""
    if _requested.is_set():
        raise KeyboardInterrupt
