"""The opt-in for real orders: three keys, all required (:func:`check_real_trading`).

1. ``FYERSTRADE_REAL_TRADING=true`` in the environment (or ``.env``): this machine may trade;
2. ``broker: fyers`` in the live config: this setup trades for real;
3. a confirmation for this start: ``fyerstrade live start --real`` (or the dashboard) shows the
   account, its funds, the symbols and the limits, and the person at the keyboard types the
   account id. That writes a single-use :class:`Confirmation` (``real_confirmation.json``, mode
   0600) naming the account and a digest of the config; the engine process consumes it when it
   starts (:func:`consume_confirmation`). It expires after two minutes, and a changed config or
   another account does not match it.

Without (1) and (2) the engine is a paper engine and no order endpoint is ever called; with (2)
alone, or (2) and (1) without (3), the engine refuses to start and says what is missing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fyerstrade.atomic_file import write_text_atomic
from fyerstrade.config import Settings
from fyerstrade.errors import EngineError, InputError
from fyerstrade.live.config import LiveConfig, dump_live_config

__all__ = [
    "CONFIRMATION_FILE",
    "Confirmation",
    "RealStartSummary",
    "admit_start",
    "check_real_trading",
    "check_typed_account",
    "config_digest",
    "consume_confirmation",
    "is_real",
    "start_summary",
    "write_confirmation",
]

CONFIRMATION_FILE = "real_confirmation.json"
CONFIRMATION_TTL = 120.0


def is_real(settings: Settings, config: LiveConfig) -> bool:
    """Whether this start would place real orders (both switches on)."""
    return config.broker == "fyers" and settings.real_trading


def check_real_trading(settings: Settings, config: LiveConfig) -> bool:
    """True for a real-order start, False for paper; raises :class:`EngineError` when the
    config asks for real orders but this machine does not allow them."""
    if config.broker != "fyers":
        return False
    if not settings.real_trading:
        raise EngineError(
            "the live config says broker: fyers (REAL orders) but real trading is off on this "
            "machine; set FYERSTRADE_REAL_TRADING=true (environment or .env) to allow it, or "
            "set broker: paper"
        )
    return True


def config_digest(config: LiveConfig) -> str:
    """A digest of everything in the config (a changed config needs a new confirmation)."""
    return hashlib.sha256(dump_live_config(config).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Confirmation:
    fy_id: str
    digest: str
    created_at: float
    expires_at: float


def _path(settings: Settings) -> Path:
    return settings.data_dir / CONFIRMATION_FILE


def write_confirmation(
    settings: Settings, config: LiveConfig, fy_id: str, *, clock: Callable[[], float] = time.time
) -> Confirmation:
    now = clock()
    confirmation = Confirmation(fy_id, config_digest(config), now, now + CONFIRMATION_TTL)
    data = {
        "fy_id": confirmation.fy_id,
        "digest": confirmation.digest,
        "created_at": confirmation.created_at,
        "expires_at": confirmation.expires_at,
    }
    write_text_atomic(_path(settings), json.dumps(data), mode=0o600)
    return confirmation


def consume_confirmation(
    settings: Settings,
    config: LiveConfig,
    fy_id: str,
    *,
    clock: Callable[[], float] = time.time,
) -> Confirmation:
    """Take the confirmation of this start (it is removed, whatever it says); raises
    :class:`EngineError` saying how to confirm when there is none that fits."""
    path = _path(settings)
    how = "start real trading with `fyerstrade live start --real` (or from the dashboard)"
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EngineError(f"real trading was not confirmed for this start; {how}") from None
    except (OSError, ValueError) as exc:
        path.unlink(missing_ok=True)
        raise EngineError(f"the real-trading confirmation is unreadable ({exc}); {how}") from None
    path.unlink(missing_ok=True)
    try:
        confirmation = Confirmation(
            str(raw["fy_id"]),
            str(raw["digest"]),
            float(raw["created_at"]),
            float(raw["expires_at"]),
        )
    except (KeyError, TypeError, ValueError):
        raise EngineError(f"the real-trading confirmation is damaged; {how}") from None
    if clock() > confirmation.expires_at:
        raise EngineError(f"the real-trading confirmation expired; {how}")
    if confirmation.fy_id != fy_id:
        raise EngineError(
            f"real trading was confirmed for account {confirmation.fy_id}, but the token is "
            f"for {fy_id}; {how}"
        )
    if confirmation.digest != config_digest(config):
        raise EngineError(f"the live config changed after real trading was confirmed; {how}")
    return confirmation


@dataclass(frozen=True, slots=True)
class RealStartSummary:
    """What the person confirming a real start must see."""

    fy_id: str
    name: str
    available: float
    total: float
    symbols: list[str]
    lines: list[str]

    def render(self) -> str:
        head = [
            "REAL ORDERS — this start sends orders to Fyers with real money",
            f"  account:    {self.fy_id} ({self.name})",
            f"  funds:      available {self.available:,.2f} of {self.total:,.2f}",
            f"  symbols:    {', '.join(self.symbols)}",
        ]
        return "\n".join(head + [f"  {line}" for line in self.lines])


def start_summary(
    config: LiveConfig, profile: dict[str, Any], available: float, total: float
) -> RealStartSummary:
    """The account, funds, symbols and limits of a real start."""
    risk = config.risk
    sizing = f"{config.quantity} per entry" if config.quantity else "sized by free margin"
    lines = [
        f"strategy:   {config.strategy} {config.params}",
        f"mode:       {config.mode}, {config.resolution.value}-minute bars, quantity {sizing}",
        f"capital:    {config.capital:,.2f} (the strategy's sizing base)",
        f"entries:    {config.entry_start:%H:%M}-{config.entry_end:%H:%M} IST, square-off "
        f"{config.square_off:%H:%M}",
        "limits:     max daily loss "
        + (f"{risk.max_daily_loss:,.2f}" if risk.max_daily_loss else "none")
        + ", max open positions "
        + (str(risk.max_open_positions) if risk.max_open_positions else "none"),
        f"orders:     market orders as limits {config.real.market_protection_pct:g}% beyond the "
        f"last price; at most {config.real.orders_per_second} order requests a second",
        "kill switch: `fyerstrade live kill` (or the dashboard) cancels everything and exits",
    ]
    return RealStartSummary(
        fy_id=str(profile.get("fy_id") or ""),
        name=str(profile.get("name") or profile.get("display_name") or ""),
        available=available,
        total=total,
        symbols=list(config.symbols),
        lines=lines,
    )


def check_typed_account(typed: str, fy_id: str) -> None:
    if not fy_id:
        raise InputError("Fyers did not say which account this token belongs to; log in again")
    if typed.strip().upper() != fy_id.upper():
        raise InputError(f"not started: type the account id {fy_id} exactly to confirm")


def admit_start(settings: Settings, config: LiveConfig) -> None:
    """What the engine process checks before it trades: nothing for paper; for real orders,
    the confirmation of this start for the token's account (consumed)."""
    if not check_real_trading(settings, config):
        return
    from fyerstrade.fyers.order_gateway import OrderGateway

    fy_id = str(OrderGateway.from_settings(settings).profile().get("fy_id") or "")
    consume_confirmation(settings, config, fy_id)
