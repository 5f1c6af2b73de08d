"""Streamlit's page shell with the first page's widget code announced up front.

Streamlit's browser code loads each widget type's module (a "chunk" and the chunks it imports)
only when the first element of that type arrives from the script. The Backtest form uses eight
widget types, so its first pass waits for a second round of about 36 small files, requested
while the server is still busy with the script's pass and fetched only then. Their names are
content-hashed and Streamlit's own ``index.html`` already lists the main bundle's modules as
``<link rel="modulepreload">``: this module adds the first page's widget chunks to that list, so
the browser fetches (and compiles) them in parallel with the main bundle.

How it stays safe across Streamlit versions: the chunk names and each chunk's imports are read
from the installed bundle (Vite's ``__vite__mapDeps`` table and its lazy ``import()`` calls,
exactly the list Streamlit's own loader fetches for that widget). If anything is not in the
expected shape (no such script tag, no table, a widget type missing, a chunk file absent),
:func:`prepare` returns ``None`` and Streamlit serves its stock files. Nothing in the installed
package is changed: the patched ``index.html`` lives in a folder of the cache dir next to links
to every other static file, and :func:`install` points Streamlit's static handler at it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

#: The widget types of the Backtest form's first pass (the dashboard's default page), by the
#: names of their modules in Streamlit's bundle (a toggle is drawn by Checkbox's). Only these:
#: a chunk preloaded but not drawn is fetched and compiled for nothing while the page loads (the
#: form's session times, TimeInput, appear only in intraday mode; positional is the default).
FIRST_PAGE_WIDGETS = (
    "Selectbox",
    "NumberInput",
    "Multiselect",
    "DateInput",
    "Radio",
    "Checkbox",
    "Button",
)
#: Bump when the output of :func:`patched_index` changes for the same input.
_FORMAT = "1"

_ENTRY = re.compile(r'<script type="module" crossorigin src="\./static/js/(index\.[\w-]+\.js)">')
_PRELOADED = re.compile(r'<link rel="modulepreload" crossorigin href="\./static/js/([^"]+)">')
_TABLE = re.compile(r"m\.f\|\|\(m\.f=(\[[^\]]*\])\)")
_LAZY = re.compile(r"import\(`\./(([A-Za-z0-9_]+)\.[\w-]+\.js)`\),__vite__mapDeps\(\[([\d,]*)\]\)")


def widget_chunks(static_dir: Path, widgets: Iterable[str]) -> list[str] | None:
    """The chunk files (names under ``static/js``) the browser loads for ``widgets`` that the
    stock ``index.html`` does not already preload, in load order; ``None`` if the installed
    Streamlit is not in the shape this module knows."""
    js = static_dir / "static" / "js"
    try:
        html = (static_dir / "index.html").read_text(encoding="utf-8")
        entry = _ENTRY.search(html)
        if entry is None:
            return None
        bundle = (js / entry.group(1)).read_text(encoding="utf-8")
        table = _TABLE.search(bundle)
        if table is None:
            return None
        files = json.loads(table.group(1))
        lazy = {name: (chunk, deps) for chunk, name, deps in _LAZY.findall(bundle)}
        have = {entry.group(1), *_PRELOADED.findall(html)}
        chunks: list[str] = []
        for widget in widgets:
            if widget not in lazy:
                return None
            chunk, deps = lazy[widget]
            for path in [f"./{chunk}"] + [files[int(i)] for i in deps.split(",") if i]:
                if not (isinstance(path, str) and path.startswith("./")):
                    return None
                name = path[2:]
                if name.endswith(".js") and name not in have:
                    have.add(name)
                    chunks.append(name)
        if not all((js / name).is_file() for name in chunks):
            return None
    except (OSError, ValueError, IndexError):
        return None
    return chunks


def patched_index(html: str, chunks: Sequence[str]) -> str | None:
    """``index.html`` with a ``modulepreload`` line per chunk just before the line that closes
    its head; ``None`` without exactly one ``</head>``."""
    if html.count("</head>") != 1:
        return None
    at = html.rfind("\n", 0, html.index("</head>")) + 1
    links = "".join(
        f'    <link rel="modulepreload" crossorigin href="./static/js/{name}">\n' for name in chunks
    )
    return html[:at] + links + html[at:]


def prepare(
    static_dir: Path, cache: Path, widgets: Sequence[str] = FIRST_PAGE_WIDGETS
) -> Path | None:
    """A folder serving what ``static_dir`` serves, with the patched ``index.html``: made once
    per Streamlit build in ``cache`` (reused while it is complete), ``None`` if it cannot be made
    (unknown shape, unwritable cache) — then Streamlit's own folder is the one to serve."""
    chunks = widget_chunks(static_dir, widgets)
    if not chunks:
        return None
    try:
        html = (static_dir / "index.html").read_text(encoding="utf-8")
    except OSError:
        return None
    patched = patched_index(html, chunks)
    if patched is None:
        return None
    digest = hashlib.blake2b(
        "\0".join([_FORMAT, str(static_dir.resolve()), html, *widgets]).encode(), digest_size=8
    ).hexdigest()
    target = cache / "streamlit-static" / digest
    entries = sorted(p.name for p in static_dir.iterdir() if p.name != "index.html")
    if _complete(target, entries, patched):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=target.parent))
        try:
            for name in entries:
                (work / name).symlink_to(static_dir.resolve() / name)
            (work / "index.html").write_text(patched, encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)
            work.replace(target)
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
            if _complete(target, entries, patched):  # another dashboard made it first
                return target
            return None
    except OSError:
        return None
    return target


def _complete(target: Path, entries: list[str], patched: str) -> bool:
    try:
        if (target / "index.html").read_text(encoding="utf-8") != patched:
            return False
    except OSError:
        return False
    return all((target / name).exists() for name in entries)


def install() -> Path | None:
    """Point Streamlit's static file handler at :func:`prepare`'s folder (before the server
    starts); returns the folder, or ``None`` when Streamlit serves its own files unchanged."""
    from streamlit import file_util

    from fyerstrade.calendar_library import cache_root

    stock = getattr(file_util, "get_static_dir", None)
    if stock is None:
        return None
    served = prepare(Path(stock()), cache_root(), FIRST_PAGE_WIDGETS)
    if served is not None:
        file_util.get_static_dir = lambda: str(served)
    return served
