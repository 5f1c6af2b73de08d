"""The Streamlit entry script: ``streamlit run app.py`` (``fyerstrade dashboard`` does it).

Five pages under ``st.navigation``: Backtest (the default), Runs, Optimize, Data and Paper
trading, each inside :func:`~fyerstrade.dashboard.guard.guarded` (a damaged store is one
message, not a traceback). The data directory comes from ``FYERSTRADE_DATA_DIR`` in the
environment, set by the launcher.
A page's module is imported when the page is first shown, so the first page does not pay for
the others (the Data page's plotting, the Paper page's live readers).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from fyerstrade.dashboard.guard import guarded
from fyerstrade.dashboard.login import logged_in, login_form
from fyerstrade.dashboard.store_reads import dashboard_settings


def _backtest() -> None:
    from fyerstrade.dashboard.pages import backtest

    backtest.render_page()


def _runs() -> None:
    from fyerstrade.dashboard.pages import runs

    runs.render_page()


def _data() -> None:
    from fyerstrade.dashboard.pages import data

    data.render_page()


def _optimize() -> None:
    from fyerstrade.dashboard.pages import optimize

    optimize.render_page()


def _paper() -> None:
    from fyerstrade.dashboard.pages import paper

    paper.render_page()


def _login() -> None:
    login_form(dashboard_settings())


FAVICON = Path(__file__).with_name("static") / "favicon.png"


def main() -> None:
    """Configure the page and run the selected one."""
    # the favicon is a file of ours: a ":material/…:" page icon is fetched from a font host,
    # which fails offline (the sidebar's icons come with Streamlit's own bundled font)
    st.set_page_config(page_title="fyerstrade", page_icon=str(FAVICON), layout="wide")
    pages = [
        st.Page(
            guarded(_backtest),
            title="Backtest",
            icon=":material/science:",
            url_path="backtest",
            default=True,
        ),
        st.Page(guarded(_runs), title="Runs", icon=":material/history:", url_path="runs"),
        st.Page(guarded(_optimize), title="Optimize", icon=":material/tune:", url_path="optimize"),
        st.Page(guarded(_data), title="Data", icon=":material/database:", url_path="data"),
        st.Page(
            guarded(_paper), title="Paper trading", icon=":material/monitoring:", url_path="paper"
        ),
    ]
    if not logged_in(dashboard_settings()):
        # A configured password and a session not logged in: every page's address shows the
        # login form (and nothing else); after the login the same address shows its page.
        pages = [
            st.Page(_login, title="Log in", url_path=page.url_path, default=i == 0)
            for i, page in enumerate(pages)
        ]
        st.navigation(pages, position="hidden").run()
        return
    st.navigation(pages).run()


if __name__ == "__main__":  # `streamlit run app.py` (tests); the launcher serves served/app.py
    main()
