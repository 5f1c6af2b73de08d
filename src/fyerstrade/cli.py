"""The ``fyerstrade`` command line (Typer).

Command groups live in :mod:`fyerstrade.commands`, one module each, and register themselves; a
group that does not exist yet is simply not shown. Start-up is paid only by what a command uses:
modules here and in the command modules import the settings, the stores, numpy, pandas, the
calendar library, plotting and the dashboard inside the commands that need them
(``tests/test_startup_imports.py`` holds ``--help``, ``backtest strategies`` and ``live status``
to that). Every :class:`FyersTradeError` becomes one line
on stderr and exit code 2 (``--debug`` shows the traceback); secrets never reach the output.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from typer._click.exceptions import ClickException, MissingParameter, NoArgsIsHelpError
from typer.core import _TyperParameter

from fyerstrade import __version__
from fyerstrade.commands.group import HelpGroup
from fyerstrade.errors import FyersTradeError
from fyerstrade.interrupts import remembered_interrupts
from fyerstrade.logs import redact, set_console_level, setup_logging
from fyerstrade.store.integrity import forget_opened

if TYPE_CHECKING:
    from fyerstrade.config import Settings

# The command modules, in help order. Missing ones are skipped.
COMMAND_MODULES = (
    "demo",
    "dashboard",
    "db",
    "auth",
    "data",
    "backtest",
    "strategy",
    "calendar",
    "optimize",
    "live",
    "sim",
)


def _coerce_missing_without_pydantic() -> None:
    """Typer 0.29 builds a pydantic TypeAdapter for an option before it sees that the option
    was not given (``--help``'s value is None in every command): that import and schema build
    was 0.15 s of every command's start. A value that is None coerces to None (or ``()`` for a
    list) without the adapter, so this does exactly what typer's ``process_value`` does for it,
    and hands every other value to typer. When typer changes shape, nothing is replaced."""
    original = getattr(_TyperParameter, "process_value", None)
    if original is None or getattr(original, "_fyerstrade", False):
        return

    def process_value(self: _TyperParameter, ctx: typer.Context, value: object) -> object:
        if value is not None:
            return original(self, ctx, value)
        missing: object = () if self.multiple or self.nargs == -1 else None
        if self.required and self.value_is_missing(missing):
            raise MissingParameter(ctx=ctx, param=self)
        if self.callback is not None:
            return self.callback(ctx, self, missing)
        return missing

    process_value._fyerstrade = True  # type: ignore[attr-defined]
    _TyperParameter.process_value = process_value  # type: ignore[method-assign,assignment]


_coerce_missing_without_pydantic()

app = typer.Typer(
    name="fyerstrade",
    help="Algorithmic trading for Indian markets on Fyers API v3: data, backtests, live trading.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=HelpGroup,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class _State:
    debug: bool = False
    settings: Settings | None = None
    #: Set by a command that has written, flushed and closed everything it opened: what is left
    #: is garbage for the process's exit to drop (see :func:`run`).
    nothing_open: bool = False


state = _State()


def settings() -> Settings:
    """The settings for this invocation (loaded once, logging configured)."""
    if state.settings is None:
        from fyerstrade.config import load_settings

        s = load_settings()
        setup_logging(s.log_dir, s.log_level, secrets=s.secret_values())
        if state.debug:
            set_console_level(logging.DEBUG)
        state.settings = s
    return state.settings


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fyerstrade {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    state.debug = debug
    state.settings = None


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"fyerstrade.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"fyerstrade.commands.{name}":
                continue
            raise
        module.register(app)


_register_commands()


def fail(message: str) -> None:
    """Print one redacted error line to stderr."""
    typer.echo(f"error: {redact(message)}", err=True)


def _usage_error(exc: ClickException) -> int:
    """A usage mistake (unknown option, missing or invalid value) as one line naming the help to
    read, like every other error; a group called without a command shows its help."""
    if isinstance(exc, NoArgsIsHelpError):
        exc.show()
        return exc.exit_code
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    fail(f"{message}{where}")
    _to_log_file(logging.ERROR, f"{message}{where}")
    return exc.exit_code


def _to_log_file(level: int, message: str, *, exc_info: bool = False) -> None:
    """Record what the user was just shown in the log file only. Before logging is set up
    (settings that failed to load, an option refused before any setting was read) there is no
    file, and Python's last-resort handler would print the line to stderr a second time."""
    logger = logging.getLogger("fyerstrade.cli")
    if logging.getLogger("fyerstrade").handlers:
        logger.log(level, "%s", message, exc_info=exc_info, extra={"console": False})


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    forget_opened()
    state.nothing_open = False
    try:
        with remembered_interrupts():  # a Ctrl-C swallowed by a C callback still stops a sweep
            result = app(args=argv, prog_name="fyerstrade", standalone_mode=False)
        return result if isinstance(result, int) else 0  # typer.Exit(code) comes back as code
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ClickException as exc:
        return _usage_error(exc)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except FyersTradeError as exc:
        if state.debug:
            traceback.print_exc()
        fail(str(exc))
        _to_log_file(logging.ERROR, str(exc))
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except sqlite3.Error as exc:
        from fyerstrade.store.integrity import describe_database_error, opened_paths

        if state.debug:
            traceback.print_exc()
        message = describe_database_error(exc, opened_paths())
        fail(message)
        _to_log_file(logging.ERROR, message)
        return 2
    except Exception as exc:
        if state.debug:
            traceback.print_exc()
        fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        _to_log_file(logging.ERROR, "unexpected error", exc_info=True)
        return 1
    return 0


def run() -> None:
    """Console-script wrapper.

    After a command that closed everything it opened (``state.nothing_open``: ``backtest run``),
    the objects left are frozen for good (:func:`fyerstrade.gcfreeze.freeze_for_good`), so the
    collection at interpreter exit skips them: a 1,000,000-bar run leaves about 100,000 objects
    in reference cycles (its orders, fills and the engine around them) that the exit would walk
    and free one by one (0.1 s of CPU) only for the process to end. Exit handlers (logging's
    flush) still run; nothing that needs a finalizer (a file, a database connection) is left
    open by such a command.
    """
    code = main()
    if state.nothing_open:
        from fyerstrade.gcfreeze import freeze_for_good

        freeze_for_good()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
