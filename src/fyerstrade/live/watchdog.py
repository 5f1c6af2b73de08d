"""The live watchdog: a strategy call that does not return within a limit stops trading.

:class:`LiveTrader` runs strategy code (``on_bars`` → ``on_data``; the paper broker's fills →
``on_fill``) inside ``with watchdog.watching(what, symbols, ts):``. A daemon thread looks every
``poll`` seconds; a call running longer than ``limit`` seconds on the injected monotonic clock
(``strategy_seconds`` of the live config) gets a :class:`StrategyTimeoutError` raised inside it
— CPython's asynchronous exception, which stops a Python loop or a slow computation at its next
bytecode. The exception is a :class:`StrategyError` whose message names the strategy, what it
was doing, the symbols, the bar and the line it was running (read from the thread's frame when
the watchdog fired), so the live engine stops with that reason as with any strategy error.

Code blocked inside one C call (a ``time.sleep(3600)``, a socket read) sees the exception only
when that call returns; the watchdog then reports the stuck strategy once through
``on_stuck(reason)`` (the engine's state turns to ``error`` with the reason), so the status the
dashboard and ``live status`` show says why nothing trades any more.

Entering and leaving a watched call costs a clock reading and one uncontended lock; nothing is
allocated per call.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import TracebackType

from fyerstrade.calendar import to_ist
from fyerstrade.errors import StrategyError
from fyerstrade.strategies.location import frame_location

__all__ = ["StrategyTimeoutError", "Watchdog"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05


class StrategyTimeoutError(StrategyError):
    """A strategy call ran past the watchdog's limit. Raised asynchronously by class, so each
    firing makes a subclass carrying its own ``reason`` (the message)."""

    reason = "the strategy did not return within the watchdog's limit"

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or (self.reason,)))


class Watchdog:
    """See the module docstring. ``strategy_cls`` is used to name the strategy's own line."""

    def __init__(
        self,
        name: str,
        limit: float,
        *,
        monotonic: Callable[[], float],
        strategy_cls: type | None = None,
        on_stuck: Callable[[str], None] | None = None,
        poll: float = POLL_SECONDS,
    ) -> None:
        if not limit > 0:
            raise ValueError("the watchdog's limit must be positive")
        self.name = name
        self.limit = limit
        self._monotonic = monotonic
        self._cls = strategy_cls
        self._on_stuck = on_stuck
        self._poll = poll
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # the call being watched (written by the trading thread; _call last, 0: none)
        self._call = 0
        self._count = 0
        self._since = 0.0
        self._what = ""
        self._symbols: str | Sequence[str] = ()
        self._ts = 0
        self._thread_id = 0
        self._fired = 0  # the call a StrategyTimeoutError was raised in
        self._reported = 0  # the call reported stuck
        self.fired: list[str] = []  # every reason the watchdog gave (what tests read)
        self.polls = 0  # looks taken (tests wait for some to pass)

    # ------------------------------------------------------------------ the trading thread

    def watching(self, what: str, symbols: str | Sequence[str], ts: int) -> Watchdog:
        """Watch the strategy call that follows (``with``): ``what`` it is (``on_data``),
        the ``symbols`` and the bar time ``ts`` it is about."""
        if self._thread is None:
            self.start()
        self._what, self._symbols, self._ts = what, symbols, ts
        self._thread_id = threading.get_ident()
        self._since = self._monotonic()
        self._count += 1
        self._call = self._count
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            call, self._call = self._call, 0
            if self._fired != call:
                return
            # Fired: if the call returned (or raised) before the exception arrived, it is still
            # pending and would go off anywhere in the engine: withdraw it, raise it here.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread_id), ctypes.c_void_p(0)
            )
        if kind is None:
            raise StrategyTimeoutError(self.fired[-1])

    # ------------------------------------------------------------------ the watchdog thread

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="strategy-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the watchdog thread (the session is over)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            self.polls += 1
            call = self._call
            if not call or self._reported == call:
                continue
            overdue = self._monotonic() - self._since
            if overdue < self.limit:
                continue
            if self._fired == call:
                # raised but not returned after another limit: blocked in a C call
                if overdue >= 2 * self.limit and self._on_stuck is not None:
                    self._reported = call
                    self._on_stuck(self.fired[-1] + "; the strategy is blocked and does not stop")
                continue
            with self._lock:
                if self._call != call:  # it returned meanwhile
                    continue
                reason = self._reason(overdue)
                self.fired.append(reason)
                self._fired = call
                raised = type("StrategyTimeoutError", (StrategyTimeoutError,), {"reason": reason})
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._thread_id), ctypes.py_object(raised)
                )
            log.error("%s", reason)

    def _reason(self, overdue: float) -> str:
        frame = sys._current_frames().get(self._thread_id)
        line = frame_location(frame, self._cls) if frame is not None else ""
        symbols = self._symbols
        on = symbols if isinstance(symbols, str) else ", ".join(symbols)
        bar = to_ist(self._ts).strftime("%Y-%m-%d %H:%M") if self._ts else ""
        return (
            f"strategy {self.name} did not return from {self._what} within {self.limit:g} s"
            + (f" on {on}" if on else "")
            + (f" at bar {bar} IST" if bar else "")
            + (f", at {line}" if line else "")
            + f" (still running after {overdue:.1f} s): trading stopped by the watchdog"
        )
