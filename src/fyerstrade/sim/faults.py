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


class Faults:
    """The switches, thread-safe. Set attributes through :meth:`set`."""

    expired_token: bool
    http_5xx: int
    history_5xx: int
    slow: float
    truncated_body: int
    malformed_body: int
    symbol_master_break: bool

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
                "expired_token": self.expired_token,
                "http_5xx": self.http_5xx,
                "history_5xx": self.history_5xx,
                "slow": self.slow,
                "truncated_body": self.truncated_body,
                "malformed_body": self.malformed_body,
                "symbol_master_break": self.symbol_master_break,
            }
