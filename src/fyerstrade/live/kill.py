"""Pulling the kill switch, for the command line and the dashboard alike (:func:`pull`).

It records the activation (so no new order is sent from now on), then makes sure the account is
flattened: a running engine does it through its broker and reports it in the switch's history
(waited for up to ``timeout``); with no engine, or one that does not report in time, and real
trading configured, this process flattens the Fyers account itself
(:func:`~fyerstrade.live.flatten.flatten_account`) and records the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fyerstrade.config import Settings
from fyerstrade.live.killswitch import KillSwitch

__all__ = ["KillOutcome", "pull", "real_configured"]

_POLL = 0.1


@dataclass(slots=True)
class KillOutcome:
    lines: list[str] = field(default_factory=list)
    flat: bool = True


def real_configured(settings: Settings) -> bool:
    """Whether the saved live config trades real orders on this machine."""
    from fyerstrade.errors import ConfigError
    from fyerstrade.live.config import load_live_config

    try:
        config = load_live_config(settings.live_config_file, settings)
    except ConfigError:
        return False
    return config.broker == "fyers" and settings.real_trading


def _engine_report(switch: KillSwitch, since: float, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in reversed(switch.history()):
            if event.ts < since:
                break
            if event.action == "flattened":
                return event.detail
        time.sleep(_POLL)
    return None


def pull(
    settings: Settings,
    reason: str,
    source: str,
    *,
    timeout: float = 30.0,
    progress: Callable[[str], None] = lambda _: None,
) -> KillOutcome:
    """Activate the kill switch and flatten (see the module docstring)."""
    from fyerstrade.live.control import engine_pid

    switch = KillSwitch(settings.data_dir)
    event = switch.activate(reason, source)
    out = KillOutcome([f"kill switch ACTIVE: {event.reason}"])
    out.lines.append("no new order will be sent until it is unlocked (type UNLOCK)")
    real = real_configured(settings)
    pid = engine_pid(settings)
    if pid is not None:
        progress(f"the live engine (pid {pid}) is cancelling its orders and exiting positions")
        report = _engine_report(switch, event.ts, timeout)
        if report is not None:
            out.lines.append(f"engine: {report}")
            out.flat = "NOT FLAT" not in report
            return out
        out.lines.append(f"the engine did not report within {timeout:g} s")
        if not real:
            out.flat = False
            return out
        out.lines.append("flattening the Fyers account directly")
    elif not real:
        out.lines.append(
            "no engine is running and real trading is not configured: nothing to flatten "
            "(a paper engine squares off at its next start while the switch is on)"
        )
        return out
    from fyerstrade.fyers.order_gateway import OrderGateway
    from fyerstrade.live.flatten import flatten_account

    progress("cancelling every working order, then exiting every position at Fyers")
    result = flatten_account(OrderGateway.from_settings(settings), deadline=timeout)
    switch.record_flattened(result.describe(), source)
    out.lines.append(f"Fyers: {result.describe()}")
    out.flat = result.flat
    return out
