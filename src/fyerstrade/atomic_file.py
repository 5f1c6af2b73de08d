"""Atomic file replacement: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_text_atomic"]


def write_text_atomic(
    path: Path, text: str, *, mode: int | None = None, durable: bool = True
) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``
    (``mode``: the file's permission bits, e.g. ``0o600``, set before the rename).
    ``durable=False`` skips the fsync: still atomic for readers, but a power cut may leave the
    previous version (fine for a snapshot rewritten every second, like the live status)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
