"""Orders, trades, positions and funds as Fyers shows them: the REST rows (``orderBook``,
``tradeBook``, ``netPositions``, ``fund_limit``) in camelCase, and the order socket's raw
messages in the snake_case keys that SDK 3.2.0's ``map.json`` renames (fyers-api.md §6.5-6.7,
§10; real-trading.md A5).

The raw socket ``ord_status``/``status_msg`` pairs are the simulator's own (Fyers' internal OMS
codes are not documented; SDK 3.2.0 drops them and keeps ``org_ord_status`` as ``status``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fyerstrade.calendar import IST
from fyerstrade.sim.account import Account, SimPosition
from fyerstrade.sim.oms import (
    CANCELLED,
    EXPIRED,
    FILLED,
    PENDING,
    REJECTED,
    TRANSIT,
    SimOrder,
    SimTrade,
)
from fyerstrade.sim.universe import SimInstrument

_RAW_STATUS = {
    TRANSIT: (20, "New Ack"),
    PENDING: (21, "Confirmed"),
    FILLED: (90, "Traded"),
    CANCELLED: (30, "Cancelled"),
    REJECTED: (16, "Rejected"),
    EXPIRED: (31, "Expired"),
}
SOURCE = "API"

# raw socket key -> REST key, as SDK 3.2.0's map.json renames them (order_mapper, trade_mapper,
# position_mapper): a socket message is the REST row under its raw names.
ORDER_KEYS = {
    "client_id": "clientId", "id": "id", "id_parent": "parentId", "id_exchange": "exchOrdId",
    "id_fyers": "id_fyers", "qty": "qty", "qty_remaining": "remainingQuantity",
    "qty_filled": "filledQty", "price_limit": "limitPrice", "price_stop": "stopPrice",
    "price_traded": "tradedPrice", "ord_type": "type", "fy_token": "fyToken",
    "exchange": "exchange", "segment": "segment", "symbol": "symbol",
    "instrument": "instrument", "oms_msg": "message", "offline_flag": "offlineOrder",
    "time_oms": "orderDateTime", "validity": "orderValidity", "product_type": "productType",
    "tran_side": "side", "org_ord_status": "status", "ord_source": "source",
    "symbol_exch": "ex_sym", "symbol_desc": "description", "ordertag": "orderTag",
    "take_profit": "takeProfit", "stop_loss": "stopLoss", "dis_qty": "disclosedQty",
}  # fmt: skip
TRADE_KEYS = {
    "id_fill": "tradeNumber", "id": "orderNumber", "qty_traded": "tradedQty",
    "price_traded": "tradePrice", "traded_val": "tradeValue", "product_type": "productType",
    "client_id": "clientId", "id_exchange": "exchangeOrderNo", "ord_type": "orderType",
    "tran_side": "side", "symbol": "symbol", "fill_time": "orderDateTime", "fy_token": "fyToken",
    "exchange": "exchange", "segment": "segment", "ordertag": "orderTag",
}  # fmt: skip
POSITION_KEYS = {
    "symbol": "symbol", "id": "id", "buy_avg": "buyAvg", "buy_qty": "buyQty",
    "buy_val": "buyVal", "sell_avg": "sellAvg", "sell_qty": "sellQty", "sell_val": "sellVal",
    "net_avg": "netAvg", "net_qty": "netQty", "tran_side": "side", "qty": "qty",
    "product_type": "productType", "pl_realized": "realized_profit",
    "pl_unrealized": "unrealized_profit", "pl_total": "pl", "rbirefrate": "rbiRefRate",
    "fy_token": "fyToken", "exchange": "exchange", "segment": "segment",
    "day_buy_qty": "dayBuyQty", "day_sell_qty": "daySellQty", "cf_buy_qty": "cfBuyQty",
    "cf_sell_qty": "cfSellQty", "qty_multiplier": "qtyMulti_com",
    "cross_curr_flag": "crossCurrency",
}  # fmt: skip


def _raw(row: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    return {raw: row[rest] for raw, rest in keys.items()}


def ist_text(ts: int) -> str:
    """``20-Nov-2026 10:15:03``: the IST text Fyers puts in ``orderDateTime``."""
    return datetime.fromtimestamp(ts, IST).strftime("%d-%b-%Y %H:%M:%S")


def _exchange_symbol(inst: SimInstrument) -> str:
    return inst.symbol.split(":", 1)[1].removesuffix("-EQ")


def order_row(o: SimOrder, client_id: str) -> dict[str, Any]:
    """One ``orderBook`` entry."""
    inst = o.inst
    return {
        "clientId": client_id,
        "id": o.id,
        "symbol": inst.symbol,
        "exchOrdId": o.exch_id,
        "id_fyers": o.id_fyers,
        "qty": o.qty,
        "remainingQuantity": o.remaining if o.is_open else 0,
        "filledQty": o.filled,
        "status": o.status,
        "slNo": o.seq,
        "message": o.message,
        "segment": inst.segment,
        "limitPrice": o.working if o.type == 2 and o.working else o.limit,
        "stopPrice": o.stop,
        "productType": o.product,
        "type": o.type,
        "side": o.side,
        "disclosedQty": o.disclosed,
        "discloseQty": o.disclosed,
        "dqQtyRem": o.disclosed,
        "orderValidity": o.validity,
        "orderDateTime": ist_text(o.placed_ts),
        "parentId": None,
        "tradedPrice": round(o.avg, 2),
        "source": SOURCE,
        "fyToken": inst.fytoken,
        "offlineOrder": o.offline,
        "pan": "",
        "exchange": 10,
        "instrument": inst.instrument_type,
        "orderTag": o.tag,
        "takeProfit": 0.0,
        "stopLoss": 0.0,
        "ex_sym": _exchange_symbol(inst),
        "description": inst.name,
        "ch": 0.0,
        "chp": 0.0,
        "lp": 0.0,
        "orderNumStatus": f"{o.id}:{o.status}",
    }


#: status codes a lagging orderbook still shows as working: cancelled, filled
_SETTLED = (1, 2)


def stale_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` as a lagging orderbook shows a filled or cancelled order: still open (6), nothing
    filled (fault ``orderbook_stale``); other rows unchanged."""
    if row["status"] not in _SETTLED:
        return row
    return {
        **row,
        "status": 6,
        "filledQty": 0,
        "remainingQuantity": row["qty"],
        "tradedPrice": 0.0,
        "message": "",
        "orderNumStatus": f"{row['id']}:6",
    }


def order_raw(o: SimOrder, client_id: str) -> dict[str, Any]:
    """The raw ``orders`` object of an order-socket message: the row under its raw names, and
    what only the socket carries (the OMS status and times, lot and tick)."""
    ord_status, status_msg = _RAW_STATUS.get(o.status, (0, ""))
    return {
        **_raw(order_row(o, client_id), ORDER_KEYS),
        "time_epoch_oms": o.placed_ts,
        "update_time_epoch_oms": o.updated_ts,
        "time_exch": ist_text(o.updated_ts) if o.exch_id else "01-Jan-1970 05:30:00",
        "ord_status": ord_status,
        "status_msg": status_msg,
        "lot_size": max(o.inst.lot, 1),
        "tick_size": o.inst.tick,
    }


def trade_row(t: SimTrade, client_id: str) -> dict[str, Any]:
    """One ``tradeBook`` entry."""
    return {
        "clientId": client_id,
        "symbol": t.inst.symbol,
        "row": int(t.number),
        "orderDateTime": ist_text(t.ts),
        "orderNumber": t.order_id,
        "tradeNumber": t.number,
        "tradePrice": t.price,
        "tradeValue": round(t.price * t.qty, 2),
        "tradedQty": t.qty,
        "side": t.side,
        "productType": t.product,
        "exchangeOrderNo": t.exch_order_id,
        "segment": t.inst.segment,
        "exchange": 10,
        "fyToken": t.inst.fytoken,
        "orderType": t.order_type,
        "orderTag": t.tag,
    }


def trade_raw(t: SimTrade, client_id: str) -> dict[str, Any]:
    """The raw ``trades`` object of an order-socket message."""
    return _raw(trade_row(t, client_id), TRADE_KEYS)


def _avg(value: float, qty: int) -> float:
    return round(value / qty, 2) if qty else 0.0


def position_row(p: SimPosition, ltp: float) -> dict[str, Any]:
    """One ``netPositions`` entry."""
    unrealized = round(p.unrealized(ltp), 2)
    return {
        "symbol": p.inst.symbol,
        "id": p.id,
        "buyAvg": _avg(p.buy_val, p.buy_qty),
        "buyQty": p.buy_qty,
        "buyVal": round(p.buy_val, 2),
        "sellAvg": _avg(p.sell_val, p.sell_qty),
        "sellQty": p.sell_qty,
        "sellVal": round(p.sell_val, 2),
        "netAvg": round(p.net_avg, 2),
        "netQty": p.net_qty,
        "avgPrice": round(p.net_avg, 2),
        "side": p.side,
        "qty": abs(p.net_qty),
        "productType": p.product,
        "realized_profit": round(p.realized, 2),
        "unrealized_profit": unrealized,
        "pl": round(p.realized + unrealized, 2),
        "ltp": ltp,
        "crossCurrency": "",
        "rbiRefRate": 1.0,
        "qtyMulti_com": 1.0,
        "segment": p.inst.segment,
        "exchange": 10,
        "fyToken": p.inst.fytoken,
        "cfBuyQty": 0,
        "cfSellQty": 0,
        "dayBuyQty": p.buy_qty,
        "daySellQty": p.sell_qty,
        "slNo": 0,
    }


def position_raw(p: SimPosition, ltp: float) -> dict[str, Any]:
    """The raw ``positions`` object of an order-socket message."""
    return _raw(position_row(p, ltp), POSITION_KEYS)


def positions_overall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    realized = sum(float(r["realized_profit"]) for r in rows)
    unrealized = sum(float(r["unrealized_profit"]) for r in rows)
    return {
        "count_total": len(rows),
        "count_open": sum(1 for r in rows if r["netQty"]),
        "pl_total": round(realized + unrealized, 2),
        "pl_realized": round(realized, 2),
        "pl_unrealized": round(unrealized, 2),
    }


def fund_rows(account: Account, used: float, unrealized: float) -> list[dict[str, Any]]:
    """``fund_limit``: Fyers' ten rows, equity amounts from the account."""
    balance = round(account.balance, 2)
    available = round(balance - used + min(0.0, unrealized), 2)
    rows = (
        (1, "Total Balance", balance),
        (2, "Utilized Amount", round(used, 2)),
        (3, "Clear Balance", balance),
        (4, "Realized Profit and Loss", round(account.realized, 2)),
        (5, "Collaterals", 0.0),
        (6, "Fund Transfer", 0.0),
        (7, "Receivables", 0.0),
        (8, "Adhoc Limit", 0.0),
        (9, "Limit at start of the day", round(account.start_funds, 2)),
        (10, "Available Balance", available),
    )
    return [
        {"id": i, "title": title, "equityAmount": amount, "commodityAmount": 0.0}
        for i, title, amount in rows
    ]
