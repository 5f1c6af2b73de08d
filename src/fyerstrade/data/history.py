"""Incremental history fetch: plan from the store, the calendar and the ledger; fetch concurrently
within the rate limit; commit every finished chunk.

Life of a fetch:

1. **Cap.** The newest bar we may ask for is the last *complete* one at the clock's ``now``
   (:func:`last_complete_bar`): a still-forming minute is never stored, and today's daily bar
   only once the session has closed.
2. **Window.** Per symbol × resolution: from ``--from`` (else the first stored bar, so holes
   inside the stored range are found; else one year before the end) to ``--to`` (else the cap).
   Intraday windows start no earlier than 2017-07-03, where Fyers' intraday history begins.
3. **Plan** (:mod:`fyerstrade.data.fetch_plan`): calendar-expected bars minus stored bars minus
   ranges the ledger says came back empty, grouped into requests within the span limits.
4. **Fetch.** A thread pool sends the requests; the process-wide rate limiter in the Fyers client
   paces them (so the pool size only hides latency). The calling thread is the single SQLite
   writer: as each request finishes it upserts the candles (one transaction) and records the
   request in ``fetch_ledger``, plus a ``no_data`` entry for every run of expected bars the
   answer did not contain (older than :data:`NO_DATA_GRACE_SECONDS`, so data the server has not
   published yet is asked again next time).
5. **Stop.** Ctrl-C cancels what has not started and returns with every finished chunk
   committed; a rerun plans again from the store and resumes. An expired token stops at once
   (nothing was written — the first answers already fail). An unknown symbol is reported once,
   its remaining requests are skipped, and the other symbols are still fetched.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np

from fyerstrade.calendar import NSECalendar, ist_date, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.data.fetch_plan import (
    INTRADAY_HISTORY_START,
    FetchPlan,
    FetchRequest,
    Int64Array,
    SeriesPlan,
    plan_series,
)
from fyerstrade.domain import Resolution
from fyerstrade.errors import AuthError, FyersTradeError, InputError, UnknownSymbolError
from fyerstrade.store.candles import candle_timestamps, upsert_candles
from fyerstrade.store.ledger import (
    STATUS_ERROR,
    STATUS_NO_DATA,
    STATUS_OK,
    ledger_entries,
    record_fetch,
)

log = logging.getLogger(__name__)
#: Log-file only: what the caller reports itself (the summary's errors), so a user never reads a
#: failure twice (a console log line and the command's ``error:`` line).
_REPORTED = {"console": False}

#: Resolutions fetched when none are named.
DEFAULT_RESOLUTIONS: tuple[Resolution, ...] = (Resolution.M1, Resolution.M5, Resolution.D)
#: Default window when nothing is stored: this many calendar days back from the end.
DEFAULT_LOOKBACK_DAYS = 365
#: Bars this recent that an answer lacks are not recorded as empty (the server may publish late).
NO_DATA_GRACE_SECONDS = 2 * 86_400
#: Threads sending requests; the rate limiter paces them, the pool only hides latency.
DEFAULT_WORKERS = 4
#: Request starts per second when the source has no rate limiter to ask.
DEFAULT_PER_SECOND = 8

Clock = Callable[[], int]
Candle = tuple[int, float, float, float, float, int]


class HistorySource(Protocol):
    """What the fetcher needs from a Fyers client (``FyersClient`` satisfies it)."""

    requests_sent: int

    def history(
        self, symbol: str, resolution: Resolution, range_from: int, range_to: int
    ) -> list[Candle]: ...


def wall_clock() -> int:
    """The wall clock in epoch seconds (the CLI's clock; tests pass their own)."""
    return int(time.time())


# ------------------------------------------------------------------------------- planning


def last_complete_bar(cal: NSECalendar, resolution: Resolution, now: int) -> int | None:
    """Open time of the newest bar of ``resolution`` that has closed at ``now`` (None if none in
    the past two weeks, which only happens for a clock before the calendar's range)."""
    day = ist_date(now)
    for _ in range(15):
        bars = cal.bar_times(day, resolution)
        if bars.size:
            closes = cal.bar_close_times(bars, resolution)
            done = bars[closes <= now]
            if done.size:
                return int(done[-1])
        day -= timedelta(days=1)
    return None


@dataclass(frozen=True, slots=True)
class Window:
    """The inclusive epoch range of bar open times to make complete for one series."""

    start: int
    end: int


def fetch_window(
    resolution: Resolution,
    stored: Int64Array,
    cap: int,
    start: date | None,
    end: date | None,
) -> Window | None:
    """The window to scan (see the module docstring); None when it is empty."""
    end_ts = cap if end is None else min(cap, ist_epoch(end) + 86_399)
    if start is not None:
        start_ts = ist_epoch(start)
    elif stored.size:
        start_ts = int(stored[0])
    else:
        start_ts = ist_epoch(ist_date(end_ts) - timedelta(days=DEFAULT_LOOKBACK_DAYS))
    if resolution.is_intraday:
        start_ts = max(start_ts, ist_epoch(INTRADAY_HISTORY_START))
    return Window(start_ts, end_ts) if start_ts <= end_ts else None


def expected_in(cal: NSECalendar, resolution: Resolution, lo: int, hi: int) -> Int64Array:
    """Calendar-expected bar open times with ``lo <= ts <= hi``."""
    if hi < lo:
        return np.empty(0, dtype=np.int64)
    bars = cal.expected_bars(ist_date(lo), ist_date(hi), resolution)
    i = int(np.searchsorted(bars, lo, side="left"))
    j = int(np.searchsorted(bars, hi, side="right"))
    return bars[i:j]


def plan_fetch(
    conn: sqlite3.Connection,
    symbols: Sequence[str],
    resolutions: Sequence[Resolution],
    *,
    calendar: NSECalendar,
    now: int,
    start: date | None = None,
    end: date | None = None,
) -> FetchPlan:
    """The requests that make every symbol × resolution complete up to the last complete bar."""
    if start is not None and end is not None and end < start:
        raise InputError(f"--to {end} is before --from {start}")
    # With --to in the past, the cap is that day's last complete bar: the calendar is never asked
    # about today (which may lie past its holiday lists).
    horizon = now if end is None else min(now, ist_epoch(end) + 86_399)
    series: list[SeriesPlan] = []
    for res in resolutions:
        cap = last_complete_bar(calendar, res, horizon)
        if cap is None:
            continue
        for symbol in symbols:
            stored = candle_timestamps(conn, symbol, res)
            window = fetch_window(res, stored, cap, start, end)
            if window is None:
                continue
            expected = expected_in(calendar, res, window.start, window.end)
            empty = [
                (e.range_from, e.range_to)
                for e in ledger_entries(conn, symbol, res)
                if e.status == STATUS_NO_DATA
            ]
            series.append(plan_series(symbol, res, expected, stored, empty))
    return FetchPlan(tuple(series))


# ------------------------------------------------------------------------------- execution


@dataclass(slots=True)
class FetchSummary:
    """What a fetch did; ``to_json`` has the keys the CLI's ``--json`` prints."""

    planned: int = 0  # requests in the plan
    completed: int = 0  # planned requests answered (with data or empty)
    failed: int = 0  # planned requests that failed or were skipped (their symbol is unknown)
    requests: int = 0  # HTTP history requests sent (retries included)
    candles_added: int = 0  # rows inserted or changed in the store
    holes_repaired: int = 0  # holes inside the stored range that came back filled
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    failed_symbols: list[str] = field(default_factory=list)
    interrupted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "candles_added": self.candles_added,
            "holes_repaired": self.holes_repaired,
            "seconds": round(self.seconds, 3),
            "planned": self.planned,
            "completed": self.completed,
            "failed": self.failed,
            "errors": list(self.errors),
            "failed_symbols": list(self.failed_symbols),
            "interrupted": self.interrupted,
        }


Progress = Callable[[FetchSummary], None]


class _Spacer:
    """Spreads request starts evenly (``interval`` apart) instead of in bursts.

    The shared rate limiter admits up to its per-second count at once. A server's sliding window
    counts *arrivals*, and a burst whose first requests arrive late (connection set-up) can meet
    the next burst inside one second of arrivals and be rejected. Evenly spaced starts leave
    that jitter room; the throughput is the limiter's all the same.
    """

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            stop.wait(slot - now)


class _Skipped:
    """A request not sent because its symbol already failed or the fetch is stopping."""


def _runs(ts: Int64Array, expected: Int64Array) -> Iterable[tuple[int, int]]:
    """Group ``ts`` (a subset of sorted ``expected``) into runs of consecutive expected bars."""
    if ts.size == 0:
        return []
    idx = np.searchsorted(expected, ts)
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [ts.size - 1]))
    return [(int(ts[a]), int(ts[b])) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


class _Writer:
    """Applies finished requests to the store (the only code that writes; one thread)."""

    def __init__(
        self, conn: sqlite3.Connection, cal: NSECalendar, now: int, summary: FetchSummary
    ) -> None:
        self.conn, self.cal, self.now, self.summary = conn, cal, now, summary

    def apply(self, req: FetchRequest, rows: list[Candle]) -> None:
        res = req.resolution
        candles = CandleArrays.from_rows(
            [r for r in rows if req.range_from <= r[0] <= req.range_to]
        )
        if len(candles) and np.any(np.diff(candles.ts) <= 0):
            order = np.unique(candles.ts, return_index=True)[1]
            candles = CandleArrays(*(a[order] for a in _fields(candles)))
        added = upsert_candles(self.conn, req.symbol, res, candles)
        record_fetch(
            self.conn,
            req.symbol,
            res,
            req.range_from,
            req.range_to,
            len(candles),
            STATUS_OK,
            fetched_at=self.now,
        )
        # Expected bars the answer lacks: record them as known-empty so they are not asked again.
        expected = expected_in(self.cal, res, req.range_from, req.range_to)
        absent = expected[~np.isin(expected, candles.ts)]
        absent = absent[absent < self.now - NO_DATA_GRACE_SECONDS]
        if absent.size:
            stored = candle_timestamps(self.conn, req.symbol, res, req.range_from, req.range_to)
            absent = absent[~np.isin(absent, stored)]
        for first, last in _runs(absent, expected):
            record_fetch(
                self.conn,
                req.symbol,
                res,
                first,
                last + res.seconds - 1,
                0,
                STATUS_NO_DATA,
                "expected by the calendar, not in the answer",
                fetched_at=self.now,
            )
        self.summary.completed += 1
        self.summary.candles_added += added
        if len(candles):
            self.summary.holes_repaired += req.holes

    def failed(self, req: FetchRequest, exc: FyersTradeError) -> None:
        record_fetch(
            self.conn,
            req.symbol,
            req.resolution,
            req.range_from,
            req.range_to,
            0,
            STATUS_ERROR,
            str(exc)[:500],
            fetched_at=self.now,
        )


def _fields(c: CandleArrays) -> tuple[Any, ...]:
    return (c.ts, c.open, c.high, c.low, c.close, c.volume)


def execute_plan(
    conn: sqlite3.Connection,
    source: HistorySource,
    plan: FetchPlan,
    *,
    calendar: NSECalendar,
    now: int,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> FetchSummary:
    """Send the plan's requests concurrently and commit each answer as it arrives.

    Returns the summary (``interrupted`` set after Ctrl-C). Raises :class:`AuthError` at once
    when the token is rejected, after cancelling everything not yet sent.
    """
    started = time.monotonic()
    sent_before = source.requests_sent
    requests = plan.requests
    summary = FetchSummary(planned=len(requests))
    writer = _Writer(conn, calendar, now, summary)
    stop = threading.Event()
    failed: set[str] = set()

    limiter = getattr(source, "rate_limiter", None)
    spacer = _Spacer(float(getattr(limiter, "per_second", DEFAULT_PER_SECOND)))

    def send(req: FetchRequest) -> list[Candle] | _Skipped:
        if stop.is_set() or req.symbol in failed:
            return _Skipped()
        spacer.wait(stop)
        if stop.is_set() or req.symbol in failed:
            return _Skipped()
        return source.history(req.symbol, req.resolution, req.range_from, req.range_to)

    def finish() -> None:
        summary.requests = source.requests_sent - sent_before
        summary.seconds = time.monotonic() - started

    if not requests:
        finish()
        return summary
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(requests))))
    pending: dict[Future[list[Candle] | _Skipped], FetchRequest] = {
        pool.submit(send, r): r for r in requests
    }
    try:
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                req = pending.pop(fut)
                if fut.cancelled():
                    continue
                try:
                    result = fut.result()
                except AuthError:
                    stop.set()
                    raise
                except UnknownSymbolError as exc:
                    summary.failed += 1
                    if req.symbol not in failed:
                        failed.add(req.symbol)
                        summary.failed_symbols.append(req.symbol)
                        summary.errors.append(str(exc))
                        log.error("%s", exc, extra=_REPORTED)
                    continue
                except FyersTradeError as exc:
                    summary.failed += 1
                    writer.failed(req, exc)
                    summary.errors.append(str(exc))
                    log.error("%s", exc, extra=_REPORTED)
                    continue
                if isinstance(result, _Skipped):
                    summary.failed += 1
                else:
                    writer.apply(req, result)
            finish()
            if progress is not None:
                progress(summary)
    except KeyboardInterrupt:
        summary.interrupted = True
        log.warning(
            "fetch interrupted: %d of %d requests committed",
            summary.completed,
            len(requests),
            extra=_REPORTED,
        )
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        finish()
    return summary


def fetch_history(
    conn: sqlite3.Connection,
    source: HistorySource,
    symbols: Sequence[str],
    resolutions: Sequence[Resolution] = DEFAULT_RESOLUTIONS,
    *,
    calendar: NSECalendar,
    clock: Clock = wall_clock,
    start: date | None = None,
    end: date | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    on_plan: Callable[[FetchPlan], None] | None = None,
) -> FetchSummary:
    """Plan and execute a fetch (see the module docstring)."""
    now = clock()
    plan = plan_fetch(conn, symbols, resolutions, calendar=calendar, now=now, start=start, end=end)
    if on_plan is not None:
        on_plan(plan)
    return execute_plan(
        conn, source, plan, calendar=calendar, now=now, workers=workers, progress=progress
    )


def read_universe(text: str) -> list[str]:
    """Symbols from a universe file: one per line; blank lines and ``#`` comments ignored."""
    out: list[str] = []
    for line in text.splitlines():
        s = line.split("#", 1)[0].strip()
        if s:
            out.append(s)
    return out
