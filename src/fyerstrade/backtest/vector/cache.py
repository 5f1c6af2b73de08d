"""Where numba keeps the kernel's compiled code, so a second process does not compile again.

Numba caches a ``cache=True`` function next to its source (``__pycache__``). When the package is
installed somewhere read-only (a system site-packages, a container image), the cache goes to
fyerstrade's cache directory instead (``numba`` under ``$FYERSTRADE_CACHE_DIR``, else
``$XDG_CACHE_HOME/fyerstrade``, else ``~/.cache/fyerstrade``: ``calendar_library.cache_root``),
or to the temporary directory when even that cannot be written.
A ``NUMBA_CACHE_DIR`` set by the user always wins. :func:`configure` must run before the kernel
module defines its functions (numba picks the location when a function is decorated).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def writable_dir(path: Path) -> bool:
    """Can files be created in ``path`` (created if missing)?"""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def cache_dir_for(package_dir: Path, environ: Mapping[str, str], root: Path) -> Path | None:
    """The directory to give numba, or None when its default (``package_dir/__pycache__``) is
    writable or the user chose one with ``NUMBA_CACHE_DIR``; ``root`` is fyerstrade's cache
    directory."""
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    if writable_dir(package_dir / "__pycache__"):
        return None
    user = root / "numba"
    if writable_dir(user):
        return user
    return Path(tempfile.gettempdir()) / f"fyerstrade-numba-{os.getuid()}"


def configure(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """Point numba at a writable cache directory when the package's own is not; return it."""
    import numba

    from fyerstrade.calendar_library import cache_root

    chosen = cache_dir_for(package_dir, os.environ, cache_root())
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        numba.config.CACHE_DIR = str(chosen)  # type: ignore[attr-defined]
    return chosen
