"""``prefetch``: ask the CPU for an array element's cache line ahead of its use, without waiting.

The kernel jumps from one signal to the next over bars where nothing can happen; at the next
signal it reads a dozen arrays at that bar (prices, times, flags, signals, the step tables), each
a cache miss once a run's arrays outgrow the caches (100,000 bars are ~11 MB). The misses came
one after another, each behind a branch on the previous one's value: on 100,000 bars a round trip
cost three times what it costs on 10,000. Asking for those lines when the jump starts lets the
memory system fetch them together, while the kernel adds up the bars in between.

A prefetch is a hint (LLVM's ``llvm.prefetch``): it never faults, changes no value and may be
ignored, so results are the same with or without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fyerstrade.backtest.vector import cache as _cache

_cache.configure()

from llvmlite import ir  # type: ignore[import-untyped]  # noqa: E402
from numba import types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

__all__ = ["prefetch"]

_I32 = ir.IntType(32)
_BYTES = ir.IntType(8).as_pointer()


@intrinsic
def _prefetch(typingctx: Any, arr: Any, row: Any, col: Any) -> Any:
    """Prefetch ``arr[col]`` of a 1-d array (``row`` ignored) or ``arr[row, col]`` of a 2-d
    one, for reading, into every cache level."""
    if not isinstance(arr, types.Array) or arr.ndim not in (1, 2):
        return None
    if not isinstance(row, types.Integer) or not isinstance(col, types.Integer):
        return None
    sig = types.void(arr, row, col)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        at = [context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 2)]
        at = at[1:] if aryty.ndim == 1 else at
        ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, aryty, ary, at, wraparound=False
        )
        fnty = ir.FunctionType(ir.VoidType(), [_BYTES, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, fnty, "llvm.prefetch.p0"
        )
        # read, keep in every cache level, data
        builder.call(fn, [builder.bitcast(ptr, _BYTES), _I32(0), _I32(3), _I32(1)])
        return context.get_dummy_value()

    return sig, codegen


prefetch: Callable[[Any, int, int], None] = _prefetch  # type: ignore[assignment]
"""``prefetch(arr, row, col)`` in compiled code (typed here for the callers' type checks)."""
