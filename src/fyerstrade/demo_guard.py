"""The demo's directory is the demo's alone: it never writes into a real account's store.

The demo logs in to the simulator (writing a token file), fetches simulated candles and saves
sample runs. Pointed at a real data directory (``demo --data-dir data``) that would replace the
real token and mix simulated candles and runs into real ones. :func:`claim_demo_dir` therefore
accepts only

- a directory that does not exist yet, or is empty;
- a directory the demo created (it holds the marker file :data:`DEMO_MARKER`);
- a demo directory from before the marker existed: its token file is the simulator's;

and in every case refuses one that holds a token of another app (a real account's). Anything else
already in the directory is somebody's data, and the demo says what it found and stops before
writing a byte.
"""

from __future__ import annotations

from pathlib import Path

from fyerstrade.errors import AuthError, InputError
from fyerstrade.fyers.tokens import read_token

DEMO_MARKER = ".fyerstrade-demo"
_MARKER_TEXT = (
    "This directory belongs to `fyerstrade demo`: simulated candles, runs and the simulator's "
    "token. Never point FYERSTRADE_DATA_DIR at it for a real account.\n"
)
_CHOOSE = "pick an empty directory with --data-dir (or leave it out for <data dir>/demo)"


def _refuse(path: Path, what: str) -> InputError:
    return InputError(
        f"the demo will not use {path}: it holds {what}; the demo writes simulated candles, "
        f"runs and its own token; {_CHOOSE}"
    )


def check_demo_dir(path: Path, sim_app_id: str) -> None:
    """Raise :class:`InputError` unless ``path`` may hold the demo's data (see the module)."""
    from fyerstrade.config import TOKEN_FILE

    if not path.exists():
        return
    if not path.is_dir():
        raise InputError(f"the demo data directory {path} is a file; {_CHOOSE}")
    token_file = path / TOKEN_FILE
    simulator_token = False
    if token_file.exists():
        try:
            record = read_token(token_file)
        except AuthError:
            raise _refuse(path, f"a token file it cannot read ({TOKEN_FILE})") from None
        if record is not None and record.app_id != sim_app_id:
            raise _refuse(path, f"a real Fyers account's token (app {record.app_id})")
        simulator_token = record is not None
    if (path / DEMO_MARKER).is_file() or simulator_token:
        return
    try:
        found = sorted(p.name for p in path.iterdir())
    except OSError as exc:
        raise InputError(f"cannot read the demo data directory {path}: {exc.strerror}") from None
    if found:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise _refuse(path, f"files the demo did not create ({shown})")


def claim_demo_dir(path: Path, sim_app_id: str) -> None:
    """:func:`check_demo_dir`, then create the directory and mark it as the demo's."""
    check_demo_dir(path, sim_app_id)
    marker = path / DEMO_MARKER
    if marker.is_file():
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
        marker.write_text(_MARKER_TEXT, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write to the demo directory {path}: {exc.strerror}") from None
