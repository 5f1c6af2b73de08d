"""``fyerstrade demo``: simulator, login, symbol master, candles, sample runs, dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fyerstrade.dashboard.launcher import DEFAULT_HOST, DEFAULT_PORT
from fyerstrade.demo_defaults import DEFAULT_MONTHS, DEFAULT_UNIVERSE


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        symbols: Annotated[
            list[str] | None,
            typer.Option(
                "--symbols",
                "--symbol",
                help=f"Universe (repeat or comma-separate); default {', '.join(DEFAULT_UNIVERSE)}.",
            ),
        ] = None,
        months: Annotated[
            int, typer.Option("--months", min=1, max=24, help="Months of candles to fetch.")
        ] = DEFAULT_MONTHS,
        port: Annotated[int, typer.Option("--port", help="Dashboard port.")] = DEFAULT_PORT,
        host: Annotated[
            str,
            typer.Option(
                "--host", help="Dashboard address (beyond 127.0.0.1: needs a dashboard password)."
            ),
        ] = DEFAULT_HOST,
        no_browser: Annotated[
            bool, typer.Option("--no-browser", help="Do not open a browser tab.")
        ] = False,
        data_dir: Annotated[
            Path | None,
            typer.Option("--data-dir", help="Demo data directory (default: <data dir>/demo)."),
        ] = None,
    ) -> None:
        """Run everything offline against the built-in Fyers simulator and open the dashboard.

        Demo data lives in its own directory (<data dir>/demo), never mixed with a real
        account's. A second run reuses it (incremental fetch). Ctrl-C stops everything."""
        from fyerstrade.cli import settings
        from fyerstrade.dashboard.login import check_bind
        from fyerstrade.demo import DemoOptions, demo_data_dir, parse_universe, run_demo

        s = settings()
        check_bind(host, s)  # beyond 127.0.0.1 only with a password (a login page)
        options = DemoOptions(
            data_dir=demo_data_dir(s, data_dir),
            log_dir=s.log_dir,
            symbols=parse_universe(symbols or []),
            months=months,
            port=port,
            host=host,
            open_browser=not no_browser,
        )
        code = run_demo(options, lambda line: typer.echo(line, err=False))
        if code:
            raise typer.Exit(code)
