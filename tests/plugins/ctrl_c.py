"""A Ctrl-C that lands inside a callback called from C: ctypes prints it and drops it, as it does
when one lands in llvmlite's object-cache hook while numba compiles a kernel."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
from typing import Any

__all__ = ["ctrl_c_inside_a_c_callback"]

_COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def ctrl_c_inside_a_c_callback() -> list[type[BaseException]]:
    """Sort two ints with libc's ``qsort``, whose comparator (ours, called from C) sends this
    process SIGINT: the handler's KeyboardInterrupt is raised inside the callback and handed to
    ``sys.unraisablehook`` (ctypes' "Exception ignored on calling ctypes callback function"),
    not to us. Returns the types of what was dropped so."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    dropped: list[type[BaseException]] = []

    def compare(a: int | None, b: int | None) -> int:
        signal.raise_signal(signal.SIGINT)
        return 0

    def unraisable(info: Any) -> None:
        dropped.append(info.exc_type)

    values = (ctypes.c_int * 2)(2, 1)
    hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        libc.qsort(values, 2, ctypes.sizeof(ctypes.c_int), _COMPARE(compare))
    finally:
        sys.unraisablehook = hook
    return dropped
