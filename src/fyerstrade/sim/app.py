"""The simulator's aiohttp application: routes, the middleware that applies rate limits and
faults, and the ``/_sim/`` control plane.

Route map (paths as the official SDK builds them from ``Config.API`` = ``<base>/api/v3`` and
``Config.DATA_API`` = ``<base>/data``; the symbol master as Fyers' public host serves it):

=======================================  ==================================================
``GET  /api/v3/generate-authcode``       302 to ``redirect_uri`` with ``auth_code``
``POST /api/v3/validate-authcode``       access token (JWT)
``GET  /api/v3/profile``                 account
``POST /api/v3/logout``                  revokes the token
``/api/v3/orders…``, ``/positions`` …    orders, trades, positions, funds (:mod:`.orders`)
``GET  /trade/v3``                       the order WebSocket (:mod:`.ordersocket`)
``GET  /data/history``                   candles (:mod:`fyerstrade.sim.history`)
``GET  /data/quotes``                    quotes
``POST /data/symbol-token``              symbol → fytoken, for the SDK's data socket
``GET  /sym_details/<SEG>.csv|…json``    symbol masters, index name map (:mod:`.master`)
``GET  /_sim/stats``                     counters (:class:`~fyerstrade.sim.stats.SimStats`; order
                                         counters under ``orders``)
``POST /_sim/faults``                    switch faults (:class:`~fyerstrade.sim.faults.Faults`)
``POST /_sim/reset``                     clear counters, faults and rate-limit windows
=======================================  ==================================================

The middleware rate-limits every ``/api/v3`` and ``/data`` path except order requests (place,
modify, cancel, exit), which have the exchange's own order window.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ValidationError

from fyerstrade.sim import auth, history, master
from fyerstrade.sim.auth import QUOTE_AUTH_FAILED, STATE_KEY, require_token
from fyerstrade.sim.datasocket import add_data_socket_routes
from fyerstrade.sim.exchange import exchange_for
from fyerstrade.sim.limits import retry_after_header
from fyerstrade.sim.orders import add_order_routes, is_order_request
from fyerstrade.sim.ordersocket import add_order_socket_routes
from fyerstrade.sim.state import SimState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RATE_LIMITED_PREFIXES = ("/api/v3/", "/data/")
BROWSER_PATHS = frozenset({"/api/v3/generate-authcode"})  # a browser page, not an API call
CLOUDFLARE_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
)
RATE_LIMITED = {"s": "error", "code": -429, "message": "request limit reached"}
MAX_SYMBOL_TOKENS = 500
HISTORY_PATH = "/data/history"


def _is_json(resp: web.StreamResponse) -> bool:
    return isinstance(resp, web.Response) and resp.content_type == "application/json"


@web.middleware
async def _faults_and_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_sim/"):
        return await handler(request)
    state = request.app[STATE_KEY]
    state.stats.count_request(request.path)
    if state.faults.take("http_5xx") or (
        request.path == HISTORY_PATH and state.faults.take("history_5xx")
    ):
        return web.Response(status=502, text=CLOUDFLARE_502, content_type="text/html")
    limited = (
        request.path.startswith(RATE_LIMITED_PREFIXES)
        and request.path not in BROWSER_PATHS
        and not is_order_request(request.method, request.path)
    )
    if limited:
        wait = state.limiter.admit()
        if wait > 0:
            state.stats.count_rejection()
            headers = {
                "Retry-After": retry_after_header(wait),
                "X-Retry-After-Ms": str(max(1, round(wait * 1000))),
            }
            return web.json_response(RATE_LIMITED, status=429, headers=headers)
    if state.faults.slow > 0:
        await asyncio.sleep(state.faults.slow)
    try:
        resp = await handler(request)
    except web.HTTPException as exc:  # answer it as a plain response so body faults apply
        headers = {k: v for k, v in exc.headers.items() if k.lower() != "content-length"}
        resp = web.Response(status=exc.status, body=exc.body, headers=headers)
    if _is_json(resp) and isinstance(resp, web.Response) and resp.body is not None:
        body = bytes(resp.body)  # type: ignore[arg-type]
        if state.faults.take("malformed_body"):
            resp.body = b'{"s": ok, "candles": [[1, 2,, ]]}'
        elif state.faults.take("truncated_body"):
            resp.body = body[: len(body) // 2]
    return resp


async def _history(request: web.Request) -> web.Response:
    require_token(request)
    status, body = history.history(request.app[STATE_KEY], request.query)
    return web.json_response(body, status=status)


async def _quotes(request: web.Request) -> web.Response:
    require_token(request, QUOTE_AUTH_FAILED)
    status, body = history.quotes(request.app[STATE_KEY], request.query)
    return web.json_response(body, status=status)


async def _symbol_token(request: web.Request) -> web.Response:
    """The SDK's data socket sends the bare JWT (no app id) and ``{"symbols": [...]}``."""
    require_token(request, QUOTE_AUTH_FAILED, with_app_id=False)
    state = request.app[STATE_KEY]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    symbols = body.get("symbols") if isinstance(body, dict) else None
    if not isinstance(symbols, list) or not symbols:
        message = "symbols is required: a list of up to 500 symbols"
        return web.json_response({"s": "error", "code": -300, "message": message}, status=400)
    if len(symbols) > MAX_SYMBOL_TOKENS:
        message = f"at most {MAX_SYMBOL_TOKENS} symbols per request"
        return web.json_response({"s": "error", "code": -300, "message": message}, status=400)
    valid: dict[str, str] = {}
    invalid: list[str] = []
    for symbol in symbols:
        inst = state.instrument(str(symbol))
        if inst is None:
            invalid.append(str(symbol))
        else:
            valid[inst.symbol] = inst.fytoken
    return web.json_response(
        {"s": "ok", "code": 200, "message": "", "validSymbol": valid, "invalidSymbol": invalid}
    )


async def _symbol_master(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    name = request.match_info["name"]
    universe = state.universe()
    if name == master.INDEX_MAP_FILE:
        data, content_type = master.index_map(), "application/json"
    elif name.endswith(".csv") and name[:-4] in master.SEGMENTS:
        data, content_type = master.csv_master(universe, name[:-4]), "text/csv"
    elif name.endswith("_sym_master.json") and name[:-16] in master.SEGMENTS:
        data, content_type = master.json_master(universe, name[:-16]), "application/json"
    else:
        raise web.HTTPNotFound(text=f"no such file: {name}")
    if not state.faults.symbol_master_break:
        return web.Response(body=data, content_type=content_type)
    # Promise the whole file, deliver half, and hang up: what a dropped download looks like.
    resp = web.StreamResponse(headers={"Content-Type": content_type})
    resp.content_length = len(data)
    await resp.prepare(request)
    await resp.write(data[: len(data) // 2])
    if request.transport is not None:
        request.transport.close()
    return resp


async def _control_stats(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return web.json_response(
        {**state.stats.snapshot(), "orders": exchange_for(state).counters.snapshot()}
    )


async def _control_faults(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object of fault switches")
        state.faults.set(**body)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, ValidationError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else "invalid fault switches"
        return web.json_response({"s": "error", "message": message}, status=400)
    return web.json_response(state.faults.snapshot())


async def _control_reset(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.stats.reset()
    state.faults.reset()
    state.limiter.reset()
    exchange_for(state).counters.reset()
    return web.json_response({"s": "ok"})


def build_app(state: SimState) -> web.Application:
    """The simulator's application over ``state``."""
    app = web.Application(middlewares=[_faults_and_limits])
    app[STATE_KEY] = state
    auth.add_routes(app)
    app.router.add_get(HISTORY_PATH, _history)
    app.router.add_get("/data/quotes", _quotes)
    app.router.add_post("/data/symbol-token", _symbol_token)
    app.router.add_get("/sym_details/{name}", _symbol_master)
    app.router.add_get("/_sim/stats", _control_stats)
    app.router.add_post("/_sim/faults", _control_faults)
    app.router.add_post("/_sim/reset", _control_reset)
    add_data_socket_routes(app)  # /hsm/v1-5/prod, /_sim/clock, /_sim/datasocket
    add_order_routes(app)  # orders, positions, trades, funds, holdings, /_sim/orders
    add_order_socket_routes(app)  # /trade/v3, /_sim/ordersocket
    return app
