"""Exiting and converting positions: ``DELETE /api/v3/positions`` and ``POST
/api/v3/positions`` over the simulated :class:`~.exchange.Exchange`.

Exit bodies (fyers-api.md §6.7): ``{"exit_all": 1}``, ``{"id": "<symbol>-<product>"}`` or a list
of ids, ``{"segment": [...], "side": [...], "productType": [...]}``, each optionally with
``"pending_orders_cancel": 1`` (cancel the open orders of those positions first; alone, cancel
every open order and exit everything). Each position is closed by a market order (protected like
any other), untagged; code 200 when every exit filled, 201 when some are still working, -352
when there was nothing to exit.

Conversion: intraday equity to delivery (CNC, which needs the full value as margin), intraday
derivatives to carry-forward (MARGIN) and back; CNC positions are not converted.
"""

from __future__ import annotations

from typing import Any

from fyerstrade.sim.account import SimPosition
from fyerstrade.sim.exchange import Exchange
from fyerstrade.sim.matching import indian_amount
from fyerstrade.sim.oms import (
    CANCELLED,
    MARKET,
    PENDING,
    UNTAGGED,
    PlaceRequest,
    Reply,
    error_reply,
    ok_reply,
)
from fyerstrade.sim.universe import Kind


def exit_positions(ex: Exchange, body: dict[str, Any]) -> Reply:
    """``DELETE /positions``: exit all, some ids, or a segment/side/product filter, with
    ``pending_orders_cancel`` cancelling open orders first."""
    with ex.lock:
        now = ex.now()
        wanted = _positions_for(ex, body)
        if isinstance(wanted, Reply):
            return wanted
        if body.get("pending_orders_cancel") == 1:
            symbols = {p.inst.symbol for p in wanted} if "id" in body else None
            for o in ex.orders.values():
                if o.is_open and (symbols is None or o.inst.symbol in symbols):
                    ex.set_status(o, CANCELLED, "Cancelled by exit position")
        if not wanted:
            if body.get("pending_orders_cancel") == 1:
                return ok_reply(200, "Pending orders cancelled.")
            return error_reply(-352, "Looks like you have no open positions.")
        if ex.market.session_bounds(now) is None:
            return error_reply(-99, "RED:Market is closed; positions cannot be exited now")
        exits = []
        for p in wanted:
            req = PlaceRequest(
                inst=p.inst,
                side=-p.side,
                qty=abs(p.net_qty),
                type=MARKET,
                product=p.product,
                validity="DAY",
                limit=0.0,
                stop=0.0,
                disclosed=0,
                offline=False,
                tag=UNTAGGED,
            )
            o = ex.new_order(req, now)
            o.exch_id = f"11{o.seq:014d}"
            o.expires_ts = ex.market.next_session_close(now)
            ex.set_status(o, PENDING, "Confirmed")
            ex.arrive(o, now)
            exits.append(o)
        if any(o.is_open for o in exits):
            return ok_reply(201, "Exit orders placed; some are not filled yet.")
        return ok_reply(200, "The position is closed.")


def _positions_for(ex: Exchange, body: dict[str, Any]) -> list[SimPosition] | Reply:
    open_ = list(ex.account.open_positions())
    if body.get("exit_all") == 1:
        return open_
    if "id" in body:
        ids = body["id"] if isinstance(body["id"], list) else [body["id"]]
        if not all(isinstance(i, str) for i in ids):
            return error_reply(-53, "Invalid position id")
        known = {p.id: p for p in ex.account.positions.values()}
        unknown = [i for i in ids if i not in known]
        if unknown:
            return error_reply(-53, f"Invalid position id: {', '.join(unknown)}")
        return [known[i] for i in ids if known[i].net_qty]
    if {"segment", "side", "productType"} & set(body):
        segments = body.get("segment") or [10, 11]
        sides = body.get("side") or [1, -1]
        products = body.get("productType") or ["CNC", "INTRADAY", "MARGIN"]
        return [
            p
            for p in open_
            if p.inst.segment in segments and p.side in sides and p.product in products
        ]
    if body.get("pending_orders_cancel") == 1:
        return open_
    return error_reply(-50, "Invalid request: give exit_all, id, or segment/side/productType")


def convert_position(ex: Exchange, body: dict[str, Any]) -> Reply:
    """``POST /positions``: move (part of) an open position to another product."""
    with ex.lock:
        key = body.get("symbol")
        to = str(body.get("convertTo"))
        frm = str(body.get("convertFrom"))
        pos = None
        for p in ex.account.positions.values():
            if key in (p.id, p.inst.symbol) and p.product == frm:
                pos = p
        if pos is None or not pos.net_qty:
            return error_reply(-53, "Invalid position id: no open position to convert")
        if body.get("overnight") not in (0, 1):
            return error_reply(-50, "Invalid overnight: 0 or 1 is required")
        if body.get("positionSide") != pos.side:
            return error_reply(-50, "Invalid positionSide: it does not match the position")
        qty = body.get("convertQty")
        if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= abs(pos.net_qty):
            return error_reply(-50, f"Invalid convertQty: 1 to {abs(pos.net_qty)}")
        if qty % max(pos.inst.lot, 1):
            return error_reply(-50, f"Invalid convertQty: not a multiple of {pos.inst.lot}")
        allowed = (
            {("INTRADAY", "CNC")}
            if pos.inst.kind is Kind.EQUITY
            else {("INTRADAY", "MARGIN"), ("MARGIN", "INTRADAY")}
        )
        if (frm, to) not in allowed:
            return error_reply(
                -50, f"Invalid conversion: {frm} to {to} is not allowed for {pos.inst.symbol}"
            )
        target_net = ex.account.net(pos.inst.symbol, to)
        if target_net and (target_net > 0) != (pos.net_qty > 0):
            return error_reply(-50, "Invalid conversion: the target product holds the other side")
        extra = (
            qty * pos.net_avg * (1.0 - 0.2) if to == "CNC" else 0.0
        )  # delivery needs the full value, intraday had a fifth blocked
        available = ex.available()
        if extra > available + 1e-6:
            return error_reply(
                -99,
                f"RED:Margin Shortfall:INR {indian_amount(extra - available)} "
                f"Available:INR {indian_amount(max(available, 0.0))}",
            )
        ex.account.convert(pos, qty, to)
        ex.emit_position(pos)
        ex.emit_position(ex.account.position(pos.inst, to))
        return Reply(
            200,
            {
                "s": "ok",
                "code": 200,
                "message": "Position Converted Successfully!!",
                "positionDetails": 1101,
            },
        )
