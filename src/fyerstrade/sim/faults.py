"""Failure modes a test can switch on (:class:`Faults`), in-process or via ``POST /_sim/faults``.

==================== ====== =================================================================
switch               type   effect
==================== ====== =================================================================
expired_token        bool   every authenticated call answers -16 (quotes -15), HTTP 401
http_5xx             int    the next N requests answer HTTP 502 with an HTML (non-JSON) body
history_5xx          int    the same, for history requests only (the rest of the API answers)
slow                 float  every answer is delayed by this many seconds
truncated_body       int    the next N JSON answers lose their second half (valid length)
malformed_body       int    the next N JSON answers are not JSON at all
symbol_master_break  bool   symbol master downloads announce their full length, send half, and
                            drop the connection
order_ack_delay      float  order requests (place, modify, cancel, multi-order) are carried out
                            at once but answered this many seconds later
order_reply_lost     int    the next N order requests are carried out, then the connection is
                            dropped without a reply (the SDK returns code -99, "Bad request")
order_late_reject    int    the next N placed orders are acknowledged, then rejected by the RMS
order_reject_now     int    the next N placed orders are rejected in the reply (code -99 with
                            the RMS reason), and listed in the orderbook as rejected
order_reject_delay   float  seconds between an order's acknowledgement and the RMS verdict
order_socket_drop    int    drop every open order-socket connection, N times (one per check)
orderbook_stale      int    the next N orderbook reads (``GET /orders``, by id or tag too) show
                            every filled or cancelled order as still open with nothing filled;
                            tradebook, positions and order socket are current (a lagging book)
order_socket_silent  bool   order sockets stay connected and send nothing; events are lost
frozen_symbols       list   symbols locked at a circuit: their orders are accepted and rest,
                            no counterparty trades with them until the symbol is unlocked
==================== ====== =================================================================

Counted faults are consumed by the requests they hit, so a test can say "the next two calls fail"
and then watch a client recover.
"""

from __future__ import annotations

import difflib
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class FaultSettings(BaseModel):
    """The validated body of ``POST /_sim/faults`` (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid")

    expired_token: bool | None = None
    http_5xx: int | None = Field(default=None, ge=0)
    history_5xx: int | None = Field(default=None, ge=0)
    slow: float | None = Field(default=None, ge=0, le=300)
    truncated_body: int | None = Field(default=None, ge=0)
    malformed_body: int | None = Field(default=None, ge=0)
    symbol_master_break: bool | None = None
    order_ack_delay: float | None = Field(default=None, ge=0, le=300)
    order_reply_lost: int | None = Field(default=None, ge=0)
    order_late_reject: int | None = Field(default=None, ge=0)
    order_reject_now: int | None = Field(default=None, ge=0)
    order_reject_delay: float | None = Field(default=None, ge=0, le=300)
    order_socket_drop: int | None = Field(default=None, ge=0)
    orderbook_stale: int | None = Field(default=None, ge=0)
    order_socket_silent: bool | None = None
    frozen_symbols: list[str] | None = None


class Faults:
    """The switches, thread-safe. Set attributes through :meth:`set`."""

    expired_token: bool
    http_5xx: int
    history_5xx: int
    slow: float
    truncated_body: int
    malformed_body: int
    symbol_master_break: bool
    order_ack_delay: float
    order_reply_lost: int
    order_late_reject: int
    order_reject_now: int
    order_reject_delay: float
    order_socket_drop: int
    orderbook_stale: int
    order_socket_silent: bool
    frozen_symbols: list[str]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def set(self, **switches: Any) -> None:
        """Change some switches, e.g. ``faults.set(http_5xx=2)``; raises ``ValueError`` on an
        unknown switch or a bad value."""
        known = list(FaultSettings.model_fields)
        for key in switches:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"unknown fault switch {key!r}{hint}; switches: {', '.join(known)}"
                )
        try:
            parsed = FaultSettings.model_validate(switches)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"invalid value for fault switch {where}: {err['msg']}") from None
        with self._lock:
            for key, value in parsed.model_dump(exclude_none=True).items():
                setattr(self, key, value)

    def reset(self) -> None:
        """Switch everything off."""
        with self._lock:
            self.expired_token = False
            self.http_5xx = 0
            self.history_5xx = 0
            self.slow = 0.0
            self.truncated_body = 0
            self.malformed_body = 0
            self.symbol_master_break = False
            self.order_ack_delay = 0.0
            self.order_reply_lost = 0
            self.order_late_reject = 0
            self.order_reject_now = 0
            self.order_reject_delay = 0.0
            self.order_socket_drop = 0
            self.orderbook_stale = 0
            self.order_socket_silent = False
            self.frozen_symbols = []

    def take(self, name: str) -> bool:
        """Consume one unit of a counted fault; True if this request is hit."""
        with self._lock:
            left = int(getattr(self, name))
            if left <= 0:
                return False
            setattr(self, name, left - 1)
            return True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                name: list(value) if isinstance(value, list) else value
                for name in FaultSettings.model_fields
                for value in (getattr(self, name),)
            }
