"""The dashboard child process's entry point: warm up, then hand over to Streamlit's CLI.

``python -m fyerstrade.dashboard.serve run app.py --server.port ...`` imports the pages and
everything they use (pandas, plotly, the engine, TA-Lib), and builds the NSE calendar, *before*
Streamlit starts listening. Streamlit runs ``app.py`` in this same process, so the first browser
session finds those modules loaded instead of paying several seconds of imports on its first
page; and the launcher's health check only succeeds once the dashboard is ready to answer fast.
"""

from __future__ import annotations

import sys


def warm_up() -> None:
    """Import the pages and build the calendar (the slow first-time work)."""
    from fyerstrade.calendar import get_calendar
    from fyerstrade.dashboard.pages import backtest, data, runs  # noqa: F401

    get_calendar()


def main(argv: list[str]) -> None:
    """Warm up, then run Streamlit's command line with ``argv`` (``run app.py ...``)."""
    warm_up()
    from streamlit.web import cli

    sys.argv = ["streamlit", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
