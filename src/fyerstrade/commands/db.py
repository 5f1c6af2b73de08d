"""``fyerstrade db init`` and ``fyerstrade db status``: create, upgrade and inspect the stores."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Create, upgrade and inspect the three SQLite databases.", no_args_is_help=True
    )

    @group.command("init")
    def init() -> None:
        """Create or upgrade the three databases in the data directory (safe to rerun)."""
        from fyerstrade.cli import settings
        from fyerstrade.store.db import init_all

        for report in init_all(settings()):
            typer.echo(f"{report.path}: {report.describe()}")

    @group.command("status")
    def status(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = (
            False
        ),
    ) -> None:
        """Show each database file, its schema version, size and row counts per table."""
        from rich.console import Console
        from rich.table import Table

        from fyerstrade.cli import settings
        from fyerstrade.store.db import status_all

        statuses = status_all(settings())
        if as_json:
            typer.echo(json.dumps([s.as_json() for s in statuses], indent=2))
            return
        console = Console(highlight=False)
        for st in statuses:
            if not st.exists:
                typer.echo(f"{st.path}: missing (run `fyerstrade db init`)")
                continue
            behind = (
                f" (latest {st.latest_version}; run `fyerstrade db init`)"
                if st.version != st.latest_version
                else ""
            )
            typer.echo(f"{st.path}: schema {st.version}{behind}, {_size(st.size_bytes)}")
            table = Table()
            table.add_column("table")
            table.add_column("rows", justify="right")
            for name, rows in st.tables.items():
                table.add_row(name, f"{rows:,}")
            console.print(table)

    app.add_typer(group, name="db")
