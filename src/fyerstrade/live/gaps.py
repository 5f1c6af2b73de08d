"""The gap filler: 1-minute bars the feed could not deliver, from the history API.

After a feed interruption (:class:`~fyerstrade.fyers.feed.Gap`) the minutes it missed, and
the minute it saw only in part, are taken from history: :meth:`GapFiller.backfill` asks for
every symbol's missed minutes (four requests in flight, within the rate limits) and, for the
gap's last minute that the API may not have yet (it has only just ended), asks again a few
times; :meth:`GapFiller.bar` fetches one minute of one symbol.

A replay after a restart must not ask history again (the answer could differ, or the API be
down): :class:`RecordedBars` answers the same two questions from the bars the live run stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from fyerstrade.calendar import to_ist
from fyerstrade.domain import Bar, Resolution
from fyerstrade.errors import AuthError, FyersTradeError
from fyerstrade.fyers.client import FyersClient
from fyerstrade.fyers.feed import Backfilled, Gap, backfill

__all__ = ["GapFiller", "HistoryBars", "RecordedBars"]

log = logging.getLogger("fyerstrade.live.engine")

HISTORY_RETRIES = 4  # a just-finished minute may reach the history API a moment late
RETRY_PAUSE = 0.5  # wall seconds between those tries (a backoff for the API: decides nothing)


class HistoryBars(Protocol):
    def backfill(self, gap: Gap) -> Backfilled:
        """Every symbol's complete 1-minute bars missed in ``gap``."""

    def bar(self, symbol: str, ts: int) -> Bar | None:
        """``symbol``'s 1-minute bar opened at ``ts`` (None when there is none); FyersTradeError
        when history could not be asked (after the client's retries)."""


def hhmmss(ts: int) -> str:
    return to_ist(ts).strftime("%H:%M:%S")


class GapFiller:
    """Missed bars from the history API."""

    def __init__(
        self,
        client: FyersClient,
        symbols: Sequence[str],
        *,
        pause: Callable[[float], object] | None = None,
    ) -> None:
        self.client = client
        self.symbols = list(symbols)
        self._pause = pause or threading.Event().wait

    def backfill(self, gap: Gap) -> Backfilled:
        got = backfill(self.client, self.symbols, gap)
        if got.bars:
            got.bars.extend(self._late_minutes(got.bars, gap, skip=got.failed))
        return got

    def bar(self, symbol: str, ts: int) -> Bar | None:
        rows = self.client.history(symbol, Resolution.M1, ts, ts)
        for t, o, h, lo, c, v in rows:
            if t == ts:
                return Bar(symbol, Resolution.M1, t, o, h, lo, c, v)
        return None

    def _late_minutes(self, bars: list[Bar], gap: Gap, skip: Mapping[str, str]) -> list[Bar]:
        """The gap's last minute for the symbols whose history did not have it yet (it had
        only just ended): asked again a few times. Symbols in ``skip`` (their history failed)
        are not asked again."""
        last = gap.missed_minutes()[1]
        have = {b.symbol for b in bars if b.ts == last}
        missing = [s for s in self.symbols if s not in have and s not in skip]
        out: list[Bar] = []
        for _ in range(HISTORY_RETRIES):
            if not missing:
                break
            self._pause(RETRY_PAUSE)
            for sym in list(missing):
                try:
                    bar = self.bar(sym, last)
                except AuthError:
                    raise
                except FyersTradeError as exc:
                    log.warning(
                        "%s: could not fetch the %s bar from history: %s", sym, hhmmss(last), exc
                    )
                    missing.remove(sym)  # (asked with the client's own retries already)
                    continue
                if bar is not None:
                    out.append(bar)
                    missing.remove(sym)
        return out


class RecordedBars:
    """The bars a live run stored (``(symbol, minute) -> (bar, source)``), answering as the
    history API answered it then."""

    def __init__(self, stored: Mapping[tuple[str, int], tuple[Bar, str]]) -> None:
        self.stored = dict(stored)

    def backfill(self, gap: Gap) -> Backfilled:
        first, last = gap.missed_minutes()
        bars = [
            bar
            for (_, ts), (bar, source) in self.stored.items()
            if source == "history" and first <= ts <= last
        ]
        return Backfilled(sorted(bars, key=lambda b: b.ts), {})

    def bar(self, symbol: str, ts: int) -> Bar | None:
        hit = self.stored.get((symbol, ts))
        return hit[0] if hit is not None and hit[1] == "history" else None

    def used(self, symbol: str, ts: int) -> tuple[Bar, str] | None:
        """The bar the live run handed on for ``symbol``'s minute ``ts``, with its source."""
        return self.stored.get((symbol, ts))
