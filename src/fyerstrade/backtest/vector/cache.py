"""Where numba keeps the kernel's compiled code, so a second process does not compile again.

The compiled code lives in a directory named by a stamp of the kernel's sources
(``numba-<stamp>``): numba checks only a function's own file before reusing its cache, but the
kernel's functions call (and inline) each other across ``layout.py``, ``charges.py``,
``kernel.py`` and ``metrics.py``, so a change to any of them must not load code compiled from
the old one. The directory is the package's ``__pycache__`` when writable; when the package is
installed somewhere read-only (a system site-packages, a container image) it is fyerstrade's
cache directory (``numba`` under ``$FYERSTRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/fyerstrade``,
else ``~/.cache/fyerstrade``: ``calendar_library.cache_root``), or the temporary directory when
even that cannot be written. A ``NUMBA_CACHE_DIR`` set by the user is the base instead.
:func:`configure` must run before the kernel modules define their functions (numba picks the
location when a function is decorated).

Every kernel function has an explicit signature, so importing its module compiles it (or loads
it from the cache). :func:`compile_kernels` does that once per cache directory, at install time
(``make deps``, ``python -m fyerstrade.backtest.vector.cache``), as the install compiles Python's
bytecode: without it a user's first backtest compiles for about 20 s and needs about 100 MB more
than every later one. A file ``compiled`` in the directory, naming numba's and Python's
versions, marks it done; an interrupted compile writes no mark and is taken up again next time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCES = (
    "layout.py",
    "charges.py",
    "kernel.py",
    "metrics.py",
    "indicators.py",
    "bar_pass.py",
    "prefetch.py",
    "accounts.py",
)
STALE_AFTER_S = 3600.0  # an older stamp's directory untouched this long is removed
#: The modules whose import compiles every kernel function (their decorators have signatures).
KERNEL_MODULES = (
    "fyerstrade.backtest.vector.run",
    "fyerstrade.backtest.vector.evaluator",
    "fyerstrade.backtest.vector.records",
    "fyerstrade.backtest.vector.metrics",
    "fyerstrade.backtest.vector.accounts",
    "fyerstrade.backtest.vector.indicators",
    "fyerstrade.backtest.vector.bar_pass",
)
COMPILED_MARK = "compiled"


def writable_dir(path: Path) -> bool:
    """Can files be created in ``path`` (created if missing)?"""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def source_stamp(package_dir: Path = PACKAGE_DIR) -> str:
    """A short hash of the kernel's sources (any change gives a new cache directory)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        path = package_dir / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:16]


def cache_dir_for(package_dir: Path, environ: Mapping[str, str], root: Path) -> Path:
    """The directory to give numba; ``root`` is fyerstrade's cache directory."""
    leaf = f"numba-{source_stamp(package_dir)}"
    explicit = environ.get("NUMBA_CACHE_DIR")
    if explicit:
        return Path(explicit) / leaf
    for base in (package_dir / "__pycache__", root / "numba"):
        if writable_dir(base / leaf):
            return base / leaf
    return Path(tempfile.gettempdir()) / f"fyerstrade-numba-{os.getuid()}" / leaf


def configure(package_dir: Path = PACKAGE_DIR) -> Path:
    """Point numba at the kernel's cache directory; return it."""
    import numba

    from fyerstrade.calendar_library import cache_root

    chosen = cache_dir_for(package_dir, os.environ, cache_root())
    chosen.mkdir(parents=True, exist_ok=True)
    if chosen.parent == package_dir / "__pycache__":
        prune(chosen, time.time())
    numba.config.CACHE_DIR = str(chosen)  # type: ignore[attr-defined]
    return chosen


def prune(keep: Path, now: float) -> list[Path]:
    """Remove the other stamps' directories beside ``keep`` that nobody touched for
    :data:`STALE_AFTER_S` (code compiled from sources this package no longer has); return them.
    Only the package's own ``__pycache__`` is pruned: a shared cache directory may serve other
    installs of fyerstrade."""
    removed: list[Path] = []
    for old in keep.parent.glob("numba-*"):
        try:
            stale = old != keep and old.is_dir() and now - old.stat().st_mtime > STALE_AFTER_S
        except OSError:
            continue
        if stale:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def _mark_text() -> str:
    from importlib.metadata import version

    return f"numba {version('numba')} python {sys.version_info[0]}.{sys.version_info[1]}\n"


def compile_kernels(modules: Sequence[str] = KERNEL_MODULES) -> tuple[Path, bool]:
    """Compile every kernel function into its cache directory unless that was done already:
    ``(the directory, True when compiled now)``. The check neither imports numba nor the
    kernel, so it costs milliseconds."""
    from fyerstrade.calendar_library import cache_root

    mark = cache_dir_for(PACKAGE_DIR, os.environ, cache_root()) / COMPILED_MARK
    expected = _mark_text()
    try:
        if mark.read_text(encoding="utf-8") == expected:
            return mark.parent, False
    except OSError:
        pass
    for name in modules:
        importlib.import_module(name)  # (each configures numba with this same directory)
    mark.write_text(expected, encoding="utf-8")
    return mark.parent, True


def main() -> int:
    """``python -m fyerstrade.backtest.vector.cache``: compile the kernel once (``make deps``)."""
    t0 = time.perf_counter()
    directory, compiled = compile_kernels()
    if compiled:
        sys.stdout.write(
            f"compiled the backtest kernel in {time.perf_counter() - t0:.0f} s ({directory})\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
