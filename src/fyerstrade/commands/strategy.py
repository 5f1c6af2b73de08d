"""``fyerstrade strategy``: start a strategy of your own from a working template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fyerstrade.commands.group import command_group

_GUIDE = "docs/strategies.md"


def register(app: typer.Typer) -> None:
    group = command_group("Write your own strategies (guide: docs/strategies.md).")
    group.command("new")(new_command)
    app.add_typer(group, name="strategy")


def new_command(
    name: Annotated[str, typer.Argument(help="The strategy's name, lower_case (e.g. my_rsi).")],
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where to write NAME.py (default: FYERSTRADE_STRATEGY_DIR, else ./strategies).",
        ),
    ] = None,
) -> None:
    """Write NAME.py, a working RSI strategy to edit, into your strategy folder."""
    from fyerstrade.cli import settings
    from fyerstrade.strategies.template import write_template

    cfg = settings()
    target = folder or cfg.strategy_dir or Path("strategies")
    path = write_template(name, Path(target))
    typer.echo(f"wrote {path}")
    if cfg.strategy_dir is None or Path(cfg.strategy_dir).resolve() != path.parent.resolve():
        typer.echo(
            f"set FYERSTRADE_STRATEGY_DIR={path.parent} (in .env or the environment) so "
            "fyerstrade finds it"
        )
    typer.echo(
        f"try it: fyerstrade backtest run --strategy {name} --symbol NSE:SBIN-EQ --resolution 5 "
        f"· the guide: {_GUIDE}"
    )
