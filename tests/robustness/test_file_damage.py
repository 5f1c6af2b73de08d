"""A table of file damages × commands: every command refuses or reports a damaged store in one
line naming the file (exit 2), and none writes into it.

Damages (each applied to one store of a populated data directory): the file emptied (zero
length), cut in half (truncated), bytes flipped in the page headers of its middle third, and a
wrong 16-byte SQLite header. Commands: the checks (``db status``, ``db status --quick``,
``db check``, ``data coverage``), the writers (``db init``, ``data import``, ``data archive``,
``backtest run``) and a reader (``backtest list``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from fyerstrade.config import HISTORICAL_DB, LIVE_DB, TRADING_DB
from fyerstrade.store.integrity import DAMAGED_SUFFIX
from plugins.robustness import BACKTEST, STORES, CliResult, store_digests

PAGE = 4096


def zero_length(path: Path) -> None:
    path.write_bytes(b"")


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flipped_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    pages = len(data) // PAGE
    for page in range(max(1, pages // 3), max(2, 2 * pages // 3 + 1)):
        at = page * PAGE
        data[at : at + 32] = bytes(b ^ 0xFF for b in data[at : at + 32])
    path.write_bytes(bytes(data))


def wrong_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:16] = b"SQLite format 2\x00"
    path.write_bytes(bytes(data))


DAMAGES: dict[str, Callable[[Path], None]] = {
    "zero-length": zero_length,
    "truncated": truncated,
    "flipped-bytes": flipped_bytes,
    "wrong-header": wrong_header,
}

ALL = frozenset(STORES)
# command id -> (arguments, stores it checks or writes, stores it only reads)
COMMANDS: dict[str, tuple[tuple[str, ...], frozenset[str], frozenset[str]]] = {
    "db-status": (("db", "status"), ALL, frozenset()),
    "db-status-quick": (("db", "status", "--quick"), ALL, frozenset()),
    "db-check": (("db", "check"), ALL, frozenset()),
    "db-init": (("db", "init"), ALL, frozenset()),
    "coverage": (("data", "coverage"), frozenset({HISTORICAL_DB}), frozenset()),
    "import": (
        ("data", "import", "{csv}", "-s", "NSE:INFY-EQ", "-r", "5"),
        frozenset({HISTORICAL_DB}),
        frozenset(),
    ),
    "archive": (("data", "archive"), frozenset({HISTORICAL_DB, LIVE_DB}), frozenset()),
    "backtest-run": (BACKTEST, frozenset({TRADING_DB}), frozenset({HISTORICAL_DB})),
    "backtest-list": (("backtest", "list"), frozenset(), frozenset({TRADING_DB})),
}
OUTCOMES: list[str] = []


def _csv(tmp_path: Path) -> Path:
    f = tmp_path / "infy.csv"
    f.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2026-11-20T09:15:00+05:30,100,101,99,100.5,10\n"
        "2026-11-20T09:20:00+05:30,100.5,101,99,100,12\n"
    )
    return f


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("store", STORES)
def test_damaged_store_is_refused_or_reported_and_never_written(
    robust_store: Path,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
    store: str,
    damage: str,
    command: str,
) -> None:
    args, checked, read = COMMANDS[command]
    path = robust_store / store
    DAMAGES[damage](path)
    damaged = hashlib.sha256(path.read_bytes()).hexdigest()
    before = store_digests(robust_store)
    argv = [a.format(csv=_csv(tmp_path)) for a in args]

    result = run_cli(*argv)

    assert hashlib.sha256(path.read_bytes()).hexdigest() == damaged  # not a byte written
    assert "Traceback" not in result.out + "".join(result.err_lines)
    uses = store in checked or store in read
    header_damage = damage != "flipped-bytes"  # found at open, before any query
    must_refuse = store in checked or (store in read and header_damage)
    if must_refuse:
        assert result.code == 2, (result.out, result.err_lines)
        line = result.one_line
        if command == "db-check":
            assert line == f"error: damaged: {store}"
            assert f"{path}: DAMAGED" in result.out and "what to do:" in result.out
        else:
            assert line.startswith("error: ") and str(path) in line, line
            assert "backup" in line or "not a SQLite database" in line, line
        assert store_digests(robust_store) == before  # the other stores are untouched too
        OUTCOMES.append("refused")
    elif uses:  # a reader whose queries may not reach the damaged pages
        assert result.code in (0, 2), (result.out, result.err_lines)
        if result.code == 2:
            assert str(path) in result.one_line and "db check" in result.one_line
            assert store_digests(robust_store) == before
        OUTCOMES.append("refused" if result.code else "read undamaged pages")
    else:
        assert result.code == 0, (result.out, result.err_lines)
        OUTCOMES.append("unaffected")


def test_a_marked_store_stays_refused_until_db_check_passes(
    robust_store: Path, run_cli: Callable[..., CliResult]
) -> None:
    path = robust_store / HISTORICAL_DB
    healthy = path.read_bytes()
    flipped_bytes(path)
    assert run_cli("data", "coverage").code == 2
    marker = path.with_name(path.name + DAMAGED_SUFFIX)
    assert marker.is_file()
    path.write_bytes(healthy)  # restored from a backup
    result = run_cli("backtest", *BACKTEST[1:])
    assert result.code == 2 and "was found damaged" in result.one_line
    assert "run `fyerstrade db check`" in result.one_line
    assert run_cli("db", "check").code == 0
    assert not marker.exists()
    assert run_cli("data", "coverage").code == 0


def test_zero_length_store_says_how_to_recover(
    robust_store: Path, run_cli: Callable[..., CliResult]
) -> None:
    path = robust_store / TRADING_DB
    zero_length(path)
    line = run_cli("backtest", "list").one_line
    assert line == (
        f"error: {path} is damaged: it is empty (0 bytes); nothing was changed; restore it from "
        "a backup, or move it away and run `fyerstrade db init` (saved runs and paper trades are "
        "lost)"
    )
    assert path.stat().st_size == 0
