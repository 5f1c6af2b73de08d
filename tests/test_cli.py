"""The CLI contract: version, help, one-line errors with exit code 2, --debug tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from fyerstrade import __version__, cli
from fyerstrade.errors import UnknownSymbolError


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fyerstrade {__version__}"


def test_help_lists_registered_groups(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out
    for name in ("db", "data"):
        assert name in out


def test_help_shows_each_commands_whole_first_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    """Plain help (no rich) that still cuts nothing: every group's and command's summary is its
    whole first sentence, wrapped, never truncated with "..."."""
    assert cli.main(["--help"]) == 0
    top = " ".join(capsys.readouterr().out.split())
    assert "sim Serve a Fyers API v3 compatible simulator (REST, symbol masters, data socket, " \
        "synthetic market) on a market clock that can start at any time and run faster than " \
        "real time." in top  # fmt: skip
    assert cli.main(["data", "--help"]) == 0
    data = " ".join(capsys.readouterr().out.split())
    assert "coverage For each symbol × resolution: first and last candle, candles stored, " \
        "candles the NSE calendar expects between them, missing bars and the largest holes." \
        in data  # fmt: skip
    summaries = (top + data).replace("COMMAND [ARGS]...", "")
    assert "..." not in summaries


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


@pytest.fixture
def failing_command() -> object:
    @cli.app.command("_fail_for_test", hidden=True)
    def _fail() -> None:
        raise UnknownSymbolError("unknown symbol NSE:NOPE-EQ; run `fyerstrade data symbols`")

    yield _fail
    cli.app.registered_commands[:] = [
        c for c in cli.app.registered_commands if c.name != "_fail_for_test"
    ]


def test_domain_error_is_one_line_exit_2(
    failing_command: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["_fail_for_test"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("error: unknown symbol NSE:NOPE-EQ; run `fyerstrade data symbols`")
    assert "Traceback" not in err


def test_debug_shows_traceback(failing_command: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--debug", "_fail_for_test"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fyerstrade", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert __version__ in out.stdout


def test_typer_app_is_typer() -> None:
    assert isinstance(cli.app, typer.Typer)


def test_cli_startup_imports_no_heavy_modules() -> None:
    """`fyerstrade --help` must start fast: command modules import heavy libraries lazily."""
    code = (
        "import sys, fyerstrade.cli; "
        "heavy = ['pandas', 'numpy', 'aiohttp', 'streamlit', 'fyers_apiv3', 'plotly', 'talib']; "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at CLI start: {out.stdout.strip()}"
