"""A Fyers API v3 compatible simulator: REST endpoints the official SDK accepts, symbol masters,
rate limits, switchable faults, and a deterministic synthetic NSE market.

Public API: :class:`SimConfig`, :class:`SimServer` (``start() -> url``, ``stop()``, ``stats``,
``faults``, ``now``), :class:`SimStats`, :class:`Faults`, :class:`SyntheticMarket`.
"""

from fyerstrade.sim.config import DEFAULT_APP_ID, DEFAULT_SECRET, SimConfig
from fyerstrade.sim.faults import Faults
from fyerstrade.sim.market import SyntheticMarket
from fyerstrade.sim.server import SimServer
from fyerstrade.sim.stats import HistoryRequest, SimStats

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_SECRET",
    "Faults",
    "HistoryRequest",
    "SimConfig",
    "SimServer",
    "SimStats",
    "SyntheticMarket",
]
