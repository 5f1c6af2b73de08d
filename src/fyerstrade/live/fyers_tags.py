"""The ``orderTag`` fyerstrade gives each real order at Fyers: deterministic from the segment,
our order id and the day (:func:`fyers_tag`), so a restart finds its orders at Fyers by tag
without having stored it, and an order tagged for today that we never sent is recognised
(:func:`is_our_tag`)."""

from __future__ import annotations

import hashlib
from datetime import date

__all__ = ["TAG_PREFIX", "fyers_tag", "is_our_tag"]

TAG_PREFIX = "ft"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def fyers_tag(session_id: str, order_id: str, day: date) -> str:
    """The ``orderTag`` of our order ``order_id`` of ``session_id`` (30 letters and digits):
    ``ft``, the IST date ``yymmdd`` and 22 base-36 digits of a hash of both ids."""
    digest = int.from_bytes(hashlib.sha256(f"{session_id}|{order_id}".encode()).digest()[:15])
    body = ""
    for _ in range(22):
        digest, r = divmod(digest, 36)
        body += _DIGITS[r]
    return f"{TAG_PREFIX}{day:%y%m%d}{body}"


def is_our_tag(tag: str, day: date) -> bool:
    """Whether ``tag`` is one fyerstrade gives orders on ``day``."""
    return tag.startswith(f"{TAG_PREFIX}{day:%y%m%d}") and len(tag) == 30
