"""The minute barrier: closed 1-minute bars reach the strategy one minute at a time, with every
symbol's bar of that minute, and a tick of a later minute trades only after the strategy has
decided on the minutes before it.

Why: a backtest groups bars by close time and decides on all of them at once, then fills the
orders at the next bar. Live, the symbols' ticks interleave arbitrarily: one symbol's first tick
of 10:01 may arrive while another's bar of 10:00 is still open. The barrier makes the live
sequence the backtest's whatever the interleaving:

* :meth:`MinuteBarrier.add` queues a closed bar under its minute (a bar of a minute the symbol
  already closed is a duplicate and refused by :meth:`is_new`);
* :meth:`next_ready` hands out the oldest queued minute once no symbol is still forming a bar
  of it or an earlier minute (the builder's oldest forming minute), or when told that
  everything before ``before`` is complete (a gap: the missed minutes come from history);
* :meth:`hold` keeps a tick whose previous minutes are not all decided yet (and every tick
  after it, to keep their order); :meth:`releasable` gives them back, in arrival order, as soon
  as they may trade.

Pure bookkeeping: no I/O, no clock; the session drives it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator, Sequence

from fyerstrade.domain import Bar, Tick
from fyerstrade.live.bars import BarBuilder

__all__ = ["MinuteBarrier"]


class MinuteBarrier:
    """Queued minutes of closed bars and held ticks, over ``builder``'s forming bars."""

    def __init__(self, builder: BarBuilder, symbols: Sequence[str]) -> None:
        self.builder = builder
        self._order = {s: k for k, s in enumerate(symbols)}
        self.pending: dict[int, list[tuple[Bar, str]]] = defaultdict(list)
        self.held: deque[Tick] = deque()
        self.last_minute: dict[str, int] = {}  # per symbol: the last minute queued
        self.last: dict[str, tuple[Bar, str]] = {}  # ... and its bar, with its source
        self.dispatched_through = 0  # the last minute handed to the strategy

    def is_new(self, bar: Bar) -> bool:
        """Whether ``bar`` is later than every bar of its symbol queued so far."""
        return bar.ts > self.last_minute.get(bar.symbol, -1)

    def add(self, bar: Bar, source: str) -> None:
        """Queue a closed 1-minute bar (``source``: ``ticks`` or ``history``)."""
        self.last_minute[bar.symbol] = bar.ts
        self.last[bar.symbol] = (bar, source)
        self.pending[bar.ts].append((bar, source))

    def replace(self, bar: Bar, source: str) -> bool:
        """``bar`` takes the place of its symbol's last bar queued (of the same minute): in the
        queue when that minute was not handed on yet (True), else only as the last bar."""
        sym = bar.symbol
        self.last[sym] = (bar, source)
        items = self.pending.get(bar.ts)
        for k, (queued, _) in enumerate(items or ()):
            if queued.symbol == sym:
                assert items is not None
                items[k] = (bar, source)
                return True
        return False

    def seen(self, symbol: str, minute: int) -> None:
        """``symbol``'s bars up to ``minute`` are known without being queued (warm-up)."""
        self.last_minute[symbol] = max(minute, self.last_minute.get(symbol, -1))

    def decided_before(self, minute: int) -> bool:
        """Whether the strategy has been handed every minute before ``minute`` (history bars
        of ``minute`` can be matched at once)."""
        return minute - 60 <= self.dispatched_through

    def next_ready(self, before: int | None = None) -> tuple[int, list[tuple[Bar, str]]] | None:
        """The oldest queued minute with its bars (in symbol order) if it is complete, and
        take it off the queue; None otherwise. A minute before ``before`` counts as complete."""
        if not self.pending:
            return None
        minute = min(self.pending)
        forming = self.builder.oldest_forming()
        complete = forming is None or minute < forming
        if before is not None and minute < before:
            complete = True
        if not complete:
            return None
        items = self.pending.pop(minute)
        items.sort(key=lambda it: self._order.get(it[0].symbol, 0))
        self.dispatched_through = minute
        return minute, items

    def undecided(self) -> int | None:
        """The oldest minute not handed to the strategy yet: a bar of it is forming or waits
        for the other symbols' (None: none)."""
        oldest = self.builder.oldest_forming()
        if self.pending:
            first = min(self.pending)
            oldest = first if oldest is None else min(oldest, first)
        return oldest

    def tradeable(self, minute: int) -> bool:
        """Whether every minute before ``minute`` has been handed to the strategy (no bar of
        an earlier minute is forming or waiting for the other symbols')."""
        oldest = self.undecided()
        return oldest is None or oldest >= minute

    def hold(self, t: Tick) -> bool:
        """Keep ``t`` for later (True) when it may not trade yet, or when earlier ticks wait."""
        if self.held or not self.tradeable(t.ts - t.ts % 60):
            self.held.append(t)
            return True
        return False

    def releasable(self) -> Iterator[Tick]:
        """The held ticks that may trade now, in arrival order."""
        held = self.held
        while held and self.tradeable(held[0].ts - held[0].ts % 60):
            yield held.popleft()

    def release_all(self) -> Iterator[Tick]:
        """Every held tick (the end of the run: nothing is left to decide)."""
        while self.held:
            yield self.held.popleft()
