"""``fyerstrade data symbols``: refresh the Fyers symbol master, or search it (``--search``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fyerstrade.config import Settings


def register(group: typer.Typer) -> None:
    @group.command("symbols")
    def symbols(
        segment: Annotated[
            list[str] | None,
            typer.Option("--segment", help="Segment to download (NSE_CM, NSE_FO); repeatable."),
        ] = None,
        search: Annotated[
            str | None,
            typer.Option("--search", help="Search the stored master instead of downloading."),
        ] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="Rows to show.")] = 50,
        force: Annotated[
            bool, typer.Option("--force", help="Accept a master much smaller than the last one.")
        ] = False,
    ) -> None:
        """Download NSE_CM and NSE_FO (default) and replace the stored master in one step; a
        failed or malformed download keeps the previous one. With --search, list matches."""
        from fyerstrade.cli import settings

        s = settings()
        if search is not None:
            _print_search(s, search, limit)
            return
        from fyerstrade.data.symbols import SEGMENTS, refresh_symbol_master

        counts = refresh_symbol_master(s, segment or SEGMENTS, force=force)
        summary = ", ".join(f"{seg} {n} instruments" for seg, n in counts.items())
        typer.echo(f"Symbol master updated: {summary}.")


def _print_search(settings: Settings, text: str, limit: int) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rich.console import Console
    from rich.table import Table

    from fyerstrade.store.db import open_historical
    from fyerstrade.store.symbols import search_symbols, symbol_count

    conn = open_historical(settings)
    try:
        if symbol_count(conn) == 0:
            typer.echo("The symbol master is empty; run `fyerstrade data symbols` first.")
            return
        found = search_symbols(conn, text, limit=limit)
    finally:
        conn.close()
    if not found:
        typer.echo(f"No instrument matches {text!r}.")
        return
    ist = ZoneInfo("Asia/Kolkata")
    table = Table("ticker", "name", "lot size", "tick size", "expiry (IST)")
    for ins in found:
        expiry = datetime.fromtimestamp(ins.expiry, ist).date().isoformat() if ins.expiry else ""
        table.add_row(ins.symbol, ins.name, str(ins.lot_size), f"{ins.tick_size:g}", expiry)
    Console(width=120).print(table)
