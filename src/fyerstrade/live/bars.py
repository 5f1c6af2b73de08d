"""Ticks → 1-minute OHLCV bars (:class:`BarBuilder`) and 1-minute bars → higher resolutions
(:class:`Resampler`), the way Fyers stamps its candles.

Conventions (the same as the history API, so a live bar equals the stored candle):

* A bar is stamped with its open time (epoch seconds, a multiple of 60 for 1-minute bars).
* Bar volume comes from the CUMULATIVE day volume the feed reports: the cumulative volume at the
  last tick of the minute minus the cumulative volume at the end of the previous minute. Volume
  therefore never double-counts a repeated tick, and a missed tick inside a minute loses no volume.
* A 1-minute bar closes when a tick of a later minute arrives for the symbol, or when the clock
  passes the minute's end plus ``grace_seconds`` (:meth:`BarBuilder.on_clock`), so a quiet symbol
  still closes. A minute without any tick produces no bar, as Fyers produces no candle.
* A tick for a minute that already closed is *late*; an exact repeat of the previous tick is a
  *duplicate*. Both are counted (:attr:`BarBuilder.late_ticks`, :attr:`BarBuilder.duplicate_ticks`)
  and change nothing.
* Cumulative volume restarts each IST trading day: the first minute of a new day counts from 0.
  For the first minute a builder sees of a symbol it cannot know the cumulative volume at the end
  of the previous minute; it uses :meth:`BarBuilder.seed_volume` when the caller knows it (from a
  backfilled bar or a quote), otherwise the first tick's volume minus its ``last_qty``.

Per-tick work is a dict lookup and a few comparisons on a slotted state object; no object is
allocated except the :class:`~fyerstrade.domain.Bar` when a minute closes.

Higher resolutions are aligned to each session segment's open (09:15 IST), like Fyers: 5-minute
bars open at 09:15, 09:20, …; 60-minute bars at 09:15, 10:15, …, 15:15 (the last one truncated at
15:30). Daily bars are stamped at IST midnight, the platform's canonical daily stamp.
"""

from __future__ import annotations

from collections.abc import Iterable

from fyerstrade.calendar import IST_OFFSET, NSECalendar, get_calendar, ist_date
from fyerstrade.domain import Bar, Resolution, Tick

__all__ = ["BarBuilder", "Resampler"]

_DAY = 86_400
_M1 = Resolution.M1
_NO_MINUTE = -1


class _MinuteState:
    """The forming 1-minute bar of one symbol, mutated in place on every tick."""

    __slots__ = (
        "base",
        "close",
        "closed_through",
        "high",
        "last_cum",
        "last_ts",
        "low",
        "minute",
        "open",
    )

    def __init__(self, base: int) -> None:
        self.minute = _NO_MINUTE  # open time of the forming bar, or _NO_MINUTE when none is open
        self.closed_through = _NO_MINUTE  # open time of the last emitted bar
        self.base = base  # cumulative volume at the end of the previous minute
        self.last_cum = base
        self.last_ts = 0
        self.open = 0.0
        self.high = 0.0
        self.low = 0.0
        self.close = 0.0


class BarBuilder:
    """Builds 1-minute bars per symbol from ticks carrying cumulative day volume.

    Feed it with :meth:`on_tick` (or the allocation-free :meth:`update`) from one thread; call
    :meth:`on_clock` about once a second with the current time so quiet symbols close, and
    :meth:`flush` at the end of the session.
    """

    def __init__(self, *, grace_seconds: int = 2) -> None:
        if grace_seconds < 0:
            raise ValueError(f"grace_seconds must be >= 0, got {grace_seconds}")
        self.grace_seconds = grace_seconds
        self.late_ticks = 0
        self.duplicate_ticks = 0
        self.ticks = 0
        self._states: dict[str, _MinuteState] = {}
        self._seeds: dict[str, int] = {}
        self._forming: dict[int, int] = {}  # minute -> symbols whose bar of it is forming

    def seed_volume(self, symbol: str, cumulative_volume: int) -> None:
        """Tell the builder the symbol's cumulative day volume at the end of the minute before
        its first tick (for example the sum of today's backfilled 1-minute bars), so that the
        first live bar's volume is exact. Ignored once the symbol has ticked."""
        if symbol not in self._states:
            self._seeds[symbol] = cumulative_volume

    def on_tick(self, tick: Tick) -> Bar | None:
        """Add one tick; return the bar it closed (the symbol's previous minute), if any."""
        return self.update(tick.symbol, tick.ts, tick.ltp, tick.volume, tick.last_qty)

    def update(
        self, symbol: str, ts: int, ltp: float, volume: int, last_qty: int = 0
    ) -> Bar | None:
        """The body of :meth:`on_tick` on plain values (the hot path; no allocation)."""
        self.ticks += 1
        s = self._states.get(symbol)
        minute = ts - ts % 60
        if s is None:
            seed = self._seeds.pop(symbol, None)
            s = _MinuteState(seed if seed is not None else max(volume - last_qty, 0))
            self._states[symbol] = s
        elif minute == s.minute:
            if ts == s.last_ts and ltp == s.close and volume == s.last_cum:
                self.duplicate_ticks += 1
                return None
            if ltp > s.high:
                s.high = ltp
            elif ltp < s.low:
                s.low = ltp
            if ts >= s.last_ts:
                s.close = ltp
                s.last_ts = ts
            if volume > s.last_cum:
                s.last_cum = volume
            return None
        elif minute <= s.closed_through or minute < s.minute:
            self.late_ticks += 1
            return None

        # A new minute for this symbol: close the forming bar (if any) and open the next one.
        bar = self._close(symbol, s) if s.minute != _NO_MINUTE else None
        if s.closed_through != _NO_MINUTE and _ist_day(minute) != _ist_day(s.closed_through):
            s.base = 0  # cumulative volume restarts every trading day
        s.minute = minute
        forming = self._forming
        forming[minute] = forming.get(minute, 0) + 1
        s.open = s.high = s.low = s.close = ltp
        s.last_ts = ts
        if volume > s.base:
            s.last_cum = volume
        else:
            s.last_cum = s.base
        return bar

    def restart(self, symbols: Iterable[str] | None = None) -> None:
        """Forget the forming bar and the volume base of ``symbols`` (default: all) after a feed
        gap: the interrupted minute would be incomplete and the next minute's volume would
        swallow everything traded during the gap. Backfill those minutes from the history API
        (``fyers.feed.backfill``); the next tick starts the symbol afresh, like a first tick."""
        for symbol in list(self._states) if symbols is None else symbols:
            s = self._states.pop(symbol, None)
            if s is not None and s.minute != _NO_MINUTE:
                self._unform(s.minute)

    def on_clock(self, now_ts: int) -> list[Bar]:
        """Close every forming bar whose minute ended at least ``grace_seconds`` before
        ``now_ts``; return them in symbol order of first appearance."""
        limit = now_ts - 60 - self.grace_seconds
        out: list[Bar] = []
        for symbol, s in self._states.items():
            if s.minute != _NO_MINUTE and s.minute <= limit:
                out.append(self._close(symbol, s))
        return out

    def flush(self) -> list[Bar]:
        """Close every forming bar now (end of session, shutdown)."""
        out: list[Bar] = []
        for symbol, s in self._states.items():
            if s.minute != _NO_MINUTE:
                out.append(self._close(symbol, s))
        return out

    def forming(self, symbol: str) -> Bar | None:
        """The symbol's bar so far in the current minute (not closed), for display."""
        s = self._states.get(symbol)
        if s is None or s.minute == _NO_MINUTE:
            return None
        return self._bar(symbol, s)

    def oldest_forming(self) -> int | None:
        """The open time of the oldest bar still forming (any symbol), or None."""
        return min(self._forming) if self._forming else None

    @property
    def symbols(self) -> list[str]:
        """Symbols that have ticked, in order of first tick."""
        return list(self._states)

    @staticmethod
    def _bar(symbol: str, s: _MinuteState) -> Bar:
        volume = s.last_cum - s.base
        return Bar(symbol, _M1, s.minute, s.open, s.high, s.low, s.close, volume)

    def _close(self, symbol: str, s: _MinuteState) -> Bar:
        bar = self._bar(symbol, s)
        self._unform(s.minute)
        s.closed_through = s.minute
        s.minute = _NO_MINUTE
        s.base = s.last_cum
        return bar

    def _unform(self, minute: int) -> None:
        left = self._forming[minute] - 1
        if left:
            self._forming[minute] = left
        else:
            del self._forming[minute]


def _ist_day(ts: int) -> int:
    return (ts + IST_OFFSET) // _DAY


class _BucketState:
    __slots__ = ("close", "close_ts", "emitted_through", "high", "low", "open", "start", "volume")

    def __init__(self) -> None:
        self.start = _NO_MINUTE
        self.close_ts = 0
        self.emitted_through = _NO_MINUTE  # start of the last emitted bucket
        self.open = self.high = self.low = self.close = 0.0
        self.volume = 0


class Resampler:
    """Aggregates 1-minute bars of many symbols into one higher resolution, aligned to the
    session open like Fyers' candles.

    A higher bar is emitted as soon as the 1-minute bar of its last minute arrives, when a
    1-minute bar of a later bucket arrives, or when :meth:`on_clock` passes the bucket's close
    plus ``grace_seconds`` (a bucket whose last minutes had no trades). 1-minute bars of an
    already emitted bucket are counted in :attr:`late_bars` and dropped.
    """

    def __init__(
        self,
        resolution: Resolution,
        *,
        calendar: NSECalendar | None = None,
        grace_seconds: int = 2,
    ) -> None:
        self.resolution = resolution
        self.grace_seconds = grace_seconds
        self.late_bars = 0
        self._calendar = calendar if calendar is not None else get_calendar(assume_weekdays=True)
        self._states: dict[str, _BucketState] = {}
        self._segments: dict[int, tuple[tuple[int, int], ...]] = {}
        # per symbol: the last 1-minute bar added and its bucket as it was before it (None: it
        # opened the bucket), so that bar can be corrected (:meth:`correct`)
        self._last: dict[str, tuple[int, tuple[float, float, float, float, int] | None]] = {}

    def bucket(self, ts: int) -> tuple[int, int]:
        """``(open_ts, close_ts)`` of the bucket holding the 1-minute bar opened at ``ts``."""
        day = _ist_day(ts)
        midnight = day * _DAY - IST_OFFSET
        segments = self._day_segments(day, ts)
        if self.resolution is Resolution.D:
            close = segments[-1][1] if segments else midnight + _DAY
            return midnight, close
        step = self.resolution.seconds
        for o, c in segments:
            if o <= ts < c:
                start = o + (ts - o) // step * step
                return start, min(start + step, c)
        # Off-session data: align to IST midnight with the nominal duration.
        start = midnight + (ts - midnight) // step * step
        return start, start + step

    def on_bar(self, bar: Bar) -> list[Bar]:
        """Add one 1-minute bar; return the higher bars it completed (zero, one or two)."""
        start, close_ts = self.bucket(bar.ts)
        s = self._states.get(bar.symbol)
        if s is None:
            s = self._states[bar.symbol] = _BucketState()
        out: list[Bar] = []
        if start <= s.emitted_through or (s.start != _NO_MINUTE and start < s.start):
            self.late_bars += 1
            return out
        if s.start != start:
            if s.start != _NO_MINUTE:
                out.append(self._emit(bar.symbol, s))
            self._last[bar.symbol] = (bar.ts, None)
            s.start, s.close_ts = start, close_ts
            s.open, s.high, s.low, s.close = bar.open, bar.high, bar.low, bar.close
            s.volume = bar.volume
        else:
            self._last[bar.symbol] = (bar.ts, (s.open, s.high, s.low, s.close, s.volume))
            s.high = max(s.high, bar.high)
            s.low = min(s.low, bar.low)
            s.close = bar.close
            s.volume += bar.volume
        if bar.ts + 60 >= close_ts:
            out.append(self._emit(bar.symbol, s))
        return out

    def on_bars(self, bars: Iterable[Bar]) -> list[Bar]:
        """:meth:`on_bar` over many 1-minute bars, in order."""
        out: list[Bar] = []
        for bar in bars:
            out.extend(self.on_bar(bar))
        return out

    def correct(self, bar: Bar) -> Bar | None:
        """Put the 1-minute ``bar`` in place of the symbol's last one added, of the same minute
        (its first version was not the market's bar). Its bucket still open is corrected in
        place (None); an emitted one is returned corrected, for the strategy's bars. None, and
        nothing changes, when ``bar``'s minute is not the symbol's last one added."""
        last = self._last.get(bar.symbol)
        s = self._states.get(bar.symbol)
        if last is None or last[0] != bar.ts or s is None:
            return None
        start = self.bucket(bar.ts)[0]
        before = last[1]
        o, h, lo, c, v = bar.open, bar.high, bar.low, bar.close, bar.volume
        if before is not None:  # (the bucket's earlier minutes, then this one: its last)
            o, h, lo, v = before[0], max(before[1], h), min(before[2], lo), before[4] + v
        if s.start == start:
            s.open, s.high, s.low, s.close, s.volume = o, h, lo, c, v
            return None
        if s.emitted_through != start:
            return None
        return Bar(bar.symbol, self.resolution, start, o, h, lo, c, v)

    def on_clock(self, now_ts: int) -> list[Bar]:
        """Emit every open bucket whose close is at least ``grace_seconds`` before ``now_ts``."""
        limit = now_ts - self.grace_seconds
        return [
            self._emit(sym, s)
            for sym, s in self._states.items()
            if s.start != _NO_MINUTE and s.close_ts <= limit
        ]

    def flush(self) -> list[Bar]:
        """Emit every open bucket now."""
        return [self._emit(sym, s) for sym, s in self._states.items() if s.start != _NO_MINUTE]

    def _emit(self, symbol: str, s: _BucketState) -> Bar:
        bar = Bar(symbol, self.resolution, s.start, s.open, s.high, s.low, s.close, s.volume)
        s.emitted_through = s.start
        s.start = _NO_MINUTE
        return bar

    def _day_segments(self, day: int, ts: int) -> tuple[tuple[int, int], ...]:
        segments = self._segments.get(day)
        if segments is None:
            session = self._calendar.session(ist_date(ts))
            segments = session.segments if session is not None else ()
            self._segments[day] = segments
        return segments
