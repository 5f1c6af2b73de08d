"""Sending orders to Fyers through the official SDK without ever sending one twice
(:class:`OrderGateway`), paced under the SEBI order rate (:class:`OrderPacer`).

Idempotence rests on the tag. Every order carries a unique ``orderTag``; when the reply to a
place does not prove what happened (the SDK's ``-99 "Bad request"`` after a dropped connection,
a timeout, a 5xx, code 201, an unreadable body: :func:`~fyerstrade.fyers.orders.classify_reply`),
the gateway **looks the tag up in the orderbook** before anything else. Found: that is the order
(its id is adopted). Not found in ``lookups`` consecutive successful look-ups: the order never
reached Fyers and it is sent again, with the same tag, at most ``resends`` times. Still unproven:
the result is UNKNOWN and the caller holds the order as unknown until the orderbook settles it.
A refused request (bad input, token, rate limit) is never resent here. Cancel and modify read the
order back when their reply proves nothing.

Pacing: place, modify and cancel together go through one :class:`OrderPacer` (default 8 in any
second, under the 10 orders/s that Fyers and NSE allow an unregistered algo), which keeps a
request's place from when it is sent until its answer is back, so requests delayed on the way can
never reach the server as a burst. Every call (orders and reads) also takes a place in the
process-wide REST pacer that market data uses (Fyers counts one budget for all).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fyerstrade.config import Settings
from fyerstrade.errors import AuthError, BrokerError, RetryableError
from fyerstrade.fyers import endpoints
from fyerstrade.fyers.orders import (
    BrokerOrder,
    BrokerPosition,
    BrokerTrade,
    Funds,
    OrderState,
    Outcome,
    Reply,
    book_tag,
    classify_reply,
    parse_funds,
    parse_orderbook,
    parse_positions,
    parse_tradebook,
)
from fyerstrade.fyers.ratelimit import RateLimiter, get_rate_limiter
from fyerstrade.fyers.responses import raise_for_error
from fyerstrade.fyers.sdk_session import RecordingSession, ThreadModels
from fyerstrade.fyers.tokens import LOGIN_HINT, load_valid_token
from fyerstrade.logs import register_secret

__all__ = ["OrderGateway", "OrderPacer", "PlaceResult"]

log = logging.getLogger(__name__)

ORDERS_PER_SECOND = 8
MAX_ORDERS_PER_SECOND = 10
ORDER_TIMEOUT = 10.0
ENDED_CODES = frozenset({-161, -162, -164})  # already cancelled / traded / rejected


class OrderPacer:
    """At most ``per_second`` order requests in any one-second window, counted from sending
    until a second after the answer (thread-safe; ``monotonic`` injectable)."""

    def __init__(
        self, per_second: int = ORDERS_PER_SECOND, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if not 1 <= per_second <= MAX_ORDERS_PER_SECOND:
            raise ValueError(
                f"orders per second must be 1 to {MAX_ORDERS_PER_SECOND} (SEBI's threshold for "
                f"an unregistered algo), got {per_second}"
            )
        self.per_second = per_second
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._done: deque[float] = deque()
        self._in_flight = 0
        self.sent = 0
        self.waited = 0.0

    def _wait_needed(self, now: float) -> float:
        while self._done and self._done[0] <= now - 1.0:
            self._done.popleft()
        if len(self._done) + self._in_flight < self.per_second:
            return 0.0
        if self._done:  # the oldest answered request leaves the window
            return max(self._done[0] + 1.0 - now, 0.001)
        return 0.05  # every place is in flight: an answer will wake us

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            start = self._monotonic()
            while (wait := self._wait_needed(self._monotonic())) > 0:
                self._cond.wait(wait)
            self._in_flight += 1
            self.sent += 1
            self.waited += self._monotonic() - start
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._done.append(self._monotonic())
                self._cond.notify_all()


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """What became of a place request."""

    outcome: Outcome
    broker_id: str
    message: str
    sends: int  # how many place requests went out (1 normally; 2 after a proven absence)
    found_by_tag: bool = False
    order: BrokerOrder | None = None


class OrderGateway:
    """Order requests and order-side reads for one access token. Thread-safe (one SDK model per
    thread; one pacer)."""

    def __init__(
        self,
        settings: Settings,
        *,
        app_id: str,
        access_token: str,
        pacer: OrderPacer | None = None,
        rate_limiter: RateLimiter | None = None,
        timeout: float = ORDER_TIMEOUT,
        lookups: int = 3,
        lookup_wait: float = 1.0,
        resends: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not app_id or not access_token:
            raise AuthError(f"no Fyers app id or access token; {LOGIN_HINT}")
        register_secret(access_token)
        endpoints.point_sdk_at(settings)
        self.settings = settings
        self.app_id = app_id
        self._token = access_token
        self.pacer = pacer or OrderPacer()
        self.rate_limiter = rate_limiter or get_rate_limiter(settings)
        self.timeout = timeout
        self.lookups = lookups
        self.lookup_wait = lookup_wait
        self.resends = resends
        self._sleep = sleep
        self._models = ThreadModels(
            app_id=app_id, access_token=access_token, log_dir=settings.log_dir, timeout=timeout
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> OrderGateway:
        record = load_valid_token(settings)
        return cls(settings, app_id=record.app_id, access_token=record.access_token, **kwargs)

    # ---- plumbing ----------------------------------------------------------------------------
    def _model(self) -> tuple[Any, RecordingSession]:
        return self._models.get()

    def _send(self, invoke: Callable[[Any], Any]) -> Reply:
        """One order request (paced): what its reply proves."""
        model, session = self._model()
        with self.pacer.slot(), self.rate_limiter.request():
            raw = invoke(model)
        payload = copy.deepcopy(raw) if isinstance(raw, dict) else raw
        return classify_reply(
            payload, http_status=session.last_status, transport_error=session.last_error
        )

    def _read(self, what: str, invoke: Callable[[Any], Any]) -> dict[str, Any]:
        model, session = self._model()
        with self.rate_limiter.request():
            raw = invoke(model)
        payload = copy.deepcopy(raw) if isinstance(raw, dict) else raw
        return raise_for_error(
            payload,
            what=what,
            http_status=session.last_status,
            headers=session.last_headers,
            transport_error=session.last_error,
        )

    # ---- reads -------------------------------------------------------------------------------
    def orderbook(self) -> list[BrokerOrder]:
        return parse_orderbook(self._read("orderbook", lambda m: m.orderbook()))

    def orders_tagged(self, tag: str) -> list[BrokerOrder]:
        """The orders carrying our ``tag`` (filtered here too, should a server ignore the
        query)."""
        payload = self._read(
            f"orderbook tag {tag}", lambda m: m.orderbook({"order_tag": book_tag(tag)})
        )
        return [o for o in parse_orderbook(payload) if o.tag == tag]

    def order(self, broker_id: str) -> BrokerOrder | None:
        payload = self._read(f"order {broker_id}", lambda m: m.orderbook({"id": broker_id}))
        found = [o for o in parse_orderbook(payload) if o.broker_id == broker_id]
        return found[0] if found else None

    def tradebook(self) -> list[BrokerTrade]:
        return parse_tradebook(self._read("tradebook", lambda m: m.tradebook()))

    def positions(self) -> list[BrokerPosition]:
        return parse_positions(self._read("positions", lambda m: m.positions()))

    def funds(self) -> Funds:
        return parse_funds(self._read("funds", lambda m: m.funds()))

    def profile(self) -> dict[str, Any]:
        data = self._read("profile", lambda m: m.get_profile()).get("data")
        return dict(data) if isinstance(data, dict) else {}

    # ---- orders ------------------------------------------------------------------------------
    def _find_by_tag(self, tag: str) -> tuple[BrokerOrder | None, bool]:
        """``(order, proven_absent)``: the tagged order, or whether ``lookups`` successful
        look-ups in a row found nothing."""
        absent = 0
        for attempt in range(self.lookups * 2):
            try:
                found = self.orders_tagged(tag)
            except (RetryableError, BrokerError) as exc:
                log.warning("order %s: looking it up failed (%s); trying again", tag, exc)
                absent = 0
            else:
                if len(found) > 1:
                    ids = ", ".join(o.broker_id for o in found)
                    raise BrokerError(
                        f"Fyers holds {len(found)} orders tagged {tag} ({ids}): one order was "
                        "placed more than once; trading must stop and the extra order be checked"
                    )
                if found:
                    return found[0], False
                absent += 1
                if absent >= self.lookups:
                    return None, True
            if attempt + 1 < self.lookups * 2:
                self._sleep(self.lookup_wait)
        return None, False

    def place(self, payload: dict[str, Any]) -> PlaceResult:
        """Send a tagged place request; never creates a second order for the tag."""
        tag = str(payload.get("orderTag") or "")
        if not tag:
            raise BrokerError("refusing to send an untagged order: its outcome could not be proven")
        sends = 0
        last = Reply(Outcome.UNKNOWN, "", None, "not sent")
        while sends <= self.resends:
            sends += 1
            last = self._send(lambda m: m.place_order(data=payload))
            if last.outcome is Outcome.ACCEPTED:
                return PlaceResult(Outcome.ACCEPTED, last.broker_id, last.message, sends)
            if last.outcome is Outcome.REFUSED:
                return PlaceResult(Outcome.REFUSED, "", last.message, sends)
            # REJECTED (-99 with a reason) or UNKNOWN: what does the book say about the tag?
            log.warning("order %s: reply proves nothing (%s); looking it up", tag, last.message)
            order, absent = self._find_by_tag(tag)
            if order is not None:
                outcome = (
                    Outcome.REJECTED if order.state is OrderState.REJECTED else Outcome.ACCEPTED
                )
                message = order.message or last.message
                return PlaceResult(outcome, order.broker_id, message, sends, True, order)
            if last.outcome is Outcome.REJECTED:
                return PlaceResult(Outcome.REJECTED, last.broker_id, last.message, sends)
            if not absent:
                break  # cannot prove it is not there: never send it again
        return PlaceResult(Outcome.UNKNOWN, "", last.message, sends)

    def cancel(self, broker_id: str) -> BrokerOrder | None:
        """Cancel an order and return it as the orderbook shows it afterwards (None if the book
        could not be read). Cancelling an order that has already ended is not an error; a
        cancel whose reply proves nothing is sent once more if the order is still working."""
        for attempt in range(3):
            reply = self._send(lambda m: m.cancel_order(data={"id": broker_id}))
            if reply.outcome is Outcome.REFUSED and reply.code in (-429, -353):
                self._sleep(1.0)
                continue
            if reply.outcome is Outcome.REFUSED and reply.code not in ENDED_CODES:
                raise BrokerError(f"Fyers refused to cancel order {broker_id}: {reply.message}")
            try:
                order = self.order(broker_id)
            except (RetryableError, BrokerError) as exc:
                log.warning("order %s: reading it after a cancel failed (%s)", broker_id, exc)
                return None
            unproven = reply.outcome is Outcome.UNKNOWN
            if order is not None and order.state.is_working and unproven and attempt < 2:
                continue
            return order
        return None

    def exit_position(self, position_id: str) -> Reply:
        """Ask Fyers to close one position with its own (protected) market order. Always by id:
        the SDK's ``exit_positions()`` without one closes *everything*."""
        if not position_id:
            raise BrokerError("refusing to exit a position without its id (that exits them all)")
        return self._send(lambda m: m.exit_positions(data={"id": position_id}))

    def modify(self, payload: dict[str, Any]) -> Reply:
        """Modify an order (``payload`` from :func:`~fyerstrade.fyers.orders.modify_payload`)."""
        return self._send(lambda m: m.modify_order(data=payload))
