"""``fyerstrade data``: the market-data store's commands, one module per subcommand.

Each submodule (``symbols``, ``fetch``, ``importer``, ``coverage``, ``archive``) exposes
``register(group: typer.Typer) -> None``; a missing one is skipped.
"""

from __future__ import annotations

import importlib

import typer

SUBCOMMANDS = ("symbols", "fetch", "importer", "coverage", "archive")


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Keep the local market-data store: symbol master, candles, coverage, tick archive.",
        no_args_is_help=True,
    )
    found = False
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        module.register(group)
        found = True
    if found:
        app.add_typer(group, name="data")
