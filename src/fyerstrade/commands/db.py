"""``fyerstrade db init``, ``db status`` and ``db check``: create, upgrade, inspect and verify the
stores."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fyerstrade.commands.group import command_group


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def register(app: typer.Typer) -> None:
    group = command_group("Create, upgrade and inspect the three SQLite databases.")

    @group.command("init")
    def init() -> None:
        """Create or upgrade the three databases in the data directory (safe to rerun)."""
        from fyerstrade.cli import settings
        from fyerstrade.store.db import init_all

        for report in init_all(settings()):
            typer.echo(f"{report.path}: {report.describe()}")

    @group.command("check")
    def check(
        quick: Annotated[
            bool, typer.Option("--quick", help="SQLite's quick_check (faster, no index check).")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Check every database for damage (SQLite's integrity check, read-only); exit 2 if one
        is damaged. A store found damaged is refused by every command until a check passes."""
        from fyerstrade.cli import settings
        from fyerstrade.store.db import check_all
        from fyerstrade.store.integrity import recovery_hint

        results = check_all(settings(), quick=quick)
        if as_json:
            typer.echo(json.dumps([r.as_json() for r in results], indent=2))
        else:
            for r in results:
                if not r.exists:
                    typer.echo(f"{r.path}: missing (run `fyerstrade db init`)")
                elif r.ok:
                    typer.echo(f"{r.path}: ok")
                else:
                    typer.echo(f"{r.path}: DAMAGED: {r.problems[0]}")
                    for extra in r.problems[1:]:
                        typer.echo(f"  {extra}")
                    typer.echo(f"  what to do: {recovery_hint(r.path)}")
        damaged = [r for r in results if not r.ok]
        if damaged:
            names = ", ".join(r.path.name for r in damaged)
            typer.echo(f"error: damaged: {names}", err=True)
            raise typer.Exit(2)

    @group.command("status")
    def status(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = (
            False
        ),
        quick: Annotated[
            bool, typer.Option("--quick", help="Run SQLite's quick_check instead of the full one.")
        ] = False,
    ) -> None:
        """Show each database file, its schema version, size, row counts per table and SQLite's
        integrity check (--quick: the faster quick_check)."""
        from rich.console import Console
        from rich.table import Table

        from fyerstrade.cli import settings
        from fyerstrade.store.db import status_all

        statuses = status_all(settings(), quick=quick)
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
            checked = (
                "quick check ok" if st.check is not None and st.check.quick else "integrity ok"
            )
            typer.echo(f"{st.path}: schema {st.version}{behind}, {_size(st.size_bytes)}, {checked}")
            table = Table()
            table.add_column("table")
            table.add_column("rows", justify="right")
            for name, rows in st.tables.items():
                table.add_row(name, f"{rows:,}")
            console.print(table)

    app.add_typer(group, name="db")
