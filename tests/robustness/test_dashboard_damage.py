"""The dashboard shows a damaged store as one message naming the file, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fyerstrade.config import HISTORICAL_DB, TRADING_DB


def _guarded_page(name: str) -> None:
    import importlib

    from fyerstrade.dashboard.guard import guarded

    guarded(importlib.import_module(f"fyerstrade.dashboard.pages.{name}").render_page)()


@pytest.mark.parametrize(("page", "store"), [("runs", TRADING_DB), ("data", HISTORICAL_DB)])
@pytest.mark.parametrize("damage", ["empty", "flipped"])
def test_a_damaged_store_is_one_message_on_the_page(
    robust_store: Path, page: str, store: str, damage: str
) -> None:
    path = robust_store / store
    if damage == "empty":
        path.write_bytes(b"")
    else:
        data = bytearray(path.read_bytes())
        for at in range(4096, len(data), 4096):
            data[at : at + 32] = bytes(b ^ 0xFF for b in data[at : at + 32])
        path.write_bytes(bytes(data))
    before = path.read_bytes()
    at = AppTest.from_function(_guarded_page, args=(page,), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(str(path) in e and ("backup" in e or "db check" in e) for e in errors), errors
    assert path.read_bytes() == before
