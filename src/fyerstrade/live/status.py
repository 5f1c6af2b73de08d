"""The live engine's status file (``live_status.json`` in the data directory).

The engine process (scheduler and engine thread) rewrites it atomically about once a second;
``fyerstrade live status`` and the dashboard's Paper trading page read it. It holds only what is
safe to show: never a token.

States::

    starting      the process is up, not yet connected
    waiting       the scheduler sleeps until the next session (``next_start`` says when)
    warming_up    loading history and replaying today's stored ticks
    running       connected, trading
    reconnecting  the feed lost its connection and is getting it back
    halted        a risk limit was breached: no new entries today
    auth_failed   the token is missing or expired: ``message`` says to log in again
    error         the engine stopped on an error (``message``)
    stopped       stopped cleanly
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fyerstrade.atomic_file import write_text_atomic
from fyerstrade.trading.portfolio import Portfolio

__all__ = ["ACTIVE_STATES", "EngineStatus", "read_status", "write_status"]

ACTIVE_STATES = frozenset(
    {"starting", "waiting", "warming_up", "running", "reconnecting", "halted"}
)


@dataclass
class EngineStatus:
    state: str = "stopped"
    pid: int = 0
    started_at: float = 0.0  # wall time the process started
    updated_at: float = 0.0  # wall time of this snapshot
    session_id: str = ""
    strategy: str = ""
    symbols: list[str] = field(default_factory=list)
    market_time: int = 0  # the engine clock (epoch seconds): market time, simulated or real
    last_tick_ts: int = 0  # exchange time of the last tick
    ticks: int = 0  # ticks received this session
    bars: int = 0  # 1-minute bars closed this session
    trades: int = 0  # fills recorded this session
    equity: float = 0.0
    cash: float = 0.0
    day_pnl: float = 0.0  # equity minus the session's starting equity
    positions: list[dict[str, Any]] = field(default_factory=list)
    tick_p99_ms: float = 0.0  # tick receipt → processed, 99th percentile of recent ticks
    strategy_p99_ms: float = 0.0  # receipt of a minute's last tick → strategy, 99th percentile
    next_start: int = 0  # when the scheduler wakes next (epoch seconds), 0 = unknown
    message: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def show_account(
        self,
        portfolio: Portfolio,
        *,
        equity: float,
        start_equity: float,
        last_price: Callable[[str], float | None],
    ) -> None:
        """Equity, cash, the day's P&L and each open position valued at ``last_price`` (the
        broker's last trade; the position's own last price before any)."""
        self.equity, self.cash = equity, portfolio.cash
        self.day_pnl = equity - start_equity
        positions = []
        for sym, pos in portfolio.positions.items():
            if not pos.quantity:
                continue
            last = last_price(sym) or pos.last_price
            positions.append(
                {
                    "symbol": sym,
                    "quantity": pos.quantity,
                    "avg_price": pos.avg_price,
                    "last_price": last,
                    "unrealized_pnl": (last - pos.avg_price) * pos.quantity,
                    "product": str(pos.product),
                }
            )
        self.positions = positions


def write_status(path: Path, status: EngineStatus) -> None:
    """Replace ``path`` atomically with ``status`` (no fsync: a snapshot rewritten every
    second must not stall the engine on the disk)."""
    write_text_atomic(path, status.to_json(), durable=False)


def read_status(path: Path) -> EngineStatus | None:
    """The last status written, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    known = EngineStatus.__dataclass_fields__
    return EngineStatus(**{k: v for k, v in data.items() if k in known})
