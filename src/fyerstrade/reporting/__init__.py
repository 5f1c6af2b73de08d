"""Reporting shared by the CLI and the dashboard: performance metrics (``metrics``), plotly
figures (``charts``) and the self-contained HTML backtest report (``html``)."""
