"""``fyerstrade data import FILE --symbol S --resolution R``: candles from CSV or Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(group: typer.Typer) -> None:
    @group.command(
        "import",
        help=(
            "Import candles from a CSV or Parquet file with columns timestamp, open, high, low, "
            "close, volume (timestamp: epoch seconds, or ISO 8601 with an offset).\n\nEvery "
            "row is validated first; a bad row is named by its line number and nothing is "
            "written. Re-importing the same file changes nothing. Candles that would change "
            "stored ones are refused (with their count) unless --replace is given."
        ),
    )
    def import_(
        file: Annotated[Path, typer.Argument(help="CSV or Parquet file of candles.")],
        symbol: Annotated[
            str, typer.Option("--symbol", "-s", help="Store symbol, e.g. NSE:SBIN-EQ.")
        ],
        resolution: Annotated[
            str, typer.Option("--resolution", "-r", help="Candle resolution: 1, 5, 15, 60, D ...")
        ],
        replace: Annotated[
            bool,
            typer.Option("--replace", help="Overwrite stored candles that the file changes."),
        ] = False,
    ) -> None:
        from fyerstrade.calendar import to_ist
        from fyerstrade.cli import settings
        from fyerstrade.data.importer import import_candles
        from fyerstrade.domain import Resolution
        from fyerstrade.errors import InputError
        from fyerstrade.store.db import open_historical

        try:
            res = Resolution.parse(resolution)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        conn = open_historical(settings(), verify=True)
        try:
            result = import_candles(conn, file, symbol, res, replace=replace)
        finally:
            conn.close()
        span = ""
        if result.first is not None and result.last is not None:
            fmt = "%Y-%m-%d %H:%M"
            span = f" from {to_ist(result.first):{fmt}} to {to_ist(result.last):{fmt}} IST"
        typer.echo(
            f"{result.path.name}: {result.rows:,} candles of {result.symbol} {res.value}{span}; "
            f"{result.written - result.replaced:,} new, {result.replaced:,} replaced in the store"
        )
        if result.off_calendar:
            typer.echo(
                f"note: {result.off_calendar:,} candles are not at bar open times the NSE "
                f"calendar expects for {res.value} bars (a file stamped with bar close times?); "
                "they are stored as given"
            )
        if not result.known_symbol:
            typer.echo(
                f"note: {result.symbol} is not in the symbol master; it is treated as an equity "
                "with lot size 1 and tick size 0.05"
            )
