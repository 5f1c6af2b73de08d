"""``fyerstrade live kill`` and ``fyerstrade live unlock``: the kill switch from the command line.

* ``live kill [--reason TEXT] [--timeout S]``: activates the kill switch (recorded with its
  reason), so no new order is sent. A running engine notices it within a second, cancels its
  resting orders (stop legs included) and exits its positions with orders; this command waits
  for the engine's report. With no engine running and real trading configured
  (``broker: fyers`` and ``FYERSTRADE_REAL_TRADING=true``), this command flattens the Fyers
  account itself: every working order cancelled, every open position exited. Exit code 0 when
  flat, 1 when something is still working or open (the message lists it).
* ``live unlock``: shows why trading was stopped and asks to type ``UNLOCK``; nothing else
  unlocks it.
* ``live start --real`` / ``live run --real`` (:func:`confirm_start`): the confirmation of a
  real-order start (:mod:`fyerstrade.live.real_gate`).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:
    from fyerstrade.config import Settings
    from fyerstrade.live.killswitch import KillState

_IST = ZoneInfo("Asia/Kolkata")


def _ist(ts: float) -> str:
    return datetime.fromtimestamp(ts, _IST).strftime("%Y-%m-%d %H:%M:%S IST")


def _describe(state: KillState) -> str:
    if not state.active:
        return "kill switch: off (orders allowed)"
    line = f"kill switch: ACTIVE since {_ist(state.since)} ({state.source}): {state.reason}"
    if state.flattened:
        line += f"\n  flattened: {state.flattened}"
    return line


def kill_state_line(settings: Settings) -> str:
    """One line for ``live status``."""
    from fyerstrade.live.killswitch import KillSwitch

    return _describe(KillSwitch(settings.data_dir).state())


def kill_state_dict(settings: Settings) -> dict[str, object]:
    from fyerstrade.live.killswitch import KillSwitch

    state = KillSwitch(settings.data_dir).state()
    return {
        "active": state.active,
        "since": state.since or None,
        "reason": state.reason,
        "source": state.source,
        "flattened": state.flattened,
    }


def kill_command(settings: Settings, reason: str, timeout: float) -> int:
    from fyerstrade.live.kill import pull

    outcome = pull(settings, reason, "cli", timeout=timeout, progress=typer.echo)
    for line in outcome.lines:
        typer.echo(line)
    return 0 if outcome.flat else 1


def unlock_command(settings: Settings) -> None:
    from fyerstrade.errors import InputError
    from fyerstrade.live.killswitch import UNLOCK_PHRASE, KillSwitch

    switch = KillSwitch(settings.data_dir)
    state = switch.state()
    typer.echo(_describe(state))
    if not state.active:
        return
    typed = _read_line(f"type {UNLOCK_PHRASE} to allow orders again")
    if typed.strip() != UNLOCK_PHRASE:
        raise InputError(f"not unlocked: type {UNLOCK_PHRASE} exactly to allow orders again")
    switch.unlock(typed, "cli")
    typer.echo("kill switch off: orders are allowed again")


def _read_line(question: str) -> str:
    if sys.stdin.isatty():
        return str(typer.prompt(question, default=""))
    typer.echo(f"{question}: ", nl=False)
    return sys.stdin.readline()


def confirm_start(settings: Settings, *, real: bool) -> None:
    """Before an engine starts: a real-order config needs ``--real``, and ``--real`` shows the
    account, funds, symbols and limits and asks for the account id (then writes the single-use
    confirmation the engine consumes)."""
    from fyerstrade.errors import InputError
    from fyerstrade.live.config import load_live_config
    from fyerstrade.live.real_gate import (
        check_real_trading,
        check_typed_account,
        start_summary,
        write_confirmation,
    )

    config = load_live_config(settings.live_config_file, settings)
    real_config = check_real_trading(settings, config)
    if not real:
        if real_config:
            raise InputError(
                "this live config places REAL orders (broker: fyers); start it with "
                "`fyerstrade live start --real`"
            )
        return
    if not real_config:
        raise InputError(
            "--real: the live config says broker: paper; set broker: fyers for real orders"
        )
    from fyerstrade.fyers.order_gateway import OrderGateway

    gateway = OrderGateway.from_settings(settings)
    funds = gateway.funds()
    summary = start_summary(config, gateway.profile(), funds.available, funds.total)
    typer.echo(summary.render())
    typed = _read_line(f"type the account id ({summary.fy_id}) to start REAL trading")
    check_typed_account(typed, summary.fy_id)
    write_confirmation(settings, config, summary.fy_id)
    typer.echo(f"confirmed: REAL trading on {summary.fy_id}")


def register(group: typer.Typer) -> None:
    @group.command("kill")
    def kill(
        reason: Annotated[
            str, typer.Option("--reason", help="Why (recorded with the activation).")
        ] = "manual kill from the command line",
        timeout: Annotated[
            float,
            typer.Option("--timeout", help="Seconds to wait for the account to be flat.", min=1),
        ] = 30.0,
    ) -> None:
        """Kill switch: block new orders, cancel resting orders, exit positions."""
        from fyerstrade.cli import settings

        code = kill_command(settings(), reason, timeout)
        if code:
            raise typer.Exit(code)

    @group.command("unlock")
    def unlock() -> None:
        """Switch the kill switch off (asks you to type UNLOCK)."""
        from fyerstrade.cli import settings

        unlock_command(settings())
