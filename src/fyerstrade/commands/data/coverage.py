"""``fyerstrade data coverage [--symbol S] [--json]``: stored candles against the NSE calendar."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fyerstrade.commands.options import AssumeWeekdays


def register(group: typer.Typer) -> None:
    @group.command(
        "coverage",
        help=(
            "For each symbol × resolution: first and last candle, candles stored, candles the "
            "NSE calendar expects between them, missing bars and the largest holes."
        ),
    )
    def coverage(
        symbol: Annotated[
            str | None, typer.Option("--symbol", "-s", help="Only this symbol.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = (
            False
        ),
        holes: Annotated[int, typer.Option("--holes", min=0, help="Largest holes to list.")] = 5,
        assume_weekdays: AssumeWeekdays = False,
    ) -> None:
        from rich.console import Console
        from rich.table import Table

        from fyerstrade.calendar import get_calendar, to_ist
        from fyerstrade.cli import settings
        from fyerstrade.data.coverage import coverage_report
        from fyerstrade.errors import UnknownSymbolError
        from fyerstrade.store.db import open_historical

        conn = open_historical(settings(), verify=True)  # a summary of the whole store: check it
        try:
            rows = coverage_report(
                conn,
                symbol,
                calendar=get_calendar(assume_weekdays=assume_weekdays),
                max_holes=holes,
            )
        finally:
            conn.close()
        if symbol is not None and not rows:
            raise UnknownSymbolError(
                f"no candles stored for {symbol}; "
                f"fetch them with `fyerstrade data fetch --symbol {symbol}`"
            )
        if as_json:
            typer.echo(json.dumps([r.to_json() for r in rows], indent=2))
            return
        if not rows:
            typer.echo("the store holds no candles yet; run `fyerstrade data fetch --symbol ...`")
            return
        fmt = "%Y-%m-%d %H:%M"
        table = Table(title="Candle coverage (times IST)", title_justify="left")
        for col, justify in (
            ("symbol", "left"),
            ("res", "left"),
            ("first", "left"),
            ("last", "left"),
            ("candles", "right"),
            ("expected", "right"),
            ("missing", "right"),
            ("complete", "right"),
            ("largest holes (start → end: bars)", "left"),
        ):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in rows:
            hole_text = "\n".join(
                f"{to_ist(h.start):{fmt}} → {to_ist(h.end):{fmt}}: {h.bars:,}" for h in r.holes
            )
            table.add_row(
                r.symbol,
                r.resolution.value,
                f"{to_ist(r.first):{fmt}}",
                f"{to_ist(r.last):{fmt}}",
                f"{r.candles:,}",
                f"{r.expected:,}",
                f"{r.missing:,}"
                + (f" ({r.known_empty:,} empty at source)" if r.known_empty else ""),
                f"{r.complete_pct:.2f}%",
                hole_text or "-",
            )
        Console(highlight=False, width=160).print(table)
