"""The live market-data feed: the SDK's ``FyersDataSocket`` behind a small, reliable interface.

Life of a tick: Fyers (or the simulator) → the SDK's socket thread → :func:`tick_from_message`
(pure) → ``Feed.ticks`` (a ``queue.SimpleQueue[Tick | Gap]``) → the live engine's thread. The SDK
callback thread does nothing else, so a slow consumer never stalls the socket.

What the feed adds to the SDK (its traps are in ``fyers-api.md`` §8 and §12.5):

* **One SDK socket per connection, not the singleton.** ``FyersDataSocket()`` returns one
  process-wide instance and a second construction rewires the first; the feed builds a private
  instance each time it connects, so an old socket that is still shutting down (its
  ``close_connection`` blocks up to 10 s on its ping thread, done on a background thread) never
  touches the new one, and a new day's token means a new socket.
* **Authentication is checked, not assumed.** The SDK calls ``on_connect`` even when the token is
  rejected; the feed waits for the ``cn`` acknowledgement. A rejected or expired token sets
  :attr:`Feed.status` to ``AUTH_FAILED`` with an :class:`~fyerstrade.errors.AuthError` in
  :attr:`Feed.error`, and the feed stops: retrying a dead token is a crash loop.
* **Reconnects are the feed's own** (the SDK's are disabled: they wait 5 s+ and forget the
  subscriptions): after a dropped connection, or when the watchdog sees no tick for
  ``stall_seconds`` while the market is open, the feed reconnects with backoff and resubscribes.
  "No tick for ``stall_seconds``" holds on both the monotonic clock and the market clock, so a
  simulator whose market is paused (or stalled by a loaded machine) is not a stalled feed.
* **Gaps are reported.** After any interruption a :class:`Gap` (last tick before, first tick
  after, exchange time) goes into ``Feed.ticks`` right before the first tick after it (so the
  consumer sees it exactly where it happened: when :attr:`Gap.crosses_minute`,
  ``BarBuilder.restart`` then :func:`backfill` of the 1-minute bars that were missed), and on
  ``Feed.gaps`` for monitoring.

Lite mode delivers only LTP, with no timestamp or volume: such ticks are stamped with the feed's
clock and carry volume 0, fine for prices, not for building bars.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from fyerstrade.calendar import get_calendar, ist_date
from fyerstrade.config import Settings
from fyerstrade.domain import Bar, Resolution, Tick
from fyerstrade.errors import AuthError, FyersTradeError, RetryableError
from fyerstrade.fyers import endpoints
from fyerstrade.fyers.client import FyersClient
from fyerstrade.fyers.sdk_threads import end_with_connection
from fyerstrade.logs import register_secret

__all__ = [
    "Control",
    "Feed",
    "FeedStatus",
    "Gap",
    "backfill",
    "control_from_message",
    "market_is_open",
    "tick_from_message",
]

log = logging.getLogger(__name__)

LOGIN_HINT = "log in again with `fyerstrade auth login`"
AUTH_TIMEOUT = 10.0  # seconds to wait for the server's auth acknowledgement
PING_FRAME = bytes([0, 1, 11])  # the SDK's ping frame, sent every sdk_threads.PING_SECONDS


# ----------------------------------------------------------------------------- pure parsers


def tick_from_message(msg: object, *, recv_ns: int = 0, fallback_ts: int = 0) -> Tick | None:
    """The :class:`Tick` in one ``on_message`` dict of the SDK, or ``None`` for anything else
    (control messages, depth updates, malformed dicts).

    Full symbol updates (``type`` ``sf``) carry the exchange time of the last trade and the
    cumulative day volume; index updates (``if``) carry the feed time and no volume; lite
    messages carry only ``ltp`` and are stamped ``fallback_ts``.
    """
    if not isinstance(msg, Mapping):
        return None
    kind = msg.get("type")
    symbol = msg.get("symbol")
    ltp = msg.get("ltp")
    if kind not in ("sf", "if") or not isinstance(symbol, str) or not _is_number(ltp):
        return None
    ts = msg.get("last_traded_time") if kind == "sf" else None
    if not _is_number(ts):
        ts = msg.get("exch_feed_time")
    if not _is_number(ts):
        ts = fallback_ts
    return Tick(
        symbol=symbol,
        ts=int(ts),  # type: ignore[arg-type]
        ltp=float(ltp),  # type: ignore[arg-type]
        volume=_int(msg.get("vol_traded_today")),
        bid=_float(msg.get("bid_price")),
        ask=_float(msg.get("ask_price")),
        bid_qty=_int(msg.get("bid_size")),
        ask_qty=_int(msg.get("ask_size")),
        last_qty=_int(msg.get("last_traded_qty")),
        recv_ns=recv_ns,
    )


@dataclass(frozen=True, slots=True)
class Control:
    """A control or error message of the SDK: ``kind`` is its ``type`` (``cn`` auth, ``ful``/
    ``lit`` mode, ``sub``/``unsub``, …; ``""`` when absent)."""

    kind: str
    code: int
    ok: bool
    message: str


def control_from_message(msg: object) -> Control | None:
    """The :class:`Control` in an SDK message or error dict (``None`` for ticks and non-dicts)."""
    if not isinstance(msg, Mapping) or "code" not in msg or "ltp" in msg:
        return None
    return Control(
        kind=str(msg.get("type", "")),
        code=_int(msg.get("code")),
        ok=msg.get("s") == "ok",
        message=str(msg.get("message", "")),
    )


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _int(x: object) -> int:
    return int(x) if _is_number(x) else 0  # type: ignore[call-overload]


def _float(x: object) -> float:
    return float(x) if _is_number(x) else 0.0  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- gaps


@dataclass(frozen=True, slots=True)
class Gap:
    """An interruption of the feed: ``start`` = exchange time of the last tick before it,
    ``end`` = of the first tick after it (epoch seconds)."""

    start: int
    end: int

    @property
    def crosses_minute(self) -> bool:
        """Whether the gap left a minute incomplete. A gap inside one minute needs nothing: the
        cumulative volume of the next tick still counts every trade (only an extreme price
        inside the gap can be missed)."""
        first, last = self.missed_minutes()
        return last >= first

    def missed_minutes(self) -> tuple[int, int]:
        """``(first, last)`` open times of the 1-minute bars the live builder could not complete:
        from the minute of the last tick before the gap to the minute before the first tick
        after it (that minute is still forming live)."""
        return self.start - self.start % 60, self.end - self.end % 60 - 60


BACKFILL_WORKERS = 4  # requests in flight at once; the client's rate limiter paces them


@dataclass(frozen=True, slots=True)
class Backfilled:
    """What :func:`backfill` got: the bars, and the symbols whose history failed (with why)."""

    bars: list[Bar]
    failed: dict[str, str]


def backfill(
    client: FyersClient, symbols: Iterable[str], gap: Gap, *, workers: int = BACKFILL_WORKERS
) -> Backfilled:
    """The complete 1-minute bars of ``symbols`` missed during ``gap``, from the history API,
    in (symbol, time) order; nothing when the gap fell inside one minute.

    One request per symbol (the API has no other way), ``workers`` in flight at once: against
    the real API a request's round trip, not the 10-a-second limit, would otherwise set the pace.
    A symbol whose history fails after the client's retries is listed in ``failed`` and the
    others are kept; an :class:`~fyerstrade.errors.AuthError` (the token is gone) is raised."""
    if not gap.crosses_minute:
        return Backfilled([], {})
    first, last = gap.missed_minutes()
    wanted = list(dict.fromkeys(symbols))

    def one(symbol: str) -> list[Bar]:
        return [
            Bar(symbol, Resolution.M1, ts, o, h, lo, c, v)
            for ts, o, h, lo, c, v in client.history(symbol, Resolution.M1, first, last)
            if first <= ts <= last
        ]

    got: dict[str, list[Bar]] = {}
    failed: dict[str, str] = {}
    pool = ThreadPoolExecutor(max(1, min(workers, len(wanted))), thread_name_prefix="backfill")
    try:
        futures = {pool.submit(one, sym): sym for sym in wanted}
        for fut in as_completed(futures):
            sym = futures[fut]
            try:
                got[sym] = fut.result()
            except AuthError:
                # the token is gone for every request: what has not started is cancelled and the
                # requests in flight (failing the same way) are waited for, so none outlives the
                # call and logs or retries after the caller has moved on
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            except FyersTradeError as exc:
                failed[sym] = str(exc)
        pool.shutdown(wait=True)  # every request has answered: its threads end with the call
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # interrupted: do not wait on the network
    return Backfilled([b for sym in wanted for b in got.get(sym, ())], failed)


def market_is_open(now: float) -> bool:
    """Whether NSE is in a continuous-trading session at ``now`` (the default watchdog gate)."""
    ts = int(now)
    session = get_calendar(assume_weekdays=True).session(ist_date(ts))
    return session is not None and session.contains(ts)


# ----------------------------------------------------------------------------- the feed


class FeedStatus(StrEnum):
    STOPPED = "STOPPED"
    CONNECTING = "CONNECTING"
    LIVE = "LIVE"
    RECONNECTING = "RECONNECTING"
    AUTH_FAILED = "AUTH_FAILED"


class TickFeed(Protocol):
    """What the live engine drives (:class:`Feed` is the real one): a queue of ticks and gaps,
    the connection's state, and start/stop. Its error is the one that ended it (a refused token)."""

    ticks: queue.SimpleQueue[Tick | Gap]
    status: FeedStatus
    error: FyersTradeError | None

    @property
    def gap_open(self) -> bool: ...

    @property
    def gap_start(self) -> int | None: ...

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self, *, wait: bool = False) -> None: ...

    def wait_live(self, timeout: float) -> bool: ...


class _Connection:
    """One SDK socket and what its callbacks reported (written by the SDK threads)."""

    def __init__(self) -> None:
        self.sdk: Any = None
        self.authed = threading.Event()
        self.answered = threading.Event()  # auth acknowledged or refused
        self.closed = threading.Event()
        self.retired = threading.Event()  # we are done with it (closing or closed)
        self.auth_error: Control | None = None


class Feed:
    """Ticks of ``symbols`` from the Fyers data socket, kept alive.

    ``access_token`` is ``"APP_ID:JWT"`` as the SDK wants it. ``clock`` gives epoch seconds (the
    watchdog's "now" and the stamp of lite ticks); ``market_open(now)`` gates the watchdog so a
    quiet evening is not a stall; ``monotonic`` measures the watchdog's silence.
    ``reconnect_delays`` are the waits before successive attempts (the last repeats).
    """

    def __init__(
        self,
        settings: Settings,
        access_token: str,
        symbols: Sequence[str],
        *,
        lite: bool = False,
        stall_seconds: float = 30.0,
        reconnect_delays: Sequence[float] = (1.0, 2.0, 5.0, 10.0, 30.0),
        clock: Callable[[], float] = time.time,
        market_open: Callable[[float], bool] = market_is_open,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ":" not in access_token:
            raise AuthError(f"the data socket needs the token as APP_ID:TOKEN; {LOGIN_HINT}")
        if not symbols:
            raise ValueError("a feed needs at least one symbol")
        register_secret(access_token.partition(":")[2])
        self.settings = settings
        self.symbols = list(dict.fromkeys(symbols))
        self.lite = lite
        self.stall_seconds = stall_seconds
        self.reconnect_delays = tuple(reconnect_delays) or (1.0,)
        self.clock = clock
        self.market_open = market_open
        self._mono = monotonic
        self.ticks: queue.SimpleQueue[Tick | Gap] = queue.SimpleQueue()
        self.gaps: queue.SimpleQueue[Gap] = queue.SimpleQueue()
        self.status = FeedStatus.STOPPED
        self.error: FyersTradeError | None = None
        self.connects = 0
        self.reconnects = 0
        self.ticks_received = 0
        self._token = access_token
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._live = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: _Connection | None = None
        self._deliver = threading.Lock()  # after stop() returns, no tick is put on the queue
        self._last_tick_mono = 0.0
        self._last_tick_clock = 0.0  # the market clock when the last tick arrived
        self._last_tick_ts = 0
        self._gap_start: int | None = None
        self._closers: list[threading.Thread] = []

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Connect and subscribe in the background; returns at once."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fyers-feed", daemon=True)
        self._thread.start()

    def stop(self, *, wait: bool = False) -> None:
        """Stop the feed. The SDK socket closes on a background thread (it blocks up to ~10 s);
        ``wait=True`` waits for that too."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=AUTH_TIMEOUT + 5)
            self._thread = None
        with self._deliver:
            conn, self._conn = self._conn, None
        self._retire(conn)
        if self.status is not FeedStatus.AUTH_FAILED:
            self.status = FeedStatus.STOPPED
        if wait:
            for t in self._closers:
                t.join()

    @property
    def gap_open(self) -> bool:
        """Whether the feed was interrupted and no tick has arrived since (the :class:`Gap`
        comes with the first one): until then nothing can be said about the missed minutes."""
        return self._gap_start is not None

    @property
    def gap_start(self) -> int | None:
        """Exchange time of the last tick before an interruption no tick has ended yet."""
        return self._gap_start

    @property
    def running(self) -> bool:
        """Whether the supervisor is still working (False after ``stop`` or an AuthError)."""
        return self._thread is not None and self._thread.is_alive()

    def wait_live(self, timeout: float) -> bool:
        """Block until the feed is authenticated and subscribed (or ``timeout`` seconds)."""
        return self._live.wait(timeout)

    # ------------------------------------------------------------------ supervisor

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            if self._conn is None:
                if self.connects:
                    delay = self.reconnect_delays[min(attempt, len(self.reconnect_delays) - 1)]
                    if self._stop.wait(delay):
                        break
                attempt += 1
                try:
                    self._conn = self._connect()
                except AuthError as exc:
                    self.error = exc
                    self.status = FeedStatus.AUTH_FAILED
                    log.error("data feed stopped: %s", exc)
                    return
                except RetryableError as exc:
                    log.warning("data feed: %s; retrying", exc)
                    continue
                attempt = 0
            conn = self._conn
            self._wake.wait(0.2)
            self._wake.clear()
            if conn.auth_error is not None:  # rejected after a while (server-side expiry)
                self._fail_auth(conn, conn.auth_error)
                return
            reason = ""
            if conn.closed.is_set():
                reason = "the connection closed"
            elif self._stalled():
                reason = f"no tick for {self.stall_seconds:g} s while the market is open"
            if reason:
                log.warning("data feed: %s; reconnecting", reason)
                self._interrupted()
                self._retire(conn)
                self._conn = None

    def _stalled(self) -> bool:
        idle = self._mono() - self._last_tick_mono
        if idle <= self.stall_seconds:
            return False
        now = self.clock()
        return now - self._last_tick_clock > self.stall_seconds and self.market_open(now)

    def _interrupted(self) -> None:
        self._live.clear()
        self.status = FeedStatus.RECONNECTING
        self.reconnects += 1
        if self._gap_start is None and self._last_tick_ts:
            self._gap_start = self._last_tick_ts

    def _fail_auth(self, conn: _Connection, control: Control) -> None:
        self.error = self._auth_error(control)
        self.status = FeedStatus.AUTH_FAILED
        self._live.clear()
        log.error("data feed stopped: %s", self.error)
        self._retire(conn)
        self._conn = None

    def _connect(self) -> _Connection:
        """Build a private SDK socket, connect, wait for auth, subscribe."""
        from fyers_apiv3.FyersWebsocket.data_ws import FyersDataSocket

        self.status = FeedStatus.CONNECTING if not self.connects else FeedStatus.RECONNECTING
        self.connects += 1
        conn = _Connection()
        log_dir = self.settings.log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        # A private instance: FyersDataSocket.__new__ would hand back the process-wide one.
        sdk = object.__new__(FyersDataSocket)
        sdk.__init__(
            access_token=self._token,
            log_path=str(log_dir),
            litemode=self.lite,
            reconnect=False,
            on_message=lambda m: self._on_message(conn, m),
            on_error=lambda m: self._on_error(conn, m),
            on_connect=lambda: None,
            on_close=lambda m: self._on_close(conn),
        )
        conn.sdk = sdk
        _quiet_send_on_close(sdk, conn, self._wake)
        end_with_connection(sdk, conn.retired, sdk_class="FyersDataSocket", frame=PING_FRAME)
        self._conn = conn  # from here on its ticks are ours (the snapshot comes early)
        endpoints.redirect_data_socket(sdk, self.settings)
        sdk.connect()  # opens the socket thread, sleeps 2 s, then returns
        deadline = time.monotonic() + AUTH_TIMEOUT
        while not (conn.answered.is_set() or conn.closed.is_set()):
            if time.monotonic() > deadline or self._stop.is_set():
                break
            conn.answered.wait(0.05)
        if not conn.authed.is_set():
            self._retire(conn)
            self._conn = None
            if conn.auth_error is not None:
                raise self._auth_error(conn.auth_error)
            raise RetryableError("the data socket did not acknowledge authentication in time")
        # blocking: symbol-token HTTP, then a 0.5 s sleep in the SDK before the frame is queued
        sdk.subscribe(symbols=self.symbols, data_type="SymbolUpdate")
        self._last_tick_mono = self._mono()  # the watchdog counts from the subscription
        self._last_tick_clock = self.clock()
        self.status = FeedStatus.LIVE
        self._live.set()
        log.info("data feed live: %d symbols (%s mode)", len(self.symbols), self._mode)
        return conn

    @property
    def _mode(self) -> str:
        return "lite" if self.lite else "full"

    def _auth_error(self, control: Control) -> AuthError:
        return AuthError(
            f"the data socket rejected the access token ({control.message or control.code}); "
            f"{LOGIN_HINT}"
        )

    def _retire(self, conn: _Connection | None) -> None:
        """Close an SDK socket on a background thread and release its log file."""
        if conn is None or conn.sdk is None:
            return
        sdk, conn.sdk = conn.sdk, None
        conn.retired.set()

        def close() -> None:
            with contextlib.suppress(Exception):
                sdk.close_connection()
            _close_sdk_logger(sdk)

        t = threading.Thread(target=close, name="fyers-feed-close", daemon=True)
        t.start()
        self._closers = [c for c in self._closers if c.is_alive()] + [t]

    # ------------------------------------------------------------------ SDK callbacks

    def _on_message(self, conn: _Connection, msg: object) -> None:
        recv_ns = time.monotonic_ns()
        now = self.clock()
        tick = tick_from_message(msg, recv_ns=recv_ns, fallback_ts=int(now))
        if tick is not None:
            with self._deliver:
                if conn is not self._conn:
                    return  # a retired socket's last words
                self.ticks_received += 1
                self._last_tick_mono = self._mono()
                self._last_tick_clock = now
                if self._gap_start is not None:
                    gap = Gap(self._gap_start, tick.ts)
                    self.ticks.put(gap)  # in-band, right before the first tick after it
                    self.gaps.put(gap)
                    self._gap_start = None
                self._last_tick_ts = tick.ts
                self.ticks.put(tick)
            return
        control = control_from_message(msg)
        if control is not None and control.kind == "cn":
            if control.ok:
                conn.authed.set()
            else:
                conn.auth_error = control
                self._wake.set()
            conn.answered.set()

    def _on_error(self, conn: _Connection, msg: object) -> None:
        control = control_from_message(msg)
        if control is not None and control.kind == "cn" and not control.ok:
            conn.auth_error = control
            conn.answered.set()
            self._wake.set()
            return
        log.warning("data feed error: %s", msg if isinstance(msg, Mapping) else repr(msg))

    def _on_close(self, conn: _Connection) -> None:
        conn.closed.set()
        self._wake.set()


def _quiet_send_on_close(sdk: Any, conn: _Connection, wake: threading.Event) -> None:
    """The SDK sends queued frames (the subscription, 0.5 s after ``subscribe``) from its own
    thread, which dies with WebSocketConnectionClosedException when the connection closed
    meanwhile (a drop, or our watchdog retiring it on a busy machine). A frame that can no
    longer be sent means the connection is gone: say so and let the supervisor reconnect."""
    from websocket import WebSocketConnectionClosedException  # type: ignore[import-untyped]

    send = sdk._FyersDataSocket__send_message

    def guarded(message: str) -> None:
        try:
            send(message)
        except WebSocketConnectionClosedException:
            conn.closed.set()
            wake.set()

    sdk._FyersDataSocket__send_message = guarded


def _close_sdk_logger(sdk: Any) -> None:
    """Close the ``fyersDataSocket.log`` handler the SDK opens per socket and never closes
    (only the first one is attached to the shared ``FyersDataSocket`` logger; detach it too)."""
    logger = getattr(sdk, "data_logger", None)
    handler = getattr(logger, "logger_handler", None)
    if not isinstance(handler, logging.Handler):
        return
    std = getattr(logger, "_logger", None)
    if isinstance(std, logging.Logger):
        std.removeHandler(handler)
    handler.close()
