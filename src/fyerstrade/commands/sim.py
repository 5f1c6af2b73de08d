"""``fyerstrade sim``: run the Fyers simulator in the foreground until Ctrl-C (or SIGTERM).

``--start`` and ``--speed`` set its market clock (one clock for REST and the data socket):
``--start 10:00 --speed 60`` plays the next trading day from 10:00 IST at one market minute per
wall second. It prints the market time, its base URL and the credentials to use, e.g.::

    Fyers simulator listening on http://127.0.0.1:8765 (seed 42, 10/s, 200/min)
    market time 2026-11-23 10:00:00 IST, speed 60x (60 market minutes per wall minute)
      FYERSTRADE_FYERS_URL=http://127.0.0.1:8765
      FYERS_APP_ID=SIM-100
      FYERS_SECRET_KEY=sim-secret
"""

from __future__ import annotations

import re
import signal
import threading
import time
from datetime import datetime
from types import FrameType
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from fyerstrade.commands.options import finite
from fyerstrade.sim.config import DEFAULT_APP_ID, DEFAULT_PORT, DEFAULT_SECRET, DEFAULT_SEED

_IST = ZoneInfo("Asia/Kolkata")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_SPEED = 100_000.0


def parse_market_start(text: str, now: float) -> float:
    """``--start``: ``HH:MM`` (IST) on the next trading day after ``now``, or an ISO 8601
    datetime (IST unless it carries an offset); epoch seconds."""
    from fyerstrade.calendar import get_calendar, ist_date, ist_epoch

    value = text.strip()
    match = _HHMM.match(value)
    if match:
        from datetime import time as dtime

        # the simulator's own calendar: NSE's published holidays, every weekday after them
        day = get_calendar(assume_weekdays=True).next_trading_day(ist_date(int(now)))
        return float(ist_epoch(day, dtime(int(match.group(1)), int(match.group(2)))))
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither HH:MM nor an ISO datetime (e.g. 2026-11-23T10:00)",
            param_hint="--start",
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_IST)
    return dt.timestamp()


def sim(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = DEFAULT_PORT,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = DEFAULT_SEED,
    per_second: Annotated[int, typer.Option(help="Requests allowed per second.")] = 10,
    per_minute: Annotated[int, typer.Option(help="Requests allowed per minute.")] = 200,
    speed: Annotated[
        float,
        typer.Option(
            help="Market minutes per wall minute (60 = a market minute per second).",
            callback=finite,
        ),
    ] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(
            help="Market time to start at: HH:MM (IST) on the next trading day, or an ISO "
            "datetime (IST unless it has an offset). Default: now."
        ),
    ] = None,
) -> None:
    """Serve a Fyers API v3 compatible simulator (REST, symbol masters, data socket, synthetic
    market) on a market clock that can start at any time and run faster than real time."""
    from fyerstrade import cli
    from fyerstrade.sim.config import SimConfig
    from fyerstrade.sim.datasocket import MarketClock, hub_for
    from fyerstrade.sim.server import SimServer

    cli.settings()  # configures logging into the log directory
    if per_second < 1 or per_minute < 1:
        raise typer.BadParameter("--per-second and --per-minute must be at least 1")
    if not 0 < speed <= MAX_SPEED:
        raise typer.BadParameter(f"must be above 0 and at most {MAX_SPEED:g}", param_hint="--speed")
    market_start = parse_market_start(start, time.time()) if start is not None else None
    clock = MarketClock(market_start, speed)
    server = SimServer(
        SimConfig(
            host=host,
            port=port,
            seed=seed,
            per_second=per_second,
            per_minute=per_minute,
            clock=clock.now,
        )
    )
    hub_for(server.state).clock = clock  # ticks and REST share one clock
    url = server.start()
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Both signals just ask the loop below to stop, even when SIGINT arrived ignored (e.g. the
    # command was started in the background of a non-interactive shell).
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    typer.echo(
        f"Fyers simulator listening on {url} (seed {seed}, {per_second}/s, {per_minute}/min)\n"
        f"  market time {datetime.fromtimestamp(clock.now(), _IST):%Y-%m-%d %H:%M:%S} IST, "
        f"speed {speed:g}x ({speed:g} market minutes per wall minute)\n"
        f"  FYERSTRADE_FYERS_URL={url}\n"
        f"  FYERS_APP_ID={DEFAULT_APP_ID}\n"
        f"  FYERS_SECRET_KEY={DEFAULT_SECRET}\n"
        "Press Ctrl-C to stop."
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    typer.echo("Fyers simulator stopped.")


def register(app: typer.Typer) -> None:
    app.command(name="sim")(sim)
