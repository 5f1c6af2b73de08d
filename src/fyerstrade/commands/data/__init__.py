"""``fyerstrade data``: the market-data store's commands, one module per subcommand.

Each submodule (``symbols``, ``fetch``, ``importer``, ``coverage``, ``archive``) exposes
``register(group: typer.Typer) -> None``; a missing one is skipped.
"""

from __future__ import annotations

import importlib

import typer

from fyerstrade.commands.group import command_group

SUBCOMMANDS = ("symbols", "fetch", "importer", "coverage", "archive")


def register(app: typer.Typer) -> None:
    group = command_group(
        "Keep the local market-data store: symbol master, candles, coverage, tick archive."
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
