"""A table of bad inputs fed to the CLI in-process: each case is arguments, environment and
files; the expected outcome is exit code 2, exactly one line on stderr (``error: ...``, naming
what to fix), nothing on stdout that pretends success, and every store byte for byte as before.

The cases cover numbers (NaN, infinities, out-of-range rates, a duplicated ``--param``),
unreadable files (binary ``.env``, ``--universe``, CSV, token file, live config), ``.env``
syntax, dates and resolutions, and the smaller refusals of issue 15 (a fetch from the future,
dropping an archived month that is not there, deleting a run without ``--yes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from plugins.robustness import BACKTEST, CliResult, store_digests

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\xfd" * 8
RUN = BACKTEST  # a valid run on the robust store's candles


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    expected: str  # a substring of the one stderr line
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # relative to the working directory
    data_files: dict[str, bytes] = field(default_factory=dict)  # relative to the data dir


CASES: dict[str, Case] = {
    # ---- numbers (15.7)
    "capital-nan": Case((*RUN, "--capital", "nan"), "capital must be a finite number, got nan"),
    "capital-inf": Case((*RUN, "--capital", "inf"), "capital must be a finite number, got inf"),
    "capital-1e400": Case((*RUN, "--capital", "1e400"), "capital must be a finite number"),
    "capital-text": Case((*RUN, "--capital", "lots"), "Invalid value for '--capital'"),
    "slippage-bps-nan": Case((*RUN, "--slippage-bps", "nan"), "slippage bps must be a finite"),
    "slippage-ticks-inf": Case((*RUN, "--slippage-ticks", "inf"), "slippage ticks must be a fin"),
    "param-float-nan": Case(
        ("backtest", "run", "--strategy", "opening_price_crossover", *RUN[4:], "-p", "rr1=nan"),
        "parameter 'rr1' of opening_price_crossover must be a finite number, got 'nan'",
    ),
    "param-float-inf": Case(
        ("backtest", "run", "--strategy", "opening_price_crossover", *RUN[4:], "-p", "rr2=inf"),
        "parameter 'rr2' of opening_price_crossover must be a finite number",
    ),
    "param-int-nan": Case((*RUN, "-p", "fast=nan"), "parameter 'fast' of sma_crossover must be"),
    "param-twice": Case(
        (*RUN, "-p", "fast=5", "-p", "fast=6"), "--param fast is given twice (fast=5 and fast=6)"
    ),
    "param-no-equals": Case((*RUN, "-p", "fast"), "must look like KEY=VALUE"),
    "risk-free-negative": Case(
        ("backtest", "list"),
        "FYERSTRADE_RISK_FREE: must be an annual rate between -0.05 and 0.5",
        env={"FYERSTRADE_RISK_FREE": "-50"},
    ),
    "risk-free-percent": Case(
        ("backtest", "list"),
        "6.5 looks like a percentage; write the annual rate as a fraction",
        env={"FYERSTRADE_RISK_FREE": "6.5"},
    ),
    "risk-free-nan": Case(
        ("backtest", "list"),
        "FYERSTRADE_RISK_FREE: Input should be a finite number",
        env={"FYERSTRADE_RISK_FREE": "nan"},
    ),
    "risk-free-1e400": Case(
        ("backtest", "list"),
        "FYERSTRADE_RISK_FREE: Input should be a finite number",
        env={"FYERSTRADE_RISK_FREE": "1e400"},
    ),
    "risk-free-in-env-file": Case(
        ("backtest", "list"),
        "FYERSTRADE_RISK_FREE: Input should be a finite number",
        files={".env": b"FYERSTRADE_RISK_FREE=inf\n"},
    ),
    "stop-timeout-nan": Case(("live", "stop", "--timeout", "nan"), "Invalid value for '--timeout'"),
    "stop-timeout-inf": Case(("live", "stop", "--timeout", "inf"), "--timeout must be a finite"),
    "auth-timeout-inf": Case(("auth", "login", "--timeout", "inf"), "--timeout must be a finite"),
    # ---- unreadable files (15.8) and .env (15.9)
    "env-binary": Case(("db", "status"), ".env is not UTF-8 text", files={".env": BINARY}),
    "env-unterminated-quote": Case(
        ("db", "status"),
        ".env line 2: cannot read this line (an unterminated quote?)",
        files={".env": b'FYERSTRADE_LOG_LEVEL=INFO\nFYERS_APP_ID="ABC-100\n'},
    ),
    "env-misspelt-key": Case(
        ("db", "status"),
        "unknown setting FYERSTRADE_DATADIR (did you mean FYERSTRADE_DATA_DIR?)",
        files={".env": b"FYERSTRADE_DATADIR=x\n"},
    ),
    "universe-binary": Case(
        ("data", "fetch", "--universe", "u.txt"),
        "--universe u.txt is not a text file",
        files={"u.txt": BINARY},
    ),
    "universe-missing": Case(
        ("data", "fetch", "--universe", "nope.txt"), "cannot read --universe nope.txt"
    ),
    "csv-binary": Case(
        ("data", "import", "b.csv", "-s", "NSE:SBIN-EQ", "-r", "5"),
        "b.csv is not a UTF-8 text",
        files={"b.csv": BINARY},
    ),
    "csv-is-a-folder": Case(
        ("data", "import", ".", "-s", "NSE:SBIN-EQ", "-r", "5"), ".: no such file"
    ),
    "token-binary": Case(
        ("auth", "status"), "the token file", data_files={"fyers_tokens.json": BINARY}
    ),
    "live-config-binary": Case(
        ("live", "config", "--check"),
        "is not a text file",
        data_files={"live_config.yaml": BINARY},
    ),
    "live-config-empty": Case(
        ("live", "config", "--check"), "is empty", data_files={"live_config.yaml": b""}
    ),
    # ---- dates, resolutions and the smaller refusals (15.10)
    "fetch-from-future": Case(
        ("data", "fetch", "-s", "NSE:SBIN-EQ", "--from", "2099-06-01"), "is in the future"
    ),
    "fetch-to-before-from": Case(
        ("data", "fetch", "-s", "NSE:SBIN-EQ", "--from", "2026-02-01", "--to", "2026-01-01"),
        "--to 2026-01-01 is before --from 2026-02-01",
    ),
    "fetch-bad-resolution": Case(
        ("data", "fetch", "-s", "NSE:SBIN-EQ", "-r", "7"), "unknown resolution '7'"
    ),
    "fetch-bad-date": Case(
        ("data", "fetch", "-s", "NSE:SBIN-EQ", "--from", "2026-13-01"), "is not a date"
    ),
    "drop-missing-month": Case(
        ("data", "archive", "--drop-month", "202001", "--yes"), "no archived month 202001"
    ),
    "delete-without-yes": Case(("backtest", "delete", "{run}"), "cannot be undone; add --yes"),
    "unknown-option": Case(("backtest", "list", "--limt", "3"), "No such option: --limt"),
}
OUTCOMES: dict[str, int] = {}


def _saved_run(data_dir: Path) -> str:
    import sqlite3

    conn = sqlite3.connect(data_dir / "trading_log.sqlite")
    try:
        return str(conn.execute("SELECT run_id FROM backtest_runs").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_changes_no_store(
    robust_store: Path,
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    case = CASES[name]
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    for rel, content in case.files.items():
        Path(rel).write_bytes(content)
    for rel, content in case.data_files.items():
        (robust_store / rel).write_bytes(content)
    before = store_digests(robust_store)
    args = [a.format(run=_saved_run(robust_store)) for a in case.args]

    result = run_cli(*args)

    assert result.code == 2, (result.out, result.err_lines)
    line = result.one_line
    assert line.startswith("error: ") and case.expected in line, line
    assert "Traceback" not in result.out
    assert store_digests(robust_store) == before
    assert not [p.name for p in robust_store.iterdir() if p.name.startswith(".budget-")]
