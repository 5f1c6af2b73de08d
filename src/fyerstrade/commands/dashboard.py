"""``fyerstrade dashboard``: the Streamlit app on 127.0.0.1, reading the configured data dir."""

from __future__ import annotations

from typing import Annotated

import typer

from fyerstrade.dashboard.launcher import DEFAULT_HOST, DEFAULT_PORT


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(
        port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_PORT,
        host: Annotated[
            str,
            typer.Option(
                "--host",
                help="Address to bind. Beyond 127.0.0.1 needs FYERSTRADE_DASHBOARD_PASSWORD "
                "(a login page); prefer an SSH tunnel.",
            ),
        ] = DEFAULT_HOST,
    ) -> None:
        """Open the dashboard (Backtest, Runs, Data and Paper trading pages); Ctrl-C stops it."""
        from fyerstrade.cli import settings
        from fyerstrade.dashboard.launcher import (
            DashboardSpec,
            sigterm_as_interrupt,
            start_dashboard,
            stop_process,
            wait_until_up,
        )
        from fyerstrade.dashboard.login import check_bind

        s = settings()
        check_bind(host, s)  # beyond 127.0.0.1 only with a password (a login page)
        spec = DashboardSpec(data_dir=s.data_dir, port=port, host=host, log_dir=s.log_dir)
        process = start_dashboard(spec)
        with sigterm_as_interrupt():
            try:
                wait_until_up(spec.url, process)
                typer.echo(
                    f"dashboard: {spec.url}  (data: {s.data_dir.resolve()}; Ctrl-C stops it)"
                )
                code = process.wait()
            except KeyboardInterrupt:
                typer.echo("stopping the dashboard", err=True)
                code = 0
            finally:
                stop_process(process)
        if code:
            raise typer.Exit(code)
