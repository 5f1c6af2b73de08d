"""The page shell with the first page's widget chunks preloaded (dashboard/static_preload.py):
read from the installed bundle, stock files whenever the shape is not the known one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit
from streamlit import file_util

from fyerstrade.config import Settings
from fyerstrade.dashboard import static_preload
from fyerstrade.dashboard.static_preload import (
    FIRST_PAGE_WIDGETS,
    patched_index,
    prepare,
    widget_chunks,
)
from plugins.dashboard import page_app

INDEX = """<!DOCTYPE html>
<html lang="en">
  <head>
    <script type="module" crossorigin src="./static/js/index.AAA.js"></script>
    <link rel="modulepreload" crossorigin href="./static/js/react.BBB.js">
    <link rel="stylesheet" crossorigin href="./static/css/index.CCC.css">
  </head>
  <body><div id="root"></div></body>
</html>
"""
FILES = ["./Table.T1.js", "./react.BBB.js", "./Selectbox.S1.js", "./menu.M1.js", "./Button.B1.js",
         "./menu.css", "./Radio.R1.js"]  # fmt: skip
BUNDLE = (
    "const __vite__mapDeps=(i,m=__vite__mapDeps,d=(m.f||(m.f=" + json.dumps(FILES) + ")))"
    "=>i.map(i=>d[i]);"
    "a=lazy(()=>H(()=>import(`./Table.T1.js`),__vite__mapDeps([0,1]),import.meta.url)),"
    "b=lazy(()=>H(()=>import(`./Selectbox.S1.js`),__vite__mapDeps([2,1,3,5]),import.meta.url)),"
    "c=lazy(()=>H(()=>import(`./Button.B1.js`),__vite__mapDeps([4,1,3]),import.meta.url)),"
    "d=lazy(()=>H(()=>import(`./Radio.R1.js`),__vite__mapDeps([6]),import.meta.url));"
)


def _static(root: Path, index: str = INDEX, bundle: str = BUNDLE) -> Path:
    js = root / "static" / "js"
    js.mkdir(parents=True)
    (root / "index.html").write_text(index)
    (root / "favicon.png").write_bytes(b"png")
    (js / "index.AAA.js").write_text(bundle)
    for name in FILES:
        (js / name[2:]).write_text("export{};")
    return root


def test_chunks_are_the_widgets_own_and_their_imports_not_already_preloaded(tmp_path: Path) -> None:
    static = _static(tmp_path / "st")
    # react is in the stock list, menu.js is shared (listed once), the stylesheet is left to
    # Streamlit's loader, the order is the widgets' order
    assert widget_chunks(static, ["Selectbox", "Button"]) == ["Selectbox.S1.js", "menu.M1.js",
                                                             "Button.B1.js"]  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        lambda s: (s / "index.html").write_text(INDEX.replace('type="module" ', "")),
        lambda s: (s / "static/js/index.AAA.js").write_text(BUNDLE.replace("m.f||", "m.g||")),
        lambda s: (s / "static/js/index.AAA.js").write_text(BUNDLE.replace("Button.B1", "Knob.B1")),
        lambda s: (s / "static/js/menu.M1.js").unlink(),
        lambda s: (s / "static/js/index.AAA.js").write_text(BUNDLE.replace("[4,1,3]", "[4,1,99]")),
        lambda s: (s / "static/js/index.AAA.js").unlink(),
        lambda s: (s / "index.html").unlink(),
    ],
    ids=[
        "no-entry-script",
        "no-file-table",
        "widget-missing",
        "chunk-missing",
        "bad-index",
        "no-bundle",
        "no-index",
    ],
)
def test_an_unknown_shape_means_stock_files(tmp_path: Path, change: object) -> None:
    static = _static(tmp_path / "st")
    change(static)  # type: ignore[operator]
    assert widget_chunks(static, ["Selectbox", "Button"]) is None
    assert prepare(static, tmp_path / "cache", ["Selectbox", "Button"]) is None


def test_patched_index_adds_the_links_to_the_head_only() -> None:
    html = patched_index(INDEX, ["Selectbox.S1.js", "menu.M1.js"])
    assert html is not None
    head, body = html.split("</head>")
    assert head.index("index.CCC.css") < head.index("Selectbox.S1.js") < head.index("menu.M1.js")
    assert '<link rel="modulepreload" crossorigin href="./static/js/menu.M1.js">' in head
    assert body == INDEX.split("</head>")[1]
    lines = [line for line in html.splitlines(keepends=True) if "S1.js" not in line]
    assert "".join(line for line in lines if "M1.js" not in line) == INDEX
    assert patched_index(INDEX.replace("</head>", ""), ["x.js"]) is None


def test_the_served_folder_is_stock_files_and_the_patched_index(tmp_path: Path) -> None:
    static = _static(tmp_path / "st")
    served = prepare(static, tmp_path / "cache", ["Selectbox", "Button"])
    assert served is not None and served.parent == tmp_path / "cache" / "streamlit-static"
    assert sorted(p.name for p in served.iterdir()) == ["favicon.png", "index.html", "static"]
    assert (served / "static/js/Selectbox.S1.js").read_text() == "export{};"
    assert (served / "favicon.png").read_bytes() == b"png"
    index = (served / "index.html").read_text()
    assert index == patched_index(INDEX, ["Selectbox.S1.js", "menu.M1.js", "Button.B1.js"])
    assert (static / "index.html").read_text() == INDEX  # the installed files are untouched
    # made once, reused; a damaged copy is made again; another widget list is another folder
    assert prepare(static, tmp_path / "cache", ["Selectbox", "Button"]) == served
    (served / "favicon.png").unlink()
    assert prepare(static, tmp_path / "cache", ["Selectbox", "Button"]) == served
    assert (served / "favicon.png").exists()
    (served / "index.html").write_text("old")
    assert prepare(static, tmp_path / "cache", ["Selectbox", "Button"]) == served
    assert (served / "index.html").read_text() == index
    assert prepare(static, tmp_path / "cache", ["Radio"]) not in (None, served)


def test_a_cache_that_cannot_be_written_means_stock_files(tmp_path: Path) -> None:
    static = _static(tmp_path / "st")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache dir should be")
    assert prepare(static, blocker, ["Selectbox"]) is None


def test_the_installed_streamlit_has_the_known_shape() -> None:
    """Fails when a Streamlit upgrade changes the bundle's shape: the dashboard would still work
    (stock files), only its first page would be slower — look at static_preload's patterns."""
    static = Path(file_util.get_static_dir())
    chunks = widget_chunks(static, FIRST_PAGE_WIDGETS)
    assert chunks, f"streamlit {streamlit.__version__}: widget chunks not found"
    for widget in FIRST_PAGE_WIDGETS:
        assert any(re.fullmatch(rf"{widget}\.[\w-]+\.js", c) for c in chunks), widget
    assert all((static / "static" / "js" / c).is_file() for c in chunks)


def test_install_points_streamlit_at_the_served_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    static = _static(tmp_path / "st")
    monkeypatch.setenv("FYERSTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(file_util, "get_static_dir", lambda: str(static))
    monkeypatch.setattr(static_preload, "FIRST_PAGE_WIDGETS", ("Selectbox",))
    served = static_preload.install()
    assert served is not None and file_util.get_static_dir() == str(served)
    assert "Selectbox.S1.js" in (served / "index.html").read_text()
    # an unknown shape leaves Streamlit's own folder in place
    monkeypatch.setattr(file_util, "get_static_dir", lambda: str(tmp_path / "nowhere"))
    assert static_preload.install() is None
    assert file_util.get_static_dir() == str(tmp_path / "nowhere")


def _widget_types(node: object) -> Iterator[str]:
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _widget_types(child)
    elif getattr(node, "type", "") not in ("title", "caption", "markdown"):
        yield str(getattr(node, "type", ""))


def test_the_preloaded_widgets_are_the_first_pass_widgets(candle_store: Settings) -> None:
    """Every widget type the Backtest page's first pass draws is preloaded, and none that it does
    not draw (its chunk would be fetched and compiled for nothing while the page loads)."""
    at = page_app("backtest")
    kinds = {"toggle": "checkbox"}  # a toggle is Checkbox's element, drawn by its module
    drawn = {
        "".join(part.capitalize() for part in kinds.get(t, t).split("_"))
        for t in _widget_types(at._tree)
    }
    assert drawn == set(FIRST_PAGE_WIDGETS)
