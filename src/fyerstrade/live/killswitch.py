"""The kill switch's state and its history (:class:`KillSwitch`): one append-only file,
``kill_switch.jsonl`` in the data directory, one JSON line per event.

* ``activate`` — by ``fyerstrade live kill``, the dashboard's button, or the engine itself (max
  daily loss, a reconciliation mismatch), with the reason. From then on no new order may be
  sent; whoever owns the broker cancels every resting order (stop legs included) and exits every
  position with orders, and records the outcome (``flattened``).
* ``unlock`` — only by a person typing :data:`UNLOCK_PHRASE` (``fyerstrade live unlock`` or the
  dashboard); nothing unlocks by itself.

The switch is active when its last ``activate`` came after its last ``unlock``. Lines are appended
under an exclusive lock and synced to disk before the call returns, so two processes (the CLI
and the engine) never interleave, and an activation survives a power cut. **A file that cannot
be read counts as active**: when the platform cannot tell whether trading was stopped, it stays
stopped and says why.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fyerstrade.errors import InputError

__all__ = ["KILL_FILE", "UNLOCK_PHRASE", "KillEvent", "KillState", "KillSwitch"]

KILL_FILE = "kill_switch.jsonl"
UNLOCK_PHRASE = "UNLOCK"
_IST = ZoneInfo("Asia/Kolkata")
Action = Literal["activate", "flattened", "unlock"]


@dataclass(frozen=True, slots=True)
class KillEvent:
    """One line of the history."""

    ts: float
    action: Action
    reason: str
    source: str  # "cli", "dashboard", "engine" ...
    detail: str = ""


@dataclass(frozen=True, slots=True)
class KillState:
    """Whether new orders are blocked, since when and why."""

    active: bool
    since: float = 0.0
    reason: str = ""
    source: str = ""
    flattened: str = ""  # the outcome of the last flattening, if any

    def describe(self) -> str:
        if not self.active:
            return "off"
        since = datetime.fromtimestamp(self.since, _IST).strftime("%Y-%m-%d %H:%M:%S IST")
        return f"ACTIVE since {since}: {self.reason}"


class KillSwitch:
    """The switch of one data directory. ``clock`` gives wall time (epoch seconds)."""

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = data_dir / KILL_FILE
        self.clock = clock
        self._cache: tuple[tuple[int, int], KillState] | None = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent / f".{KILL_FILE}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _append(self, event: KillEvent) -> KillEvent:
        line = json.dumps(asdict(event), ensure_ascii=False) + "\n"
        with self._locked():
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        self._cache = None
        return event

    def history(self) -> list[KillEvent]:
        """Every event, oldest first. Raises :class:`InputError` if the file is unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"the kill switch file {self.path} cannot be read ({exc})") from None
        events: list[KillEvent] = []
        lines = text.splitlines()
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                data: Any = json.loads(raw)
                events.append(
                    KillEvent(
                        ts=float(data["ts"]),
                        action=data["action"],
                        reason=str(data.get("reason", "")),
                        source=str(data.get("source", "")),
                        detail=str(data.get("detail", "")),
                    )
                )
                if events[-1].action not in ("activate", "flattened", "unlock"):
                    raise ValueError(f"unknown action {events[-1].action!r}")
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"the kill switch file {self.path} is damaged at line {n} ({exc}); "
                    "trading stays stopped until it is repaired"
                ) from None
        return events

    def state(self) -> KillState:
        """The current state; an unreadable file is an *active* switch whose reason says so."""
        try:
            st = self.path.stat()
            key = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            return KillState(False)
        except OSError as exc:
            return KillState(True, self.clock(), f"kill switch file unreadable: {exc}", "file")
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        try:
            events = self.history()
        except InputError as exc:
            return KillState(True, self.clock(), str(exc), "file")
        state = KillState(False)
        for e in events:
            if e.action == "activate" and not state.active:
                state = KillState(True, e.ts, e.reason, e.source)
            elif e.action == "flattened" and state.active:
                state = KillState(True, state.since, state.reason, state.source, e.detail)
            elif e.action == "unlock":
                state = KillState(False)
        self._cache = (key, state)
        return state

    @property
    def active(self) -> bool:
        return self.state().active

    def activate(self, reason: str, source: str, detail: str = "") -> KillEvent:
        """Block new orders (and ask the broker's owner to flatten). Every activation is
        recorded, also while the switch is already on."""
        if not reason.strip():
            raise InputError("the kill switch needs a reason")
        return self._append(KillEvent(self.clock(), "activate", reason.strip(), source, detail))

    def record_flattened(self, detail: str, source: str) -> KillEvent:
        """Record what the flattening did (orders cancelled, positions exited, what is left)."""
        return self._append(KillEvent(self.clock(), "flattened", "", source, detail))

    def unlock(self, typed: str, source: str) -> KillEvent:
        """Allow orders again; ``typed`` must be :data:`UNLOCK_PHRASE` exactly."""
        state = self.state()
        if not state.active:
            raise InputError("the kill switch is not active; nothing to unlock")
        if state.source == "file":
            raise InputError(state.reason)
        if typed.strip() != UNLOCK_PHRASE:
            raise InputError(f"not unlocked: type {UNLOCK_PHRASE} exactly to allow orders again")
        return self._append(KillEvent(self.clock(), "unlock", f"after: {state.reason}", source))
