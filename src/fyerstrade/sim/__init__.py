"""A Fyers API v3 compatible simulator: REST endpoints the official SDK accepts, symbol masters,
rate limits, switchable faults, and a deterministic synthetic NSE market.

Public API: :class:`SimConfig`, :class:`SimServer` (``start() -> url``, ``stop()``, ``stats``,
``faults``, ``now``), :class:`SimStats`, :class:`Faults`, :class:`SyntheticMarket`.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fyerstrade.sim.config import DEFAULT_APP_ID, DEFAULT_SECRET, SimConfig
    from fyerstrade.sim.faults import Faults
    from fyerstrade.sim.market import SyntheticMarket
    from fyerstrade.sim.server import SimServer
    from fyerstrade.sim.stats import HistoryRequest, SimStats

# Imported lazily (PEP 562) so that `fyerstrade --help` does not pay for aiohttp and numpy.
_EXPORTS = {
    "DEFAULT_APP_ID": "config",
    "DEFAULT_SECRET": "config",
    "SimConfig": "config",
    "Faults": "faults",
    "SyntheticMarket": "market",
    "SimServer": "server",
    "HistoryRequest": "stats",
    "SimStats": "stats",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fyerstrade.sim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"fyerstrade.sim.{module}"), name)


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
