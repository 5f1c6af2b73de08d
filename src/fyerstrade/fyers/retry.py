"""Retrying transient Fyers failures: exponential backoff with full jitter, honouring the server's
``Retry-After`` on 429s. Only :class:`RetryableError` (and its :class:`RateLimitError`) is retried;
auth and input errors go straight to the caller.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from fyerstrade.errors import RateLimitError, RetryableError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; the n-th wait is uniform in ``[0, min(max_delay, base * 2**n)]``
    unless the server named a delay. A server delay above ``max_server_wait`` is not waited for
    (the error goes to the caller, e.g. the daily budget being used up)."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_server_wait: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int) -> float:
        return self.rng.uniform(0.0, min(self.max_delay, self.base_delay * (2**attempt)))


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    on_rate_limit: Callable[[float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; on a retryable failure wait and try again, up to ``policy.attempts`` times.

    ``on_rate_limit(seconds)`` is told about every 429 so the shared limiter can hold back all
    threads, not just this one.
    """
    attempt = 0
    while True:
        try:
            return call()
        except RateLimitError as exc:
            server_wait = exc.retry_after
            if server_wait is not None and server_wait > policy.max_server_wait:
                raise
            wait = server_wait if server_wait is not None else policy.backoff(attempt)
            # a little jitter on top of the server's delay, so waiting threads do not stampede
            wait += policy.rng.uniform(0.0, min(0.25, policy.base_delay))
            if on_rate_limit is not None:
                on_rate_limit(wait)
            error: RetryableError = exc
        except RetryableError as exc:
            wait = policy.backoff(attempt)
            error = exc
        attempt += 1
        if attempt >= policy.attempts:
            raise type(error)(f"{error} (gave up after {policy.attempts} attempts)") from error
        log.info("%s: %s; retry %d/%d in %.2f s", what, error, attempt, policy.attempts - 1, wait)
        sleep(wait)
