"""``fyerstrade calendar``: the NSE calendar fyerstrade uses, and your additions to it.

``show`` prints a year's coverage, holidays and special sessions with the user file
(``nse_calendar.yaml`` in the data directory) applied; ``init`` writes that file for a year,
commented, to fill in from NSE's holiday circular.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer

from fyerstrade.commands.group import command_group


def register(app: typer.Typer) -> None:
    group = command_group(
        "The NSE trading calendar: show it; add holidays and special sessions NSE has "
        "published before the calendar library has."
    )
    group.command("show")(show_command)
    group.command("init")(init_command)
    app.add_typer(group, name="calendar")


def _today() -> date:
    import time

    from fyerstrade.calendar import ist_date

    return ist_date(int(time.time()))


def show_command(
    year: Annotated[
        int | None, typer.Argument(help="The year to show (default: this year).")
    ] = None,
) -> None:
    """Show a year: whether its holiday list is published, its holidays and special sessions."""
    from fyerstrade.calendar import get_calendar, to_ist, user_calendar_path
    from fyerstrade.errors import InputError

    y = year or _today().year
    path = user_calendar_path()
    cal = get_calendar()
    if y < cal.coverage_start.year:
        raise InputError(f"the NSE calendar starts in {cal.coverage_start.year}")
    user = cal.user
    typer.echo(f"NSE calendar {y}")
    typer.echo(f"  calendar library: holiday lists up to {cal.library_end}")
    if user is None:
        typer.echo(f"  your file: {path} (none; `fyerstrade calendar init` writes one)")
    else:
        listed = ", ".join(str(x) for x in sorted(user.years)) or "none"
        typer.echo(f"  your file: {path} (years published there: {listed})")
    if not cal.is_published(y):
        typer.echo(
            f"  {y}: no published holiday list — runs refuse its dates (or, with "
            "--assume-weekdays, treat every weekday as a session); add the list with "
            f"`fyerstrade calendar init {y}`"
        )
        return
    source = "your file" if y > cal.library_end.year else "library"
    start, end = date(y, 1, 1), date(y, 12, 31)
    days = set(cal.trading_days(start, end))
    weekdays = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    closed = [d for d in weekdays if d.weekday() < 5 and d not in days]
    typer.echo(f"  {y}: published ({source}); {len(days)} trading days")
    typer.echo(f"  weekday holidays ({len(closed)}):")
    names = user.holidays if user is not None else {}
    for d in closed:
        mark = "  (your file)" if d in names else ""
        label = f" {names[d]}" if names.get(d) else ""
        typer.echo(f"    {d} {d:%a}{label}{mark}")
    specials = [s for s in cal.sessions(start, end) if s.special]
    typer.echo(f"  special sessions ({len(specials)}):")
    for s in specials:
        hours = ", ".join(f"{to_ist(a):%H:%M}-{to_ist(b):%H:%M}" for a, b in s.segments)
        typer.echo(f"    {s.date} {s.date:%a} {hours} {s.label}")


def init_command(
    year: Annotated[
        int | None, typer.Argument(help="The year to add (default: the first unpublished one).")
    ] = None,
) -> None:
    """Write nse_calendar.yaml in the data directory for YEAR (never over an existing file)."""
    from fyerstrade.atomic_file import write_text_atomic
    from fyerstrade.calendar import get_calendar, user_calendar_path
    from fyerstrade.calendar_file import template
    from fyerstrade.errors import InputError

    path = user_calendar_path()
    if path.exists():
        raise InputError(f"{path} already exists; edit it (`fyerstrade calendar show` checks it)")
    cal = get_calendar()
    y = year or cal.coverage_end.year + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, template(y))
    typer.echo(f"wrote {path}: list {y}'s weekday holidays under holidays (NSE's circular),")
    typer.echo("then `fyerstrade calendar show` checks it and prints the year")
