"""The README guards itself: its commands exist and its backtest assumptions are the tested ones."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from fyerstrade import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _readme_commands() -> list[list[str]]:
    """Every `fyerstrade ...` line inside fenced code blocks, as the command path before options."""
    # fenced blocks whose fences start a line; only shell blocks hold commands
    fenced = re.findall(r"^```(\w*)\n(.*?)^```", README, flags=re.S | re.M)
    blocks = [body for lang, body in fenced if lang in ("", "bash", "sh")]
    text = "\n".join(blocks).replace("\\\n", " ")
    paths: list[list[str]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("fyerstrade "):
            continue
        words = shlex.split(line)[1:]
        path = []
        for w in words:
            if w.startswith("-") or w.isupper() or "." in w or "/" in w or w.startswith("["):
                break
            path.append(w)
        if path and path not in paths:
            paths.append(path)
    return paths


COMMANDS = _readme_commands()


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:1500]
    assert "make run" in head and "make test" in head


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_readme_command_exists(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*path, "--help"]) == 0, f"`fyerstrade {' '.join(path)}` is not a command"


def test_readme_lists_commands() -> None:
    assert len(COMMANDS) >= 10


def test_readme_quotes_the_tested_backtest_assumptions() -> None:
    doc = (ROOT / "docs" / "backtest-assumptions.md").read_text()
    body = doc.split("\n", 1)[1].strip()  # the text below the doc's own heading
    assert body in README, "README's Backtest assumptions section differs from the tested doc"
