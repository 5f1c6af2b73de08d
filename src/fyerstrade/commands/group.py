"""Command groups whose help is plain text and lists each command's whole first sentence.

Help is printed without rich: typer's rich help imports rich's markdown, traceback and pretty
printers (markdown-it, attrs, pygments' lexers) before it prints a line, about 0.25 s of every
``--help`` on a slow machine (``make bench BENCH=startup``). Click's plain layout cuts a command's
summary to the terminal width with "..."; here each command shows its first sentence in full,
wrapped under its name, so nothing a user needs is cut off.
"""

from __future__ import annotations

import typer
from typer import _click
from typer.core import TyperGroup

#: Long enough that a command's summary is its whole first sentence.
_WHOLE_SENTENCE = 10_000


class HelpGroup(TyperGroup):
    """A typer group whose "Commands" section is never truncated."""

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(_WHOLE_SENTENCE)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def command_group(help: str) -> typer.Typer:
    """A sub-command group (``fyerstrade NAME ...``): shows its help when given no command."""
    return typer.Typer(help=help, no_args_is_help=True, cls=HelpGroup, rich_markup_mode=None)
