"""``fyerstrade data fetch``: make the candle store complete up to the last complete bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fyerstrade.commands.options import AssumeWeekdays, parse_date
from fyerstrade.errors import InputError

if TYPE_CHECKING:
    from fyerstrade.data.fetch_plan import FetchPlan
    from fyerstrade.data.history import FetchSummary


def register(group: typer.Typer) -> None:
    @group.command(
        "fetch",
        help=(
            "Fetch missing candles: new bars since the last fetch and holes inside the stored "
            "range.\n\nRequests stay within Fyers' span and rate limits; every finished chunk is "
            "committed, so Ctrl-C loses nothing and a rerun resumes. Ranges Fyers answered empty "
            "(holidays, before listing) are remembered and not asked again. Exit code 2 when a "
            "symbol is unknown or a request failed (the other symbols are still fetched)."
        ),
    )
    def fetch(
        symbol: Annotated[
            list[str] | None,
            typer.Option("--symbol", "-s", help="Fyers symbol, e.g. NSE:SBIN-EQ (repeatable)."),
        ] = None,
        resolution: Annotated[
            list[str] | None,
            typer.Option("--resolution", "-r", help="1, 5, 15, 60, D ... (repeatable; 1 5 D)."),
        ] = None,
        from_: Annotated[
            str | None,
            typer.Option("--from", help="First IST date (default: first stored, or 1 year back)."),
        ] = None,
        to: Annotated[
            str | None, typer.Option("--to", help="Last IST date (default: last complete bar).")
        ] = None,
        universe: Annotated[
            Path | None, typer.Option("--universe", help="File with one symbol a line.")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the summary as one JSON object.")
        ] = False,
        assume_weekdays: AssumeWeekdays = False,
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="Print the planned requests; send nothing."),
        ] = False,
    ) -> None:
        from fyerstrade.calendar import get_calendar, ist_date
        from fyerstrade.cli import settings
        from fyerstrade.data.history import (
            DEFAULT_RESOLUTIONS,
            fetch_history,
            plan_fetch,
            read_universe,
            wall_clock,
        )
        from fyerstrade.domain import Resolution
        from fyerstrade.fyers.client import FyersClient
        from fyerstrade.store.db import open_historical

        symbols = list(symbol or [])
        if universe is not None:
            try:
                text = universe.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"--universe {universe} is not a text file (undecodable byte at offset "
                    f"{exc.start}); write one symbol a line"
                ) from None
            except OSError as exc:
                raise InputError(f"cannot read --universe {universe}: {exc.strerror}") from None
            if "\x00" in text:
                raise InputError(
                    f"--universe {universe} is not a text file (NUL bytes); write one symbol a line"
                )
            symbols += read_universe(text)
        symbols = list(dict.fromkeys(s.strip() for s in symbols if s.strip()))
        if not symbols:
            raise InputError("name at least one --symbol (or a --universe file)")
        try:
            resolutions = list(
                dict.fromkeys(Resolution.parse(r) for r in resolution)
                if resolution
                else DEFAULT_RESOLUTIONS
            )
        except ValueError as exc:
            raise InputError(str(exc)) from None
        start = None if from_ is None else parse_date(from_, "--from")
        end = None if to is None else parse_date(to, "--to")
        today = ist_date(wall_clock())
        if start is not None and start > today:
            raise InputError(
                f"--from {start} is in the future (today is {today} IST): there are no candles "
                "to fetch yet"
            )
        if start is not None and end is not None and end < start:
            raise InputError(f"--to {end} is before --from {start}")

        s = settings()
        calendar = get_calendar(assume_weekdays=assume_weekdays)
        if assume_weekdays:
            import time

            from fyerstrade.calendar import ist_date, warn_if_assumed

            today = ist_date(int(time.time()))
            note = warn_if_assumed(start or today, end or today, calendar)
            if note:
                typer.echo(f"warning: {note}", err=True)
        if dry_run:
            conn = open_historical(s)
            try:
                plan = plan_fetch(
                    conn,
                    symbols,
                    resolutions,
                    calendar=calendar,
                    now=wall_clock(),
                    start=start,
                    end=end,
                )
            finally:
                conn.close()
            _print_plan(plan, as_json=as_json)
            return
        client = FyersClient.from_settings(s)  # an expired token stops here, nothing touched
        conn = open_historical(s, verify=True)  # a damaged store is refused, nothing written
        progress = _ProgressBar()
        try:
            with progress:
                summary = fetch_history(
                    conn,
                    client,
                    symbols,
                    resolutions,
                    calendar=calendar,
                    clock=wall_clock,
                    start=start,
                    end=end,
                    progress=progress.update,
                    on_plan=progress.start,
                )
        finally:
            conn.close()

        if as_json:
            typer.echo(json.dumps(summary.to_json()))
        else:
            typer.echo(
                f"{summary.requests} requests, {summary.candles_added:,} candles added, "
                f"{summary.holes_repaired} holes repaired in {summary.seconds:.1f} s"
                + (" (nothing to fetch: the store is complete)" if summary.planned == 0 else "")
            )
        if summary.interrupted:
            typer.echo(
                f"interrupted after {summary.completed} of {summary.planned} requests; "
                "finished chunks are saved, run the same command again to resume",
                err=True,
            )
            raise typer.Exit(130)
        if summary.errors:
            for message in summary.errors:
                typer.echo(f"error: {message}", err=True)
            raise typer.Exit(2)


def _print_plan(plan: FetchPlan, *, as_json: bool) -> None:
    """The planned requests, as JSON (a list) or one line each (times IST)."""
    from fyerstrade.calendar import to_ist

    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "symbol": r.symbol,
                        "resolution": r.resolution.value,
                        "range_from": to_ist(r.range_from).isoformat(),
                        "range_to": to_ist(r.range_to).isoformat(),
                        "bars": r.bars,
                        "holes": r.holes,
                    }
                    for r in plan
                ]
            )
        )
        return
    fmt = "%Y-%m-%d %H:%M"
    for r in plan:
        kind = f"repairs {r.holes} hole(s)" if r.holes else "new bars"
        typer.echo(
            f"{r.symbol} {r.resolution.value:>3} {to_ist(r.range_from):{fmt}} → "
            f"{to_ist(r.range_to):{fmt}}  {r.bars:,} bars, {kind}"
        )
    typer.echo(
        f"{len(plan)} requests planned for {plan.missing:,} missing bars "
        f"({plan.holes} holes inside stored ranges)"
    )


class _ProgressBar:
    """A rich progress bar with ETA on stderr (when it is a terminal), fed by the fetcher."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("fetching"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("requests"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[candles]:,} candles"),
            console=console,
            disable=not console.is_terminal,  # no bar frames in pipes, logs and captured output
        )
        self._task = self._progress.add_task("fetch", total=None, candles=0)

    def __enter__(self) -> _ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, plan: FetchPlan) -> None:
        self._progress.update(self._task, total=len(plan))

    def update(self, summary: FetchSummary) -> None:
        self._progress.update(
            self._task,
            completed=summary.completed + summary.failed,
            candles=summary.candles_added,
        )
