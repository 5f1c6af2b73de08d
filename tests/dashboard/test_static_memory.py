"""Streamlit's content-hashed static files answered from memory (dashboard/static_memory.py):
the same answers as Streamlit's own handler, read once, and stock behaviour for the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import HTTPException
from streamlit import file_util
from streamlit.web.server.starlette import starlette_static_routes as routes

from fyerstrade.dashboard import static_memory
from fyerstrade.dashboard.static_memory import MemoryStatic, wrap

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def _ask(handler: Any, path: str, method: str = "GET", headers: tuple[Any, ...] = ()) -> Answer:
    """One request through an ASGI app: (status, sorted headers, body)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "headers": [(b"host", b"x"), *headers],
        "server": ("127.0.0.1", 80),
    }  # fmt: skip
    out: list[dict[str, Any]] = []

    async def main() -> None:
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if asked:  # the response is listening for a disconnect that never comes
                await asyncio.Event().wait()
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            out.append(message)

        await handler(scope, receive, send)

    asyncio.run(main())
    body = b"".join(m.get("body", b"") for m in out[1:])
    return out[0]["status"], sorted(out[0]["headers"]), body


def _hashed(static_dir: Path) -> list[str]:
    js = sorted((static_dir / "static" / "js").glob("*.js"), key=lambda p: p.stat().st_size)
    css = sorted((static_dir / "static" / "css").glob("*.css"))
    media = sorted((static_dir / "static" / "media").glob("*.woff2"))
    picked = [js[0], js[-1], css[0], media[0]]
    return ["/" + p.relative_to(static_dir).as_posix() for p in picked]


def test_the_same_answers_as_streamlits_handler() -> None:
    static_dir = Path(file_util.get_static_dir())
    stock = routes.create_streamlit_static_handler(str(static_dir), None)
    memory = wrap(routes.create_streamlit_static_handler)(str(static_dir), None)
    assert isinstance(memory, MemoryStatic)
    paths = _hashed(static_dir)
    for path in paths:
        assert path[1:] in memory.files
        for method in ("GET", "HEAD"):
            answer = _ask(memory, path, method)
            assert answer == _ask(stock, path, method)
            assert answer[0] == 200
            assert any(k == b"cache-control" and b"immutable" in v for k, v in answer[1])
    # the rest is Streamlit's: the page shell, the SPA fallback, bad and partial requests
    others = [
        ("/", ()), ("/nope", ()), ("/static/js/", ()), ("/" + paths[0], ()),
        (paths[1], ((b"range", b"bytes=0-9"),)), (paths[1], ((b"if-none-match", b'"x"'),)),
    ]  # fmt: skip
    for path, headers in others:
        assert _ask(memory, path, headers=headers) == _ask(stock, path, headers=headers)
    assert _ask(memory, paths[1], headers=((b"range", b"bytes=0-9"),))[0] == 206


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<html></html>")
    (tmp_path / "static" / "js" / "a.1234abcd.js").write_text("export const a = 1;")
    return tmp_path


def test_read_once_and_answered_from_memory(tmp_path: Path) -> None:
    static_dir = _tree(tmp_path)
    memory = wrap(routes.create_streamlit_static_handler)(str(static_dir), None)
    assert set(memory.files) == {"static/js/a.1234abcd.js"}
    (static_dir / "static" / "js" / "a.1234abcd.js").write_text("export const a = 2;")
    status, headers, body = _ask(memory, "/static/js/a.1234abcd.js")
    assert (status, body) == (200, b"export const a = 1;")
    assert (b"content-length", b"19") in headers
    # Streamlit's handler reads the disk: the same request through it sees the new file
    assert _ask(memory.stock, "/static/js/a.1234abcd.js")[2] == b"export const a = 2;"
    with pytest.raises(HTTPException) as refused:  # not ours: Streamlit's handler refuses it
        _ask(memory, "/static/js/a.1234abcd.js", "POST")
    assert refused.value.status_code == 405


def test_stock_handler_when_the_shape_is_unknown(tmp_path: Path) -> None:
    static_dir = _tree(tmp_path)

    def no_cache_rule(directory: str, base_url: str | None) -> object:
        return object()  # a handler without Streamlit's cache-header rule

    handler = wrap(no_cache_rule)(str(static_dir), None)
    assert not isinstance(handler, MemoryStatic)
    (static_dir / "static" / "js" / "gone.1234abcd.js").symlink_to(tmp_path / "missing")
    handler = wrap(routes.create_streamlit_static_handler)(str(static_dir), None)
    assert not isinstance(handler, MemoryStatic)  # unreadable file: nothing from memory
    assert _ask(handler, "/static/js/a.1234abcd.js")[2] == b"export const a = 1;"


def test_install_wraps_streamlits_factory_once(monkeypatch: pytest.MonkeyPatch) -> None:
    original = routes.create_streamlit_static_handler
    monkeypatch.setattr(routes, "create_streamlit_static_handler", original)
    assert static_memory.install()
    wrapped = routes.create_streamlit_static_handler
    assert wrapped is not original
    assert static_memory.install()
    assert routes.create_streamlit_static_handler is wrapped
    monkeypatch.delattr(routes, "create_streamlit_static_handler")
    assert not static_memory.install()
