"""Orders and trades as the simulated OMS keeps them (:class:`SimOrder`, :class:`SimTrade`), and
the checks a request must pass before the OMS takes it at all (:func:`parse_place`,
:func:`parse_modify`).

What is refused at once (an error envelope, HTTP 400, no order created) is what Fyers' API layer
checks on the request itself: a missing or mistyped field, an unknown symbol, an order type,
side, product or validity outside the enumerations, a non-positive quantity, prices missing for
the order type, an ``orderTag`` that is not 1-30 letters and digits. Everything that needs the
market or the account (margin, lot size, tick size, price band, market hours, the stop against
the LTP, the order rate) is the broker's risk system and the exchange: the order is acknowledged
(``s: ok``, code 1101, an id) and rejected afterwards (status 5, reason in ``message``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fyerstrade.sim.universe import SimInstrument

# Fyers order status codes (orderbook ``status``, socket ``org_ord_status``).
CANCELLED, FILLED, TRANSIT, REJECTED, PENDING, EXPIRED = 1, 2, 4, 5, 6, 7
OPEN = frozenset({TRANSIT, PENDING})
LIMIT, MARKET, STOP, STOP_LIMIT = 1, 2, 3, 4
PRODUCTS = ("CNC", "INTRADAY", "MARGIN")
UNSUPPORTED_PRODUCTS = ("CO", "BO", "MTF")
VALIDITIES = ("DAY", "IOC")
UNTAGGED = "2:Untagged"
_TAG = re.compile(r"^[A-Za-z0-9]{1,30}$")


@dataclass(frozen=True, slots=True)
class Reply:
    """What an order endpoint answers: HTTP status and the JSON body."""

    status: int
    body: dict[str, Any]


def ok_reply(code: int, message: str, **extra: Any) -> Reply:
    return Reply(200, {"s": "ok", "code": code, "message": message, **extra})


def error_reply(code: int, message: str, status: int = 400) -> Reply:
    return Reply(status, {"s": "error", "code": code, "message": message})


class OrderRequestError(ValueError):
    """A request refused before any order exists: ``code`` and ``message`` of the envelope."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def envelope(self) -> dict[str, Any]:
        return {"s": "error", "code": self.code, "message": self.message}


@dataclass(slots=True)
class SimOrder:
    """One order, from the request to its last state. Times are market epoch seconds."""

    id: str
    id_fyers: str
    inst: SimInstrument
    side: int
    qty: int
    type: int
    product: str
    validity: str
    limit: float
    stop: float
    disclosed: int
    offline: bool
    tag: str  # as the book shows it: "1:<tag>" or "2:Untagged"
    placed_ts: int
    seq: int
    updated_ts: int = 0
    status: int = TRANSIT
    message: str = ""
    filled: int = 0
    avg: float = 0.0
    exch_id: str | None = None
    working: float = 0.0  # the price it rests at in the book (limit or protection)
    triggered: bool = False
    arrived: int | None = None  # when it entered the book (None: not yet, e.g. an AMO)
    expires_ts: int = 0  # end of the session it works in
    minute: int = -1
    minute_filled: int = 0
    history: list[tuple[int, int]] = field(default_factory=list)  # (market ts, status)

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def user_tag(self) -> str:
        return self.tag[2:] if self.tag.startswith("1:") else ""


@dataclass(frozen=True, slots=True)
class SimTrade:
    """One fill of one order."""

    number: str
    order_id: str
    exch_order_id: str
    inst: SimInstrument
    side: int
    qty: int
    price: float
    ts: int
    product: str
    order_type: int
    tag: str


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """A place request that passed the API layer's checks."""

    inst: SimInstrument
    side: int
    qty: int
    type: int
    product: str
    validity: str
    limit: float
    stop: float
    disclosed: int
    offline: bool
    tag: str


def _int(body: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or value is None:
        raise OrderRequestError(-50, f"Invalid {key}: a whole number is required")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise OrderRequestError(-50, f"Invalid {key}: a whole number is required")


def _price(body: Mapping[str, Any], key: str) -> float:
    value = body.get(key, 0)
    if isinstance(value, bool):
        raise OrderRequestError(-50, f"Invalid {key}: a price is required")
    try:
        price = float(value if value is not None else 0)
    except (TypeError, ValueError):
        raise OrderRequestError(-50, f"Invalid {key}: a price is required") from None
    if price < 0 or price != price:
        raise OrderRequestError(-50, f"Invalid {key}: a price cannot be negative")
    return price


def parse_tag(value: Any) -> str:
    """The book's form of a request's ``orderTag`` (``1:<tag>``; ``2:Untagged`` when absent)."""
    if value is None or value == "":
        return UNTAGGED
    if not isinstance(value, str) or not _TAG.match(value) or value.lower() == "untagged":
        raise OrderRequestError(
            -50, "Invalid orderTag: 1 to 30 letters and digits, no spaces or special characters"
        )
    return f"1:{value}"


def parse_place(body: Any, instrument: Any) -> PlaceRequest:
    """Check a place body; ``instrument(symbol)`` resolves a symbol (None if unknown)."""
    if not isinstance(body, Mapping):
        raise OrderRequestError(-50, "Invalid request: the body must be a JSON object")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise OrderRequestError(-50, "Invalid symbol: symbol is required")
    inst: SimInstrument | None = instrument(symbol)
    if inst is None:
        raise OrderRequestError(-300, f"Please provide a valid symbol ({symbol})")
    qty = _int(body, "qty")
    if qty <= 0:
        raise OrderRequestError(-50, "Invalid qty: the quantity must be more than 0")
    type_ = _int(body, "type")
    if type_ not in (LIMIT, MARKET, STOP, STOP_LIMIT):
        raise OrderRequestError(-50, "Invalid type: 1 limit, 2 market, 3 stop, 4 stop-limit")
    side = _int(body, "side")
    if side not in (1, -1):
        raise OrderRequestError(-50, "Invalid side: 1 buy or -1 sell")
    product = body.get("productType")
    if product in UNSUPPORTED_PRODUCTS:
        raise OrderRequestError(
            -50, f"Invalid productType: the simulator does not offer {product} orders"
        )
    if product not in PRODUCTS:
        raise OrderRequestError(-50, "Invalid productType: CNC, INTRADAY or MARGIN")
    validity = body.get("validity", "DAY")
    if validity not in VALIDITIES:
        raise OrderRequestError(-50, "Invalid validity: DAY or IOC")
    limit = _price(body, "limitPrice")
    stop = _price(body, "stopPrice")
    if type_ in (LIMIT, STOP_LIMIT) and limit <= 0:
        raise OrderRequestError(-50, "Invalid limitPrice: a limit order needs a limit price")
    if type_ in (STOP, STOP_LIMIT) and stop <= 0:
        raise OrderRequestError(-50, "Invalid stopPrice: a stop order needs a trigger price")
    if type_ == STOP_LIMIT and (stop > limit if side > 0 else stop < limit):
        which = "at or below" if side > 0 else "at or above"
        raise OrderRequestError(
            -50, f"Invalid stopPrice: a stop-limit's trigger must be {which} its limit"
        )
    if type_ in (MARKET, STOP):
        limit = 0.0
    if type_ in (LIMIT, MARKET):
        stop = 0.0
    disclosed = _int(body, "disclosedQty", 0)
    if disclosed < 0 or disclosed > qty:
        raise OrderRequestError(-50, "Invalid disclosedQty: between 0 and the quantity")
    offline = body.get("offlineOrder", False)
    if isinstance(offline, str) and offline.lower() in ("true", "false"):
        offline = offline.lower() == "true"
    if not isinstance(offline, bool):
        raise OrderRequestError(-50, "Invalid offlineOrder: true or false")
    return PlaceRequest(
        inst=inst,
        side=side,
        qty=qty,
        type=type_,
        product=str(product),
        validity=str(validity),
        limit=limit,
        stop=stop,
        disclosed=disclosed,
        offline=offline,
        tag=parse_tag(body.get("orderTag")),
    )


@dataclass(frozen=True, slots=True)
class ModifyRequest:
    """What a modify asks to change (None: keep)."""

    id: str
    type: int | None
    qty: int | None
    limit: float | None
    stop: float | None


def parse_id(body: Any) -> str:
    if not isinstance(body, Mapping):
        raise OrderRequestError(-50, "Invalid request: the body must be a JSON object")
    order_id = body.get("id")
    if not isinstance(order_id, str) or not order_id:
        raise OrderRequestError(-51, "Invalid order id: id is required (a string)")
    return order_id


def parse_modify(body: Any) -> ModifyRequest:
    order_id = parse_id(body)
    type_ = _int(body, "type") if "type" in body else None
    if type_ is not None and type_ not in (LIMIT, MARKET, STOP, STOP_LIMIT):
        raise OrderRequestError(-50, "Invalid type: 1 limit, 2 market, 3 stop, 4 stop-limit")
    qty = _int(body, "qty") if "qty" in body else None
    if qty is not None and qty <= 0:
        raise OrderRequestError(-50, "Invalid qty: the quantity must be more than 0")
    limit = _price(body, "limitPrice") if "limitPrice" in body else None
    stop = _price(body, "stopPrice") if "stopPrice" in body else None
    return ModifyRequest(order_id, type_, qty, limit, stop)
