""":class:`SimServer`: the simulator in a background thread, for tests, the demo and the CLI.

::

    server = SimServer(SimConfig(port=0, seed=7))
    base = server.start()          # "http://127.0.0.1:54321"
    ...                            # point FYERSTRADE_FYERS_URL at base
    server.stats.requests, server.faults.set(http_5xx=1)
    server.exchange.counters.order_requests, server.exchange.net_positions()
    server.stop()
"""

from __future__ import annotations

import asyncio
import socket
import threading
from datetime import date

from aiohttp import web

from fyerstrade.calendar import NSECalendar
from fyerstrade.errors import ConfigError
from fyerstrade.sim.app import build_app
from fyerstrade.sim.config import SimConfig
from fyerstrade.sim.exchange import Exchange, exchange_for
from fyerstrade.sim.faults import Faults
from fyerstrade.sim.state import SimState
from fyerstrade.sim.stats import SimStats
from fyerstrade.sim.universe import Universe

START_TIMEOUT = 15.0
STOP_TIMEOUT = 30.0


async def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """What the server's shutdown left behind, finished before the loop closes: the connection
    handlers it cancelled still need to run to their end, and a closed transport closes its socket
    on the next loop turn. A loop closed earlier leaves pending tasks and open sockets for the
    garbage collector (ResourceWarning: unclosed transport, in whatever runs next)."""
    current = asyncio.current_task(loop)
    tasks = [t for t in asyncio.all_tasks(loop) if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for _ in range(3):  # transports' connection_lost callbacks, scheduled with call_soon
        await asyncio.sleep(0)
    await loop.shutdown_asyncgens()


class SimServer:
    """A Fyers-compatible HTTP server on its own event loop thread."""

    def __init__(self, config: SimConfig | None = None, cal: NSECalendar | None = None) -> None:
        self.config = config or SimConfig()
        self.state = SimState(self.config, cal)
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def stats(self) -> SimStats:
        return self.state.stats

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def exchange(self) -> Exchange:
        """The simulated account, its orders and counters (:mod:`fyerstrade.sim.exchange`)."""
        return exchange_for(self.state)

    @property
    def now(self) -> int:
        """The simulator's clock (epoch seconds)."""
        return self.state.now()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1]) if self.url else 0

    def universe(self, day: date | None = None) -> Universe:
        """The instruments served on ``day`` (default: the sim clock's date)."""
        return self.state.universe(day)

    def start(self) -> str:
        """Start serving; returns the base URL once the port is bound."""
        if self._thread is not None:
            return self.url
        self._thread = threading.Thread(target=self._serve, name="fyers-sim", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT):
            raise ConfigError("the Fyers simulator did not start within 15 s")
        if self._error is not None:
            self._thread = None
            raise ConfigError(
                f"the Fyers simulator could not listen on {self.config.host}:{self.config.port}"
                f" ({self._error}); choose another --port"
            ) from self._error
        return self.url

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except OSError as exc:
            self._error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            try:
                if self._runner is not None:
                    loop.run_until_complete(self._runner.cleanup())
                loop.run_until_complete(_drain(loop))
            finally:
                loop.close()

    async def _bind(self) -> None:
        runner = web.AppRunner(build_app(self.state), access_log=None, handle_signals=False)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=STOP_TIMEOUT)
        self._thread = None
        self._loop = None
        self._started.clear()

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
