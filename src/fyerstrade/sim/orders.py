"""The order, position, trade, funds and holdings endpoints of the simulator, at the paths and
with the methods SDK 3.2.0 uses (real-trading.md A1), over :class:`~.exchange.Exchange`.

=====================================  ===================================================
``POST   /api/v3/orders/sync``         place (``place_order``): 1101 and an ``id``
``PATCH  /api/v3/orders/sync``         modify (``modify_order``): 1102
``DELETE /api/v3/orders/sync``         cancel, body ``{"id"}`` (``cancel_order``): 1103
``DELETE /api/v3/orders/<id>/sync``    cancel, path form (documented, not in the SDK)
``POST|PATCH|DELETE /api/v3/multi-order/sync``  up to 10 of the above: ``data[]`` per item
``GET    /api/v3/orders``              ``orderBook`` (``?id=``, ``?order_tag=1:<tag>``)
``GET    /api/v3/tradebook``           ``tradeBook`` (``?order_tag=``)
``GET    /api/v3/positions``           ``netPositions`` and ``overall``
``DELETE /api/v3/positions``           exit (``exit_all``, ``id``, filters, pending orders)
``POST   /api/v3/positions``           convert a position's product
``GET    /api/v3/funds``               ``fund_limit`` from the account
``GET    /api/v3/holdings``            ``holdings`` (the simulated demat account is empty)
``GET    /_sim/orders``                orders, trades, positions and counters, for tests
``POST   /_sim/orders/reset``          a fresh account (orders, trades, positions, counters)
=====================================  ===================================================

Order requests (place, modify, cancel, each multi-order item, exit) are not counted against the
general 10/s REST window; they have the exchange's own order window (see :mod:`.exchange`).
Faults (:mod:`.faults`): ``order_ack_delay``, ``order_reply_lost``, ``order_reject_now`` and
``orderbook_stale`` act here; ``order_late_reject``/``order_reject_delay`` in the exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from fyerstrade.sim.auth import STATE_KEY, require_token
from fyerstrade.sim.exchange import LATE_REJECT_REASON, Exchange, exchange_for
from fyerstrade.sim.exits import convert_position, exit_positions
from fyerstrade.sim.limits import retry_after_header
from fyerstrade.sim.oms import OrderRequestError, Reply, parse_id, parse_modify, parse_place
from fyerstrade.sim.orderviews import positions_overall, stale_row

T = TypeVar("T")
ORDERS_SYNC = "/api/v3/orders/sync"
MULTI_ORDER = "/api/v3/multi-order/sync"
POSITIONS = "/api/v3/positions"
MAX_MULTI = 10
RATE_BODY = {"s": "error", "code": -429, "message": "request limit reached: orders per second"}


def is_order_request(method: str, path: str) -> bool:
    """Order requests have the order window instead of the general REST window."""
    if method not in ("POST", "PATCH", "DELETE"):
        return False
    if path in (ORDERS_SYNC, MULTI_ORDER):
        return True
    if path == POSITIONS:
        return method == "DELETE"
    return path.startswith("/api/v3/orders/") and path.endswith("/sync")


def _exchange(request: web.Request) -> Exchange:
    ex = exchange_for(request.app[STATE_KEY])
    ex.counters.call(request.method, request.path)
    return ex


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _json(reply: Reply) -> web.Response:
    return web.json_response(reply.body, status=reply.status)


async def _deliver(request: web.Request, reply: Reply) -> web.StreamResponse:
    """Answer an order request, or (faults) answer late, or not at all."""
    faults = request.app[STATE_KEY].faults
    if faults.order_ack_delay > 0:
        await asyncio.sleep(faults.order_ack_delay)
    if faults.take("order_reply_lost"):
        transport = request.transport
        if transport is not None:
            transport.abort()
        return web.Response(status=204)  # written to a dead connection: nobody receives it
    return _json(reply)


def _rate_limited() -> web.Response:
    headers = {"Retry-After": retry_after_header(1.0), "X-Retry-After-Ms": "1000"}
    return web.json_response(RATE_BODY, status=429, headers=headers)


def _place_one(ex: Exchange, body: Any, state_faults: Any) -> Reply:
    try:
        req = parse_place(body, ex.state.instrument)
    except OrderRequestError as exc:
        ex.admit_order_request("place")
        return Reply(exc.status, exc.envelope())
    over_rate = not ex.admit_order_request("place")
    if state_faults.take("order_reject_now"):
        o = ex.place(req, refuse=LATE_REJECT_REASON)
        return Reply(400, {"s": "error", "code": -99, "message": o.message})
    o = ex.place(req, over_rate=over_rate)
    message = f"Order submitted successfully. Your Order Ref. No.{o.id}"
    return Reply(200, {"s": "ok", "code": 1101, "message": message, "id": o.id})


def _change_one(
    ex: Exchange, body: Any, kind: str, parse: Callable[[Any], T], act: Callable[[T], Reply]
) -> Reply | None:
    """A modify or cancel: checked, counted, then done; None when over the order rate."""
    try:
        request = parse(body)
    except OrderRequestError as exc:
        ex.admit_order_request(kind)
        return Reply(exc.status, exc.envelope())
    if not ex.admit_order_request(kind):
        return None
    return act(request)


def _modify_one(ex: Exchange, body: Any) -> Reply | None:
    return _change_one(ex, body, "modify", parse_modify, ex.modify)


def _cancel_one(ex: Exchange, body: Any) -> Reply | None:
    return _change_one(ex, body, "cancel", parse_id, ex.cancel)


async def _place(request: web.Request) -> web.StreamResponse:
    ex = _exchange(request)
    require_token(request)
    reply = _place_one(ex, await _body(request), request.app[STATE_KEY].faults)
    return await _deliver(request, reply)


async def _modify(request: web.Request) -> web.StreamResponse:
    ex = _exchange(request)
    require_token(request)
    reply = _modify_one(ex, await _body(request))
    return _rate_limited() if reply is None else await _deliver(request, reply)


async def _cancel(request: web.Request) -> web.StreamResponse:
    ex = _exchange(request)
    require_token(request)
    if "id" in request.match_info:
        body: Any = {"id": request.match_info["id"]}
    else:
        body = await _body(request)
    reply = _cancel_one(ex, body)
    return _rate_limited() if reply is None else await _deliver(request, reply)


def _item(reply: Reply | None) -> dict[str, Any]:
    if reply is None:
        return {"statusCode": 429, "body": RATE_BODY, "statusDescription": "Too Many Requests"}
    description = "OK" if reply.status == 200 else "Bad Request"
    return {"statusCode": reply.status, "body": reply.body, "statusDescription": description}


async def _multi(request: web.Request) -> web.StreamResponse:
    ex = _exchange(request)
    require_token(request)
    body = await _body(request)
    if not isinstance(body, list) or not body:
        return _json(Reply(400, {"s": "error", "code": -50, "message": "Invalid request: a list"}))
    if len(body) > MAX_MULTI:
        message = f"Invalid request: at most {MAX_MULTI} orders per multi-order request"
        return _json(Reply(400, {"s": "error", "code": -50, "message": message}))
    faults = request.app[STATE_KEY].faults
    items: list[dict[str, Any]] = []
    for entry in body:
        if request.method == "POST":
            items.append(_item(_place_one(ex, entry, faults)))
        elif request.method == "PATCH":
            items.append(_item(_modify_one(ex, entry)))
        else:
            items.append(_item(_cancel_one(ex, entry)))
    answer = Reply(200, {"s": "ok", "code": 200, "message": "", "data": items})
    return await _deliver(request, answer)


async def _orderbook(request: web.Request) -> web.Response:
    ex = _exchange(request)
    require_token(request)
    q = request.query
    rows = ex.order_rows(order_id=q.get("id") or None, tag=q.get("order_tag") or None)
    if request.app[STATE_KEY].faults.take("orderbook_stale"):
        rows = [stale_row(r) for r in rows]
    return web.json_response({"s": "ok", "code": 200, "message": "", "orderBook": rows})


async def _tradebook(request: web.Request) -> web.Response:
    ex = _exchange(request)
    require_token(request)
    rows = ex.trade_rows(tag=request.query.get("order_tag") or None)
    return web.json_response({"s": "ok", "code": 200, "message": "", "tradeBook": rows})


async def _positions(request: web.Request) -> web.Response:
    ex = _exchange(request)
    require_token(request)
    rows = ex.position_rows()
    return web.json_response(
        {
            "s": "ok",
            "code": 200,
            "message": "",
            "netPositions": rows,
            "overall": positions_overall(rows),
        }
    )


async def _exit_positions(request: web.Request) -> web.StreamResponse:
    ex = _exchange(request)
    require_token(request)
    body = await _body(request)
    if not isinstance(body, dict):
        return _json(Reply(400, {"s": "error", "code": -50, "message": "Invalid request body"}))
    if not ex.admit_order_request("exit"):
        return _rate_limited()
    return await _deliver(request, exit_positions(ex, body))


async def _convert(request: web.Request) -> web.Response:
    ex = _exchange(request)
    require_token(request)
    body = await _body(request)
    if not isinstance(body, dict):
        return _json(Reply(400, {"s": "error", "code": -50, "message": "Invalid request body"}))
    return _json(convert_position(ex, body))


async def _funds(request: web.Request) -> web.Response:
    ex = _exchange(request)
    require_token(request)
    rows = ex.fund_rows()
    return web.json_response({"s": "ok", "code": 200, "message": "", "fund_limit": rows})


async def _holdings(request: web.Request) -> web.Response:
    _exchange(request)
    require_token(request)
    overall = {
        "count_total": 0,
        "pnl_perc": 0.0,
        "total_current_value": 0.0,
        "total_investment": 0.0,
        "total_pl": 0.0,
    }
    return web.json_response(
        {"s": "ok", "code": 200, "message": "", "holdings": [], "overall": overall}
    )


async def _control(request: web.Request) -> web.Response:
    ex = exchange_for(request.app[STATE_KEY])
    if request.method == "POST":
        ex.reset()
    return web.json_response(ex.snapshot())


async def _matching_loop(app: web.Application) -> Any:
    """Run the exchange's matching every few milliseconds while the server runs."""
    ex = exchange_for(app[STATE_KEY])
    loop = asyncio.get_running_loop()

    def schedule(delay: float, fn: Any) -> None:
        if delay > 0:
            loop.call_later(delay, fn)
        else:
            loop.call_soon(fn)

    ex.schedule = schedule

    async def run() -> None:
        while True:
            await asyncio.sleep(MATCH_INTERVAL)
            ex.process()

    task = asyncio.create_task(run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


MATCH_INTERVAL = 0.01


def add_order_routes(app: web.Application) -> None:
    """Register the order endpoints and the matching loop on the simulator's application."""
    app.router.add_post(ORDERS_SYNC, _place)
    app.router.add_patch(ORDERS_SYNC, _modify)
    app.router.add_delete(ORDERS_SYNC, _cancel)
    app.router.add_delete("/api/v3/orders/{id}/sync", _cancel)
    app.router.add_post(MULTI_ORDER, _multi)
    app.router.add_patch(MULTI_ORDER, _multi)
    app.router.add_delete(MULTI_ORDER, _multi)
    app.router.add_get("/api/v3/orders", _orderbook)
    app.router.add_get("/api/v3/tradebook", _tradebook)
    app.router.add_get(POSITIONS, _positions)
    app.router.add_delete(POSITIONS, _exit_positions)
    app.router.add_post(POSITIONS, _convert)
    app.router.add_get("/api/v3/funds", _funds)
    app.router.add_get("/api/v3/holdings", _holdings)
    app.router.add_get("/_sim/orders", _control)
    app.router.add_post("/_sim/orders/reset", _control)
    app.cleanup_ctx.append(_matching_loop)
