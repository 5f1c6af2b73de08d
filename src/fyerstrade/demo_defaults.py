"""The demo's defaults, apart from the demo itself: ``fyerstrade demo --help`` shows them, and
every command's start-up would otherwise import the demo (subprocess, webbrowser, the simulator's
settings) for these two names."""

from __future__ import annotations

#: Five liquid NSE stocks and the NIFTY 50 index.
DEFAULT_UNIVERSE: tuple[str, ...] = (
    "NSE:RELIANCE-EQ",
    "NSE:TCS-EQ",
    "NSE:HDFCBANK-EQ",
    "NSE:INFY-EQ",
    "NSE:SBIN-EQ",
    "NSE:NIFTY50-INDEX",
)
DEFAULT_MONTHS = 6
