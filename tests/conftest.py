"""Shared fixtures. Fixture plugins live in ``tests/plugins/*.py`` (one module per area) and are
loaded automatically, so areas do not have to edit this file."""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fyerstrade.config import Settings, load_settings
from fyerstrade.gcfreeze import freeze_for_good

# Base plugins that other plugins import go first, so pytest marks them for assertion
# rewriting before anything imports them.
_BASE_PLUGINS = ("sim", "store", "fyers")
_plugin_names = sorted(
    p.stem for p in (Path(__file__).parent / "plugins").glob("*.py") if p.stem != "__init__"
)
pytest_plugins = [
    f"plugins.{name}"
    for name in sorted(
        _plugin_names, key=lambda n: (_BASE_PLUGINS.index(n) if n in _BASE_PLUGINS else 99, n)
    )
]

_OUR_KEYS = ("FYERSTRADE_", "FYERS_")

# A test run started in the background of a non-interactive shell (`make test &`, nohup) inherits
# SIGINT ignored, and so would every process the tests start: the Ctrl-C tests (fetch, demo,
# optimize) would then see a child that cannot be interrupted. Ctrl-C is deliverable again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test runs in its own working directory with no FYERSTRADE_*/FYERS_* variables from
    the developer's shell or .env, and with data and logs under tmp_path."""
    for key in list(os.environ):
        if key.startswith(_OUR_KEYS):
            monkeypatch.delenv(key)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("FYERSTRADE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FYERSTRADE_LOG_DIR", str(tmp_path / "logs"))
    # Streamlit's script runner (AppTest) puts the page script in sys.modules["__main__"] and
    # leaves it there; a later multiprocessing spawn or fork server would then re-run that
    # temporary script in its child and die (NameError: __args). Each test gets back the
    # __main__ it started with.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at tmp_path/data and tmp_path/logs (no .env)."""
    return load_settings(env_file=None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported and built (every test module, numpy, pandas, Streamlit, Ray,
    ...: some 450,000 objects) lives until the session ends: frozen out of the garbage
    collector's sight. Without this, every full collection in this process, and in every pool
    worker forked from it, walked that whole heap (an optimizer block ends with one: a
    54-trial grid took 20-50 s instead of 5). The code under test freezes only when nothing is
    frozen yet (``fyerstrade.gcfreeze``), so this freeze stays for the session."""
    gc.collect()
    freeze_for_good()
