"""``fyerstrade sim``: run the Fyers simulator in the foreground until Ctrl-C (or SIGTERM).

It prints its base URL and the credentials to use, e.g.::

    Fyers simulator listening on http://127.0.0.1:8765 (seed 42, 10/s, 200/min)
      FYERSTRADE_FYERS_URL=http://127.0.0.1:8765
      FYERS_APP_ID=SIM-100
      FYERS_SECRET_KEY=sim-secret
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from fyerstrade.sim.config import DEFAULT_APP_ID, DEFAULT_PORT, DEFAULT_SECRET, DEFAULT_SEED


def sim(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = DEFAULT_PORT,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = DEFAULT_SEED,
    per_second: Annotated[int, typer.Option(help="Requests allowed per second.")] = 10,
    per_minute: Annotated[int, typer.Option(help="Requests allowed per minute.")] = 200,
) -> None:
    """Serve a Fyers API v3 compatible simulator (REST, symbol masters, synthetic market)."""
    from fyerstrade import cli
    from fyerstrade.sim.config import SimConfig
    from fyerstrade.sim.server import SimServer

    cli.settings()  # configures logging into the log directory
    if per_second < 1 or per_minute < 1:
        raise typer.BadParameter("--per-second and --per-minute must be at least 1")
    server = SimServer(
        SimConfig(host=host, port=port, seed=seed, per_second=per_second, per_minute=per_minute)
    )
    url = server.start()
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Both signals just ask the loop below to stop, even when SIGINT arrived ignored (e.g. the
    # command was started in the background of a non-interactive shell).
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    typer.echo(
        f"Fyers simulator listening on {url} (seed {seed}, {per_second}/s, {per_minute}/min)\n"
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
