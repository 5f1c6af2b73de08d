"""Streamlit's content-hashed static files answered from memory.

A fresh browser's first page fetches about a hundred of Streamlit's script, style and font files
over six connections. Streamlit's static handler (Starlette's ``StaticFiles``) answers each one
from disk: a ``stat`` in a worker thread, then the file opened, read in 64 kB pieces and closed,
each step another hop to a worker thread and back (1.8 ms of CPU for a 1 kB file, 4.7 ms and 15
messages for the 860 kB protobuf module, measured in-process on a busy machine), so on a busy
machine the page's first second and more is the browser waiting for the server.

The files under ``static/`` have their content's hash in their names and are served as
``immutable``: they never change while the process runs. :func:`install` wraps Streamlit's
static handler so that a plain ``GET`` or ``HEAD`` of one of them is answered from bytes read
once at start-up (before the server listens), with the headers Streamlit's handler gives it
(built by the same Starlette response class and Streamlit's own cache-header rule), in one
header message and one body message. Everything else, and any request with a ``Range`` or a
conditional header, goes to Streamlit's handler as before. If this Streamlit has no such handler
factory or its handler lacks the cache-header rule, nothing is changed; nothing in the installed
package is modified.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: The folder (under Streamlit's static directory) whose files are content-hashed.
HASHED_DIR = "static"
#: Request headers that ask for something other than the whole file: left to Streamlit's handler.
_PASS_HEADERS = frozenset({b"range", b"if-none-match", b"if-modified-since", b"if-range"})

Scope = Mapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Mapping[str, Any]], Any]
Headers = list[tuple[bytes, bytes]]


def load_files(
    directory: Path, cache_headers: Callable[[Any, str], None]
) -> dict[str, tuple[Headers, bytes]]:
    """``{"static/js/x.1234abcd.js": (response headers, content)}`` for every file under
    ``directory/static`` (links followed, as Streamlit's handler does), with the headers
    Streamlit's handler sends for it; ``cache_headers(response, path)`` is that handler's rule."""
    from starlette.responses import FileResponse

    files: dict[str, tuple[Headers, bytes]] = {}
    root = directory / HASHED_DIR
    for folder, _, names in os.walk(root, followlinks=True):
        for name in names:
            full = Path(folder) / name
            rel = full.relative_to(directory).as_posix()
            with full.open("rb") as fh:
                stat = os.fstat(fh.fileno())
                content = fh.read()
            response = FileResponse(full, stat_result=stat)
            cache_headers(response, rel)
            files[rel] = (list(response.raw_headers), content)
    return files


class MemoryStatic:
    """An ASGI app: the files of ``files`` from memory, everything else by ``stock``."""

    def __init__(self, stock: Any, files: dict[str, tuple[Headers, bytes]]) -> None:
        self.stock = stock
        self.files = files

    def _served(self, scope: Scope) -> tuple[Headers, bytes] | None:
        if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD"):
            return None
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith("/") or path.startswith("//"):
            return None
        found = self.files.get(path[1:])
        if found is None or any(k.lower() in _PASS_HEADERS for k, _ in scope.get("headers", ())):
            return None
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._served(scope)
        if found is None:
            await self.stock(scope, receive, send)
            return
        headers, content = found
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else content
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def __getattr__(self, name: str) -> Any:  # the rest of the stock handler's interface
        return getattr(self.stock, name)


def wrap(make_handler: Callable[..., Any]) -> Callable[..., Any]:
    """``make_handler(directory, base_url)`` (Streamlit's factory) returning a :class:`MemoryStatic`
    in front of its handler; the stock handler alone if it lacks the cache-header rule or the
    files cannot be read."""

    def make(directory: str, base_url: str | None) -> Any:
        stock = make_handler(directory, base_url)
        cache_headers = getattr(stock, "_apply_cache_headers", None)
        if not callable(cache_headers):
            return stock
        try:
            files = load_files(Path(directory), cache_headers)
        except (OSError, ValueError, TypeError, AttributeError):
            return stock
        return MemoryStatic(stock, files)

    make._fyerstrade_memory = True  # type: ignore[attr-defined]
    return make


def install() -> bool:
    """Wrap Streamlit's static handler factory (before the server starts); False, and nothing
    changed, when this Streamlit does not have it."""
    try:
        from streamlit.web.server.starlette import starlette_static_routes as routes
    except ImportError:
        return False
    factory = getattr(routes, "create_streamlit_static_handler", None)
    if not callable(factory):
        return False
    if not getattr(factory, "_fyerstrade_memory", False):
        routes.create_streamlit_static_handler = wrap(factory)
    return True
