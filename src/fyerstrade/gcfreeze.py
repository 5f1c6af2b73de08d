"""Keeping a run's long-lived objects out of the garbage collector's passes, without undoing
a freeze of whoever runs it.

A backtest or a live session builds objects that live as long as it does (bars, warm-up arrays,
instruments, the calendar) and then creates many short-lived ones. :func:`gc.freeze` moves what
exists into the permanent generation, so the collector's passes over the young objects stay
short; :func:`gc.unfreeze` at the end hands them back. But ``gc.unfreeze()`` hands back
*everything* frozen, also what a caller froze before the run: a process-pool worker that froze
the heap it inherited from its parent at fork, a test session that froze what it imported.
Their every full collection would then walk that whole heap again (and, in a forked worker,
write to every page of it).

So a caller that keeps the heap frozen for good says so with :func:`freeze_for_good`, and
:class:`RunFreeze` freezes only when nothing is frozen: under a caller's freeze it freezes
nothing and unfreezes nothing (what the run builds stays collectable). (``gc.get_freeze_count``
walks the whole frozen list: it is asked only when no caller said so.)"""

from __future__ import annotations

import gc
from types import TracebackType

__all__ = ["RunFreeze", "freeze_for_good"]

_held = False  # freeze_for_good() ran in this process (inherited by a fork, as the freeze is)


def freeze_for_good() -> None:
    """Freeze everything that exists now for the rest of the process (a pool worker at its
    start, a test session after collection); runs leave it frozen."""
    global _held
    gc.freeze()
    _held = True


class RunFreeze:
    """``with RunFreeze() as frozen:`` (or :meth:`freeze` ... :meth:`unfreeze`) — call
    :meth:`freeze` again as the run builds more long-lived objects; everything is unfrozen at
    the end. Does nothing under a caller's freeze (see the module docstring)."""

    def __init__(self) -> None:
        self.owned = not _held and gc.get_freeze_count() == 0

    def freeze(self) -> None:
        """Move what exists now out of the collector's sight (until the end of the run)."""
        if self.owned:
            gc.freeze()

    def __enter__(self) -> RunFreeze:
        self.freeze()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unfreeze()

    def unfreeze(self) -> None:
        """The run is over: hand what it froze back to the collector."""
        if self.owned:
            gc.unfreeze()
