"""A full disk (a real 2 MiB tmpfs, filled up) and a login that cannot save its token: one line,
exit 2, nothing half-written and nothing left behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fyerstrade.sim import SimServer
from plugins.robustness import CliResult, SmallDisk

pytestmark = pytest.mark.e2e


def _leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith((".budget-", ".fyers_tokens", ".historical", ".trading", ".live"))
        or p.name.endswith((".tmp", ".new", ".probe"))
    )


def test_auth_login_on_a_full_disk_never_spends_the_auth_code(
    sim_env: SimServer,
    small_disk: SmallDisk,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., CliResult],
) -> None:
    data = small_disk.path / "data"
    data.mkdir()
    monkeypatch.setenv("FYERSTRADE_DATA_DIR", str(data))
    small_disk.fill()
    result = run_cli("auth", "login", "--timeout", "10")
    assert result.code == 2
    assert "cannot write the token file in" in result.one_line
    assert "nothing was sent to Fyers" in result.one_line
    assert not any("authcode" in path for path in sim_env.stats.requests)  # code never asked for
    assert not (data / "fyers_tokens.json").exists()
    assert _leftovers(data) == []


def test_fetch_into_a_full_disk_is_one_line_and_the_store_stays_whole(
    sim_env: SimServer,
    small_disk: SmallDisk,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., CliResult],
) -> None:
    data = small_disk.path / "data"
    monkeypatch.setenv("FYERSTRADE_DATA_DIR", str(data))
    assert run_cli("auth", "login", "--timeout", "10").code == 0
    assert run_cli("db", "init").code == 0
    small_disk.fill()
    result = run_cli(
        "data",
        "fetch",
        "-s",
        "NSE:SBIN-EQ",
        "-r",
        "1",
        "--from",
        "2026-08-03",
        "--to",
        "2026-11-20",
    )
    assert result.code == 2, (result.out, result.err_lines)
    assert "full" in result.one_line, result.one_line
    assert _leftovers(data) == []
    small_disk.free()
    check = run_cli("db", "check")
    assert check.code == 0, check.out  # every transaction rolled back whole
