"""Backtesting: the event-driven runner (``engine``) and the run journal (``journal``)."""
