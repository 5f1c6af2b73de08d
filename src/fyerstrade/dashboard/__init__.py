"""The Streamlit dashboard: ``app.py`` (navigation) and one module per page under ``pages/``.

==================== ==========================================================================
module               holds
==================== ==========================================================================
``app``              the Streamlit entry script: page config and ``st.navigation``
``pages.backtest``   the Backtest page (form generated from a strategy's params, run, results)
``pages.runs``       the Runs page (saved runs, comparison, detail, delete with confirmation)
``pages.data``       the Data page (coverage + heatmap, fetch form, symbol master, login status)
``pages.paper``      the Paper trading page (live config, start/stop, status, positions, trades)
``backtest_form``    the Backtest form's values and validation, free of Streamlit
``results_view``     metric cards, equity/drawdown/price charts, trade table with CSV download
``fetch_panel``      the Data page's fetch form with a live progress bar
``store_reads``      store reads cached per database file version (mtime and size, WAL included)
``paper_reads``      the live engine's tables and status file, read for the Paper trading page
``live_config_form`` the Paper trading page's editor of ``live_config.yaml``
``param_inputs``     a strategy's declared parameters as form inputs (Backtest and Paper trading)
``launcher``         starting ``streamlit run app.py`` as a child process and waiting for it
``serve``            the child's entry point: preload pages and plotly, then Streamlit's CLI
==================== ==========================================================================

Start it with ``fyerstrade dashboard`` (or ``fyerstrade demo``); it reads the data directory of
``FYERSTRADE_DATA_DIR``, which the launcher sets for the child process.
"""
