"""Refused orders, counted by reason: "12 orders refused: not enough free margin".

The trading core refuses an order with a full sentence (amounts, times, lot sizes). For a run's
summary those sentences are grouped by *why* — the kind of refusal — so the CLI, the JSON and the
dashboard can say how many orders were refused and for what, in one line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Protocol

__all__ = ["refusal_counts", "refusal_kind", "refusal_line"]

# (pattern at the start or inside the engine's reason, the short reason a trader reads)
_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"insufficient funds|free margin"), "not enough free margin"),
    (re.compile(r"outside the intraday entry window"), "outside the intraday entry window"),
    (re.compile(r"not a multiple of the lot size"), "quantity not a multiple of the lot size"),
    (re.compile(r"short selling is not allowed"), "short selling in CNC (delivery)"),
    (re.compile(r"is an index"), "an index cannot be traded"),
    (re.compile(r"^risk: .*open positions"), "open-position limit reached"),
    (re.compile(r"^risk: "), "daily loss limit reached"),
    (re.compile(r"reduce-only"), "reduce-only order with no position"),
    (re.compile(r"needs a positive (limit|stop) price"), "missing limit or stop price"),
    (re.compile(r"quantity must be positive"), "quantity not positive"),
)


class _HasReason(Protocol):
    @property
    def reason(self) -> str: ...


def refusal_kind(reason: str) -> str:
    """The short reason of one refusal (the sentence itself, without figures, if unknown)."""
    for pattern, kind in _KINDS:
        if pattern.search(reason):
            return kind
    return re.sub(r"\s+", " ", re.sub(r"[₹\d.,:]+", "…", reason)).strip()


def refusal_counts(rejections: Iterable[_HasReason]) -> dict[str, int]:
    """Refusals per short reason, most frequent first."""
    counts = Counter(refusal_kind(r.reason) for r in rejections)
    return dict(counts.most_common())


def refusal_line(counts: Mapping[str, int]) -> str:
    """``12 orders refused: not enough free margin`` (several reasons with their counts), or
    ``""`` when nothing was refused."""
    total = sum(counts.values())
    if not total:
        return ""
    noun = "order" if total == 1 else "orders"
    if len(counts) == 1:
        return f"{total} {noun} refused: {next(iter(counts))}"
    parts = ", ".join(f"{kind} {n}" for kind, n in counts.items())
    return f"{total} {noun} refused: {parts}"
