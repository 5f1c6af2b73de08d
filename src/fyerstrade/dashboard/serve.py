"""The dashboard child process's entry point: warm up, then hand over to Streamlit's CLI.

``python -m fyerstrade.dashboard.serve run app.py --server.port ...`` imports the pages and
everything they use (pandas, plotly, the engine, TA-Lib), and builds the NSE calendar, *before*
Streamlit starts listening. Streamlit runs ``app.py`` in this same process, so the first browser
session finds those modules loaded instead of paying several seconds of imports on its first
page; and the launcher's health check only succeeds once the dashboard is ready to answer fast.
Streamlit then serves a page shell that has the browser fetch the first page's widget code with
the rest of Streamlit's code (:mod:`fyerstrade.dashboard.static_preload`), answers those files from
memory (:mod:`fyerstrade.dashboard.static_memory`), over connections without Nagle's algorithm
(:mod:`fyerstrade.dashboard.tcp_nodelay`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from fyerstrade.dashboard.launcher import PARENT_PID_ENV

PR_SET_PDEATHSIG = 1
#: Streamlit modules its first browser session imports (private ones: each is skipped if a
#: Streamlit version does not have it).
FIRST_SESSION_MODULES = (
    "streamlit.material_icon_names",
    "streamlit.web.skills",
    "streamlit.runtime.scriptrunner.magic_funcs",
)


def stop_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when the ``fyerstrade dashboard`` or ``demo``
    that started it dies, even by ``kill -9`` (which runs none of its clean-up): a dashboard left
    behind would keep the port and read a simulator that no longer exists. Exits at once if that
    parent is already gone. A no-op where ``prctl`` does not exist (not Linux)."""
    parent = os.environ.get(PARENT_PID_ENV, "")
    if not parent.isdigit() or not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != int(parent):  # it died before the line above took effect
        sys.exit(0)


def warm_up() -> None:
    """Import the pages, build the calendar, and draw one tiny figure of each kind (plotly
    loads its validators on first use, over a second on a busy machine)."""
    import numpy as np

    # st.cache_data warns "No runtime found" when decorating before Streamlit's runtime exists;
    # harmless here (the runtime adopts the caches), so keep it off the user's terminal. Its
    # logger takes Streamlit's level when its module is imported: quieten it after that.
    from streamlit.runtime.caching import cache_data_api

    logging.getLogger(cache_data_api.__name__).setLevel(logging.ERROR)
    # Before a process's first element Streamlit checks once whether it runs in a REPL, through
    # inspect.stack() (a realpath of every loaded module: 0.1-0.2 s in the first browser session's
    # first page). Under ``streamlit run`` the answer is no and the warning it guards is not due.
    from streamlit import delta_generator

    delta_generator._use_warning_has_been_displayed = True
    from fyerstrade.calendar import get_calendar
    from fyerstrade.dashboard.pages import backtest, data, paper, runs  # noqa: F401
    from fyerstrade.domain import Resolution
    from fyerstrade.reporting.charts import (
        comparison_figure,
        drawdown_figure,
        equity_figure,
        price_figure,
    )

    get_calendar()
    ts = np.arange(4, dtype=np.int64) * 60 + 1_700_000_000
    v = np.array([1.0, 2.0, 1.5, 2.5])
    equity_figure(ts, v, initial_capital=1.0)
    drawdown_figure(ts, v - 3.0)
    price_figure("X", ts, v, v + 1, v - 1, v, indicators={"sma": v})
    comparison_figure({"a": (ts, v)})
    data.heatmap_figure({}, Resolution.D)
    _warm_first_session()


def _warm_first_session() -> None:
    """What the first browser session would otherwise import in its first page and its first
    Run (measured: 0.2 s of PIL on the first page, 0.2-0.4 s of the engine, plotly's JSON
    encoder and pyarrow's pandas converter on the first Run, on a machine that the browser is
    keeping busy at the same time), and the first page's one read of the candle store."""
    import io

    import pandas as pd

    # set_page_config's favicon is read through PIL: Streamlit opens its bytes, which has PIL
    # load every common image plugin (a file's name would have it load only PNG's)
    from PIL import ExifTags, Image  # noqa: F401

    from fyerstrade.dashboard.app import FAVICON

    with Image.open(io.BytesIO(FAVICON.read_bytes())) as icon:
        icon.load()
    # Streamlit's own modules a first session imports: st.Page checks each ":material/…:" page
    # icon against the list of icon names (0.09 s of the first page on a busy machine); the rest
    # come with the first connection and the first script run
    _import_if_present(*FIRST_SESSION_MODULES)
    _warm_store_reads()
    # a Run: the engine and the trading core, the journal, the metrics; its results: figures as
    # JSON, tables as Arrow
    from streamlit import dataframe_util

    import fyerstrade.backtest.engine
    import fyerstrade.backtest.journal
    import fyerstrade.reporting.metrics  # noqa: F401
    from fyerstrade.reporting.charts import equity_figure

    ts = pd.Series([1_700_000_000, 1_700_000_060], dtype="int64")
    equity_figure(ts.to_numpy(), ts.to_numpy(dtype="float64")).to_json()
    frame = pd.DataFrame({"time": pd.to_datetime(ts, unit="s"), "pnl": [1.0, -1.0]})
    dataframe_util.convert_pandas_df_to_arrow_bytes(frame)


def _import_if_present(*names: str) -> None:
    import contextlib
    import importlib

    for name in names:
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(name)


def _warm_store_reads() -> None:
    """Fill the cache of the candle store's summary (every symbol and resolution stored, with
    its first and last bar), which the Backtest page reads to draw its form: the first browser
    session then finds it cached, as every later one does. The cache is keyed on the database's
    file stamp, so a store written to after this is read again. Only an existing store is read
    (opening a missing one would create it), and a store that cannot be read is left to the
    page to report."""
    from fyerstrade.dashboard import store_reads

    settings = store_reads.dashboard_settings()
    if not settings.historical_db.is_file():
        return
    try:
        store_reads.series_stats(settings)
    except Exception:  # the page reads it again and shows what is wrong
        logging.getLogger(__name__).debug("candle store not read at start-up", exc_info=True)


def main(argv: list[str]) -> None:
    """Set up logging (the log file of the data's settings), warm up, then run Streamlit's
    command line with ``argv`` (``run app.py ...``)."""
    stop_with_parent()
    from fyerstrade.config import load_settings
    from fyerstrade.logs import setup_logging

    settings = load_settings()
    setup_logging(settings.log_dir, settings.log_level, secrets=settings.secret_values())
    warm_up()
    from fyerstrade.dashboard import static_preload

    static_preload.install()  # the first page's widget code fetched with the page shell
    from fyerstrade.dashboard import static_memory

    static_memory.install()  # Streamlit's content-hashed files answered from memory
    from fyerstrade.dashboard import tcp_nodelay

    tcp_nodelay.install()  # no 40 ms wait for the browser's delayed acknowledgements
    from streamlit.web import cli

    sys.argv = ["streamlit", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
