"""The Streamlit entry script: ``streamlit run app.py`` (``fyerstrade dashboard`` does it).

Four pages under ``st.navigation``: Backtest (the default), Runs, Data and Paper trading. The
data directory comes from ``FYERSTRADE_DATA_DIR`` in the environment, set by the launcher.
"""

from __future__ import annotations

import streamlit as st

from fyerstrade.dashboard.pages import backtest, data, paper, runs


def main() -> None:
    """Configure the page and run the selected one."""
    st.set_page_config(
        page_title="fyerstrade", page_icon=":material/candlestick_chart:", layout="wide"
    )
    pages = [
        st.Page(
            backtest.render_page,
            title="Backtest",
            icon=":material/science:",
            url_path="backtest",
            default=True,
        ),
        st.Page(runs.render_page, title="Runs", icon=":material/history:", url_path="runs"),
        st.Page(data.render_page, title="Data", icon=":material/database:", url_path="data"),
        st.Page(
            paper.render_page, title="Paper trading", icon=":material/monitoring:", url_path="paper"
        ),
    ]
    st.navigation(pages).run()


main()
