"""One guard around every dashboard page: a damaged or unusable store is one readable message on
the page (naming the file and ``fyerstrade db check``), never Streamlit's traceback box."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import streamlit as st

from fyerstrade.errors import StoreError
from fyerstrade.store.integrity import describe_database_error, forget_opened, opened_paths


def guarded(render: Callable[[], None]) -> Callable[[], None]:
    """``render`` with store failures shown as ``st.error`` (same words as the CLI's line)."""

    def page() -> None:
        forget_opened()
        try:
            render()
        except StoreError as exc:
            st.error(str(exc))
        except sqlite3.Error as exc:
            st.error(describe_database_error(exc, opened_paths()))

    page.__name__ = getattr(render, "__name__", "page")
    page.__qualname__ = getattr(render, "__qualname__", "page")
    page.__module__ = getattr(render, "__module__", __name__)
    return page
