"""``fyerstrade live``: run, start, stop and watch the live paper-trading engine, and manage its
config (``data/live_config.yaml``).

* ``live run [--once]``: the engine in the foreground (the scheduler: every session, or one);
  Ctrl-C or SIGTERM stops it, open positions handled per the config's ``on_stop``.
* ``live start`` / ``live stop``: the same in the background (PID file ``live_engine.pid``).
* ``live status [--json]``: state, uptime, session, last tick, positions, today's P&L.
* ``live config [--init [--force]] [--show] [--check]``: write, print or validate the config.
* ``live kill`` / ``live unlock``: the kill switch (:mod:`fyerstrade.commands.live_safety`).

Heavy modules (the scheduler, the engine, the SDK, pandas) are imported only when a command
runs, so ``fyerstrade --help`` stays fast.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import asdict
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from fyerstrade.commands.group import command_group
from fyerstrade.commands.options import finite

if TYPE_CHECKING:
    from fyerstrade.config import Settings
    from fyerstrade.live.config import LiveConfig
    from fyerstrade.live.status import EngineStatus

_IST = ZoneInfo("Asia/Kolkata")

CONFIG_HEADER = """\
# fyerstrade live paper-trading config (`fyerstrade live config --check` validates it).
# strategy/params: a registered strategy and its parameters (`fyerstrade backtest strategies`).
# symbols: Fyers symbols (EXCHANGE:NAME). resolution: minutes per strategy bar (1 to 240).
# mode: intraday (squared off at square_off) or positional. quantity: null sizes by free margin.
# entry_start/entry_end/square_off: IST times "HH:MM". risk.max_daily_loss (rupees) squares off
# and halts entries; risk.max_open_positions caps open positions (null = no limit);
# strategy_seconds: a strategy call running longer stops trading (the watchdog).
# on_stop: what `fyerstrade live stop` does with open positions (square_off or keep).
# warmup_bars: stored 1-minute bars the strategy sees before it trades.
# schedule: minutes before the open / after the close the engine runs; archive ticks after.
"""


def _ist(ts: float) -> str:
    return datetime.fromtimestamp(ts, _IST).strftime("%Y-%m-%d %H:%M:%S IST")


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    days, s = divmod(s, 86_400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {s}s"


def _money(x: float) -> str:
    return f"{x:,.2f}"


# ----------------------------------------------------------------------------- live run


def _write_starting_status(settings: Settings, config: LiveConfig, started_at: float) -> None:
    """Say at once that this process is up (the scheduler keeps ``started_at``)."""
    import os

    from fyerstrade.live.status import EngineStatus, write_status

    write_status(
        settings.live_status_file,
        EngineStatus(
            state="starting",
            pid=os.getpid(),
            started_at=started_at,
            updated_at=time.time(),
            strategy=config.strategy,
            symbols=list(config.symbols),
            message="the engine process is starting",
        ),
    )


def _settle_status(settings: Settings, state: str, message: str) -> None:
    """When this process ends while its status still claims an active state (an error before
    the scheduler could record one), record the end."""
    import os

    from fyerstrade.live.status import ACTIVE_STATES, read_status, write_status

    status = read_status(settings.live_status_file)
    if status is None or status.pid != os.getpid() or status.state not in ACTIVE_STATES:
        return
    status.state, status.message, status.updated_at = state, message, time.time()
    write_status(settings.live_status_file, status)


def run_in_foreground(settings: Settings, *, once: bool) -> None:
    """``live run``: hold the PID file and run the scheduler until SIGTERM/SIGINT (or, with
    ``once``, for one session)."""
    from fyerstrade.errors import FyersTradeError
    from fyerstrade.live.control import PidLock

    with PidLock(settings) as lock:
        stop = threading.Event()

        def _on_signal(signum: int, frame: FrameType | None) -> None:
            # The first signal asks for a graceful stop (positions per on_stop); a second
            # Ctrl-C while that runs leaves at once (a restart recovers from the databases).
            if signum == signal.SIGINT and stop.is_set():
                raise KeyboardInterrupt
            stop.set()

        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            from fyerstrade.live.clock import market_clock
            from fyerstrade.live.config import load_live_config
            from fyerstrade.live.real_gate import admit_start
            from fyerstrade.live.scheduler import TradingScheduler

            config = load_live_config(settings.live_config_file, settings)
            admit_start(settings, config)
            _write_starting_status(settings, config, lock.started_at)
            scheduler = TradingScheduler(settings, config, clock=market_clock(settings))
            scheduler.run(stop, sessions=1 if once else None)
        except FyersTradeError as exc:
            _settle_status(settings, "error", str(exc))
            raise
        except KeyboardInterrupt:
            _settle_status(settings, "stopped", "interrupted before a graceful stop finished")
            raise
        except BaseException as exc:
            _settle_status(settings, "error", f"{type(exc).__name__}: {exc} (see the log)")
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        _settle_status(settings, "stopped", "stopped on request" if stop.is_set() else "done")


# ----------------------------------------------------------------------------- live status


def _status_dict(status: EngineStatus) -> dict[str, Any]:
    data = asdict(status)
    data["uptime_seconds"] = (
        max(0.0, time.time() - status.started_at) if status.pid and status.started_at else 0.0
    )
    return data


def _print_status(settings: Settings, status: EngineStatus) -> None:
    from rich.console import Console
    from rich.table import Table

    lines = [f"state:      {status.state}" + (f" (pid {status.pid})" if status.pid else "")]
    if status.pid and status.started_at:
        lines.append(
            f"uptime:     {_duration(time.time() - status.started_at)} "
            f"(since {_ist(status.started_at)})"
        )
    if status.session_id:
        lines.append(f"session:    {status.session_id}")
    if status.strategy:
        lines.append(f"strategy:   {status.strategy}")
    if status.symbols:
        lines.append(f"symbols:    {', '.join(status.symbols)}")
    if status.updated_at:
        ago = _duration(time.time() - status.updated_at)
        lines.append(f"updated:    {_ist(status.updated_at)} ({ago} ago)")
    if status.market_time:
        lines.append(f"market:     {_ist(status.market_time)} (at that update)")
    if status.next_start:
        lines.append(f"next start: {_ist(status.next_start)}")
    tick = _ist(status.last_tick_ts) if status.last_tick_ts else "none yet"
    lines.append(f"last tick:  {tick}")
    lines.append(
        f"ticks:      {status.ticks:,}   bars: {status.bars:,}   trades: {status.trades:,}"
    )
    if status.tick_p99_ms or status.strategy_p99_ms:
        lines.append(
            f"latency:    tick p99 {status.tick_p99_ms:.2f} ms   "
            f"tick→strategy p99 {status.strategy_p99_ms:.2f} ms"
        )
    if status.equity or status.cash:
        lines.append(f"equity:     {_money(status.equity)}   cash: {_money(status.cash)}")
    lines.append(f"today P&L:  {status.day_pnl:+,.2f}")
    if status.message:
        lines.append(f"message:    {status.message}")
    typer.echo("\n".join(lines))
    if status.positions:
        table = Table(title="open positions")
        for name, justify in (
            ("symbol", "left"),
            ("qty", "right"),
            ("avg price", "right"),
            ("last", "right"),
            ("unrealized P&L", "right"),
            ("product", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for p in status.positions:
            table.add_row(
                str(p.get("symbol", "")),
                str(p.get("quantity", "")),
                _money(float(p.get("avg_price", 0.0))),
                _money(float(p.get("last_price", 0.0))),
                f"{float(p.get('unrealized_pnl', 0.0)):+,.2f}",
                str(p.get("product", "")),
            )
        Console(highlight=False).print(table)
    else:
        typer.echo("positions:  none")
    typer.echo(f"status file: {settings.live_status_file}")


# ----------------------------------------------------------------------------- live config


def _config_command(
    settings: Settings, *, init: bool, force: bool, show: bool, check: bool
) -> None:
    from fyerstrade.errors import ConfigError
    from fyerstrade.live.config import LiveConfig, dump_live_config, load_live_config

    path = settings.live_config_file
    if init:
        if path.exists() and not force:
            raise ConfigError(f"{path} already exists; pass --force to overwrite it")
        from fyerstrade.atomic_file import write_text_atomic

        default = LiveConfig().validated(settings)
        write_text_atomic(path, CONFIG_HEADER + dump_live_config(default))
        typer.echo(f"wrote the default live config to {path}")
    config = load_live_config(path, settings)
    if show:
        typer.echo(dump_live_config(config), nl=False)
    if check or not (init or show):
        config = config.checked(settings)  # what `live start` checks: the symbol master too
        typer.echo(
            f"ok: {path} ({config.strategy} on {len(config.symbols)} symbol(s), "
            f"{config.resolution.value}-minute bars, {config.mode})"
        )


# ----------------------------------------------------------------------------- registration


def register(app: typer.Typer) -> None:
    group = command_group(
        "Live paper trading: run, start, stop and watch the engine; edit its config."
    )

    @group.command("run")
    def run(
        once: Annotated[
            bool, typer.Option("--once", help="Handle one session, then exit.")
        ] = False,
        real: Annotated[
            bool,
            typer.Option("--real", help="Confirm REAL orders here (as `live start --real`)."),
        ] = False,
    ) -> None:
        """Run the engine in the foreground (Ctrl-C or SIGTERM stops it gracefully)."""
        from fyerstrade.cli import settings
        from fyerstrade.commands.live_safety import confirm_start

        s = settings()
        if real:
            confirm_start(s, real=True)
        run_in_foreground(s, once=once)

    @group.command("start")
    def start(
        real: Annotated[
            bool,
            typer.Option(
                "--real",
                help="Confirm REAL orders (broker: fyers): shows account, funds, symbols and "
                "limits, and asks you to type the account id.",
            ),
        ] = False,
    ) -> None:
        """Start the engine in the background (refuses when one is running)."""
        from fyerstrade.cli import settings
        from fyerstrade.commands.live_safety import confirm_start
        from fyerstrade.live.control import engine_output_file, start_engine
        from fyerstrade.logs import LOG_FILE

        s = settings()
        confirm_start(s, real=real)
        pid = start_engine(s)
        typer.echo(
            f"live engine started (pid {pid})\n"
            f"  status: fyerstrade live status   ({s.live_status_file})\n"
            f"  output: {engine_output_file(s)}   log: {s.log_dir / LOG_FILE}\n"
            "  stop:   fyerstrade live stop"
        )

    @group.command("stop")
    def stop(
        timeout: Annotated[
            float,
            typer.Option(
                "--timeout", help="Seconds to wait before killing it.", min=0.1, callback=finite
            ),
        ] = 20.0,
    ) -> None:
        """Stop the background engine (open positions handled per the config's on_stop)."""
        from fyerstrade.cli import settings
        from fyerstrade.live.control import engine_pid, stop_engine
        from fyerstrade.live.status import read_status

        s = settings()
        pid = engine_pid(s)
        if not stop_engine(s, timeout=timeout):
            typer.echo("the live engine is not running; nothing to stop")
            return
        status = read_status(s.live_status_file)
        detail = f": {status.message}" if status is not None and status.message else ""
        typer.echo(f"live engine stopped (pid {pid}){detail}")

    @group.command("status")
    def status(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Show the engine's state, uptime, session, last tick, positions and today's P&L."""
        from fyerstrade.cli import settings
        from fyerstrade.commands.live_safety import kill_state_dict, kill_state_line
        from fyerstrade.live.control import engine_status

        s = settings()
        st = engine_status(s)
        if as_json:
            typer.echo(
                json.dumps({**_status_dict(st), "kill_switch": kill_state_dict(s)}, indent=2)
            )
        else:
            _print_status(s, st)
            typer.echo(kill_state_line(s))

    @group.command("config")
    def config(
        init: Annotated[
            bool, typer.Option("--init", help="Write a default config (see --force).")
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="With --init: overwrite an existing config.")
        ] = False,
        show: Annotated[
            bool, typer.Option("--show", help="Print the config with every default filled in.")
        ] = False,
        check: Annotated[
            bool, typer.Option("--check", help="Validate the config: 'ok' or the error.")
        ] = False,
    ) -> None:
        """Write (--init), print (--show) or validate (--check, the default) the live config."""
        from fyerstrade.cli import settings

        _config_command(settings(), init=init, force=force, show=show, check=check)

    from fyerstrade.commands import live_safety

    live_safety.register(group)
    app.add_typer(group, name="live")
