"""Configuration of a simulator instance (:class:`SimConfig`).

The defaults are the credentials that the demo, the tests and ``fyerstrade sim`` share: app id
``SIM-100`` and secret ``sim-secret``. ``clock`` lets a test pin the simulator's idea of "now"
(which bars are complete, what quotes show, when tokens expire); rate limits always run on the
real monotonic clock, because they protect against real bursts. ``funds``, ``participation``
and ``order_per_second`` shape the simulated account and exchange (:mod:`.exchange`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_APP_ID = "SIM-100"
DEFAULT_SECRET = "sim-secret"  # noqa: S105 (the simulator's public, documented demo secret)
DEFAULT_PORT = 8765
DEFAULT_SEED = 42

Clock = Callable[[], float]


def wall_clock() -> float:
    """The real time, epoch seconds."""
    return time.time()


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything a :class:`~fyerstrade.sim.server.SimServer` needs.

    ``port=0`` picks a free port (the chosen one is in ``SimServer.url``). ``clock=None`` uses the
    wall clock; otherwise it is a callable returning epoch seconds.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    seed: int = DEFAULT_SEED
    app_id: str = DEFAULT_APP_ID
    secret: str = field(default=DEFAULT_SECRET, repr=False)
    per_second: int = 10
    per_minute: int = 200
    clock: Clock | None = None
    fy_id: str = "XS00001"
    display_name: str = "SIM TRADER"
    funds: float = 1_000_000.0  # the account's cash at the start of the day
    participation: float = 0.1  # the share of a minute's volume one order may fill in it
    order_per_second: int = 10  # order requests per second before the exchange rejects

    def now(self) -> int:
        """The simulator's current time, whole epoch seconds."""
        return int((self.clock or wall_clock)())
