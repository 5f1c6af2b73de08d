"""One line means one line: a failure the command reports is not also printed as a log line."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from fyerstrade.config import Settings
from fyerstrade.sim import SimServer
from plugins.robustness import CliResult


def test_a_fetch_failure_is_printed_once(
    sim: SimServer, fetch_login: Callable[[str], Settings], run_cli: Callable[..., CliResult]
) -> None:
    fetch_login(sim.url)
    result = run_cli(
        "data",
        "fetch",
        "-s",
        "NSE:NOPE-EQ",
        "-r",
        "D",
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-20",
    )
    assert result.code == 2
    assert result.err_lines == [
        "error: Fyers does not know symbol NSE:NOPE-EQ (invalid symbol); check it against "
        "`fyerstrade data symbols --search`"
    ]


def test_errors_before_logging_is_set_up_are_printed_once(
    run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # refused before any setting is read (no log file yet): Python's last-resort handler must
    # not print the line a second time. As in a fresh process: no handlers configured yet.
    from fyerstrade import logs

    root = logging.getLogger("fyerstrade")
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "propagate", True)
    monkeypatch.setattr(logs, "_configured", {})
    result = run_cli("data", "fetch", "-s", "NSE:SBIN-EQ", "-r", "7")
    assert result.code == 2
    assert len(result.err_lines) == 1
