"""The thread that talks to Fyers for :class:`~fyerstrade.live.fyers_broker.FyersBroker`
(:class:`FyersSender`): the engine's thread hands it jobs (place, cancel, a complete read of the
books, flatten the account), each stamped with the monotonic time it was asked for, and picks up
the answers with the same stamp from :attr:`FyersSender.results` — the engine's thread never
waits on Fyers, and the sender never touches the engine's books.

Every request goes through the :class:`~fyerstrade.fyers.order_gateway.OrderGateway` (paced,
never resending an unproven place). An error is an answer too (``read_failed`` or ``error``): the
engine's thread must hear of it, never a dead thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from fyerstrade.errors import FyersTradeError
from fyerstrade.fyers.order_gateway import OrderGateway, PlaceResult
from fyerstrade.fyers.orders import BrokerOrder, BrokerPosition, BrokerTrade
from fyerstrade.live.flatten import flatten_account

__all__ = ["Book", "FyersSender"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Book:
    """A complete read of today's orders, trades and positions."""

    orders: list[BrokerOrder]
    trades: list[BrokerTrade]
    positions: list[BrokerPosition]


class FyersSender:
    """The sender thread's work and what it learnt (Fyers' ids by our order id)."""

    def __init__(self, gateway: OrderGateway) -> None:
        self.gateway = gateway
        # (kind, value, the monotonic time it was asked for)
        self.jobs: queue.SimpleQueue[tuple[str, Any, float] | None] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[tuple[str, Any, float]] = queue.SimpleQueue()
        self.ids: dict[str, str] = {}
        self.busy = 0  # jobs handed over and not answered (the engine thread's count)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="fyers-sender", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop after the jobs already handed over (orders recorded are still sent)."""
        if self._thread is not None:
            self.jobs.put(None)
            self._thread.join(timeout=60)
            self._thread = None

    def hand(self, kind: str, value: Any, asked: float) -> None:
        """(Engine thread) a job for the sender, asked at monotonic time ``asked``."""
        self.busy += 1
        self.jobs.put((kind, value, asked))

    def answer(self) -> tuple[str, Any, float] | None:
        """(Engine thread) the next answer, or None when there is none yet."""
        try:
            found = self.results.get_nowait()
        except queue.Empty:
            return None
        self.busy -= 1
        return found

    def _work(self) -> None:
        gateway = self.gateway
        while True:
            job = self.jobs.get()
            if job is None:
                return
            kind, value, asked = job
            try:
                if kind == "place":
                    order_id, payload = value
                    result: PlaceResult = gateway.place(payload)
                    if result.broker_id:
                        self.ids[order_id] = result.broker_id
                    self.results.put(("placed", (order_id, result), asked))
                elif kind == "cancel":
                    order_id, tag = value
                    broker_id = self.ids.get(order_id)
                    if not broker_id:
                        found = gateway.orders_tagged(tag)
                        broker_id = found[0].broker_id if found else ""
                    if not broker_id:
                        self.results.put(("order", None, asked))
                        continue
                    self.results.put(("order", gateway.cancel(broker_id), asked))
                elif kind == "read":
                    book = Book(gateway.orderbook(), gateway.tradebook(), gateway.positions())
                    self.results.put(("book", book, asked))
                elif kind == "flatten":
                    self.results.put(("flattened", flatten_account(gateway), asked))
            except FyersTradeError as exc:
                failed = "read_failed" if kind == "read" else "error"
                self.results.put((failed, (kind, exc), asked))
            except Exception as exc:  # the engine thread must hear of it, not a dead thread
                log.exception("the Fyers sender failed on %s", kind)
                self.results.put(("error", (kind, exc), asked))
