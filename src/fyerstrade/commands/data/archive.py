"""``fyerstrade data archive``: move live ticks into the month-partitioned archive."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(group: typer.Typer) -> None:
    @group.command("archive")
    def archive(
        batch_size: Annotated[
            int, typer.Option("--batch-size", min=1, help="Ticks moved per transaction.")
        ] = 50_000,
        months: Annotated[
            bool, typer.Option("--months", help="List the archived months and exit.")
        ] = False,
        drop_month: Annotated[
            str | None,
            typer.Option("--drop-month", metavar="YYYYMM", help="Delete one archived month."),
        ] = None,
        yes: Annotated[bool, typer.Option("--yes", help="Confirm --drop-month.")] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON (one object; a list with --months).")
        ] = False,
    ) -> None:
        """Move ticks from live_ticks into historical_ticks (safe to interrupt and rerun).

        Each batch is copied and deleted in one transaction across the two files: a crash loses
        and duplicates nothing; rerun to finish. Archived ticks live in one table per month."""
        from fyerstrade.cli import settings
        from fyerstrade.errors import InputError

        s = settings()
        if months or drop_month is not None:
            from fyerstrade.store.db import open_historical
            from fyerstrade.store.ticks import drop_partition, partition_table, tick_partitions

            conn = open_historical(s)
            try:
                if drop_month is not None:
                    try:
                        partition_table(drop_month)
                    except ValueError as exc:
                        raise InputError(f"--drop-month: {exc}") from None
                    if not yes:
                        raise InputError(
                            f"dropping {drop_month} deletes its ticks for good; add --yes"
                        )
                    archived = [p.month for p in tick_partitions(conn)]
                    if drop_month not in archived:
                        have = ", ".join(archived) if archived else "none"
                        raise InputError(
                            f"no archived month {drop_month}; nothing was dropped "
                            f"(archived months: {have})"
                        )
                    n = drop_partition(conn, drop_month)
                    typer.echo(f"dropped {drop_month}: {n:,} ticks")
                    return
                listed = []
                for p in tick_partitions(conn):
                    n = int(conn.execute(f"SELECT COUNT(*) FROM {p.table}").fetchone()[0])
                    listed.append({"month": p.month, "table": p.table, "ticks": n})
            finally:
                conn.close()
            if as_json:
                typer.echo(json.dumps(listed))
            else:
                for item in listed:
                    typer.echo(f"{item['month']}  {item['table']}  {item['ticks']:,} ticks")
                if not listed:
                    typer.echo("no archived months")
            return

        from fyerstrade.data.archive import archive_ticks

        report = archive_ticks(s, batch_size=batch_size)
        typer.echo(json.dumps(report.as_json()) if as_json else report.describe())
