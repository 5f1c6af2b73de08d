"""Pure translation between our orders and Fyers' order API (fyers-api.md §6, §10;
real-trading.md A2-A5). No I/O: every rule here is tested on recorded payloads in
``tests/fixtures/fyers_orders/``.

Out (:func:`place_payload`): our :class:`~fyerstrade.domain.Order` becomes the body of
``POST /orders/sync``. A market order is sent as a **protected limit** (type 1) at the reference
price plus (buy) or minus (sell) ``band`` percent, rounded away from the market to the tick: the
order can rest unfilled if the market runs past it, but never trades at a price the trader did
not bound (Fyers converts API market orders to such limits itself under NSE's 2025 rules; doing it
here makes the bound ours and visible). Prices are rounded to the tick, quantities must be whole
lots, every order carries an ``orderTag`` (1-30 letters and digits).

In: orderbook rows and the SDK's parsed order-socket messages share camelCase keys;
:func:`parse_order` reads either into a :class:`BrokerOrder` whose :class:`OrderState` is
Fyers' status code normalised (``6`` split into open and partially filled by ``filledQty``;
anything outside 1, 2, 4, 5, 6, 7 is :attr:`OrderState.UNKNOWN`, never terminal). Trades
(:func:`parse_trade`, tradebook or socket), positions and funds likewise. Tags come back as
``1:<tag>``; :func:`strip_tag` gives ours back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fyerstrade.domain import Order, OrderType, ProductType, Side, round_to_tick
from fyerstrade.errors import DataError, InputError

MAX_TAG = 30
_TAG = re.compile(r"^[A-Za-z0-9]{1,30}$")
_TAG_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


# ---------------------------------------------------------------------------------- tags


def is_valid_tag(tag: str) -> bool:
    """What Fyers accepts as ``orderTag``: 1-30 letters and digits, not ``Untagged``."""
    return bool(_TAG.match(tag)) and tag.lower() != "untagged"


def _base36(n: int) -> str:
    if n < 0:
        raise ValueError("a tag number cannot be negative")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _TAG_ALPHABET[r] + out
        if n == 0:
            return out


def make_tag(prefix: str, session: str, seq: int) -> str:
    """A unique tag for the ``seq``-th order of a session: ``prefix`` (letters, e.g. ``ft``),
    the session key (letters and digits, e.g. ``20261203a7``) and ``seq`` in base 36, at most 30
    characters. Raises ``ValueError`` if they do not fit or are not letters and digits."""
    tag = f"{prefix}{session}{_base36(seq)}"
    if not is_valid_tag(tag):
        raise ValueError(f"order tag {tag!r} is not 1-{MAX_TAG} letters and digits")
    return tag


def book_tag(tag: str) -> str:
    """The form the orderbook stores and filters on: ``1:<tag>``."""
    return f"1:{tag}"


def strip_tag(value: Any) -> str:
    """Our tag from the book's ``1:<tag>`` (``""`` for ``2:Untagged``, Fyers' own tags, or
    nothing)."""
    if not isinstance(value, str) or not value:
        return ""
    source, sep, tag = value.partition(":")
    if not sep:
        return value if is_valid_tag(value) else ""
    return tag if source == "1" and is_valid_tag(tag) else ""


# ---------------------------------------------------------------------------------- out

FYERS_TYPE = {OrderType.LIMIT: 1, OrderType.MARKET: 2, OrderType.STOP: 3, OrderType.STOP_LIMIT: 4}
VALIDITIES = ("DAY", "IOC")


def protected_limit(side: Side, reference: float, band_pct: float, tick: float) -> float:
    """The limit a market order is sent as: ``reference`` moved ``band_pct`` percent against
    us, on the tick, rounded away from the market (a buy up, a sell down), never below a tick."""
    if reference <= 0:
        raise InputError(f"no price to protect a market order with (reference {reference})")
    move = reference * band_pct / 100.0
    if side is Side.BUY:
        steps = math.ceil((reference + move) / tick - 1e-9)
    else:
        steps = math.floor((reference - move) / tick + 1e-9)
    return round(max(steps, 1) * tick, 10)


def place_payload(
    order: Order,
    *,
    tag: str,
    tick: float,
    lot: int = 1,
    reference: float | None = None,
    band_pct: float = 0.5,
    validity: str = "DAY",
) -> dict[str, Any]:
    """The ``place_order`` body for ``order``. ``reference`` is the last price seen, needed
    for a market order (sent as a protected limit ``band_pct`` percent away). Raises
    :class:`InputError` for a quantity that is not whole lots, a missing price, a bad tag."""
    if not is_valid_tag(tag):
        raise InputError(f"order tag {tag!r} must be 1-{MAX_TAG} letters and digits")
    if order.quantity <= 0 or order.quantity % max(lot, 1):
        raise InputError(
            f"{order.symbol}: quantity {order.quantity} is not a whole number of lots of {lot}"
        )
    if validity not in VALIDITIES:
        raise InputError(f"validity must be DAY or IOC, got {validity!r}")
    kind = order.order_type
    limit = stop = 0.0
    if kind is OrderType.MARKET:
        if reference is None:
            raise InputError(f"{order.symbol}: a market order needs a reference price")
        limit = protected_limit(order.side, reference, band_pct, tick)
        fyers_type = FYERS_TYPE[OrderType.LIMIT]
    else:
        fyers_type = FYERS_TYPE[kind]
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            if not order.limit_price or order.limit_price <= 0:
                raise InputError(f"{order.symbol}: a {kind.value} order needs a limit price")
            limit = round_to_tick(order.limit_price, tick)
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
            if not order.stop_price or order.stop_price <= 0:
                raise InputError(f"{order.symbol}: a {kind.value} order needs a stop price")
            stop = round_to_tick(order.stop_price, tick)
    return {
        "symbol": order.symbol,
        "qty": int(order.quantity),
        "type": fyers_type,
        "side": order.side.fyers_code,
        "productType": order.product.value,
        "limitPrice": limit,
        "stopPrice": stop,
        "validity": validity,
        "disclosedQty": 0,
        "offlineOrder": False,
        "stopLoss": 0,
        "takeProfit": 0,
        "orderTag": tag,
    }


def modify_payload(
    broker_id: str,
    order_type: OrderType,
    *,
    tick: float,
    quantity: int | None = None,
    limit_price: float | None = None,
    stop_price: float | None = None,
) -> dict[str, Any]:
    """The ``modify_order`` body (``id`` and ``type`` always: the docs mark ``type``
    mandatory)."""
    body: dict[str, Any] = {"id": broker_id, "type": FYERS_TYPE[order_type]}
    if quantity is not None:
        body["qty"] = int(quantity)
    if limit_price is not None:
        body["limitPrice"] = round_to_tick(limit_price, tick)
    if stop_price is not None:
        body["stopPrice"] = round_to_tick(stop_price, tick)
    return body


# ---------------------------------------------------------------------------------- replies


class Outcome(StrEnum):
    """What the reply to an order request proves."""

    ACCEPTED = "ACCEPTED"  # taken, with an id (not yet accepted by the exchange: see the book)
    REFUSED = "REFUSED"  # refused before any order existed (bad request, rate limit, token)
    REJECTED = "REJECTED"  # an order existed and was rejected (code -99 with a reason)
    UNKNOWN = "UNKNOWN"  # no proof either way: find the order by its tag before anything else


@dataclass(frozen=True, slots=True)
class Reply:
    outcome: Outcome
    broker_id: str
    code: int | None
    message: str
    retry_after: float | None = None


SDK_FAILURE = "Bad request"  # the SDK's own message for a failed call (fyers-api.md §3.3)
_TOKEN_CODES = frozenset({-8, -15, -16, -17})


def classify_reply(
    payload: Any, *, http_status: int | None = None, transport_error: str | None = None
) -> Reply:
    """Read the reply to place, modify or cancel (real-trading.md A3): ``s: ok`` with an id is
    ACCEPTED; code 201 (no acknowledgement), the SDK's ``-99 "Bad request"`` (the call failed:
    the order may exist), a non-JSON or 5xx reply, a timeout or a dropped connection are
    UNKNOWN; -99 with a reason is REJECTED; 429, token errors and request errors (-50, -300,
    ...) are REFUSED."""
    if transport_error is not None or not isinstance(payload, Mapping):
        return Reply(Outcome.UNKNOWN, "", None, transport_error or "unreadable reply")
    try:
        code: int | None = int(payload.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        code = None
    message = str(payload.get("message") or "")
    broker_id = str(payload.get("id") or "")
    if http_status == 429 or code in (-429, -353):
        return Reply(Outcome.REFUSED, "", code, message or "rate limited")
    if payload.get("s") == "ok":
        if code == 201 or not broker_id:
            return Reply(Outcome.UNKNOWN, broker_id, code, message or "no acknowledgement")
        return Reply(Outcome.ACCEPTED, broker_id, code, message)
    if (http_status is not None and http_status >= 500) or message == SDK_FAILURE:
        return Reply(Outcome.UNKNOWN, broker_id, code, message)
    if code in _TOKEN_CODES or http_status == 401:
        return Reply(Outcome.REFUSED, "", code, message or "the access token was refused")
    if code == -99:
        return Reply(Outcome.REJECTED, broker_id, code, message)
    if code is None:
        return Reply(Outcome.UNKNOWN, broker_id, code, message or "no code in the reply")
    return Reply(Outcome.REFUSED, broker_id, code, message)


# ---------------------------------------------------------------------------------- in


class OrderState(StrEnum):
    """An order's state at Fyers, normalised."""

    TRANSIT = "TRANSIT"  # 4: taken, not yet confirmed (the most frequent socket frame)
    OPEN = "OPEN"  # 6, nothing filled
    PARTIAL = "PARTIAL"  # 6, part filled
    FILLED = "FILLED"  # 2
    CANCELLED = "CANCELLED"  # 1 (may carry a filled part)
    REJECTED = "REJECTED"  # 5, reason in message
    EXPIRED = "EXPIRED"  # 7 (may carry a filled part)
    UNKNOWN = "UNKNOWN"  # any other code: ask the orderbook again, never treat as final

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_working(self) -> bool:
        """Still able to trade (a kill switch must cancel it)."""
        return self in (OrderState.TRANSIT, OrderState.OPEN, OrderState.PARTIAL)


_TERMINAL = frozenset(
    {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED}
)
_BY_CODE = {
    1: OrderState.CANCELLED,
    2: OrderState.FILLED,
    4: OrderState.TRANSIT,
    5: OrderState.REJECTED,
    7: OrderState.EXPIRED,
}
_TYPES = {1: OrderType.LIMIT, 2: OrderType.MARKET, 3: OrderType.STOP, 4: OrderType.STOP_LIMIT}


def order_state(code: Any, filled: int) -> OrderState:
    """Fyers' ``status`` code as an :class:`OrderState`."""
    try:
        number = int(code)
    except (TypeError, ValueError):
        return OrderState.UNKNOWN
    if number == 6:
        return OrderState.PARTIAL if filled > 0 else OrderState.OPEN
    return _BY_CODE.get(number, OrderState.UNKNOWN)


def fyers_time(text: Any) -> int:
    """Epoch seconds of Fyers' ``DD-Mon-YYYY HH:MM:SS`` IST text (or an epoch number); 0 when
    absent or unreadable."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text)
    if not isinstance(text, str) or not text.strip():
        return 0
    try:  # IST has no daylight saving: a fixed +05:30 is exact
        parsed = datetime.strptime(f"{text.strip()} +0530", "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return 0
    return int(parsed.timestamp())


def _int(d: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = d.get(key, default)
    try:
        return int(float(value)) if value is not None else default
    except (TypeError, ValueError):
        return default


def _float(d: Mapping[str, Any], key: str) -> float:
    value = d.get(key)
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def _side(d: Mapping[str, Any], key: str = "side") -> Side:
    code = _int(d, key)
    if code == 1:
        return Side.BUY
    if code == -1:
        return Side.SELL
    raise DataError(f"Fyers sent side {d.get(key)!r}; expected 1 or -1")


def _product(value: Any) -> ProductType | None:
    try:
        return ProductType(str(value))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """One order as Fyers reports it (orderbook row or order-socket message)."""

    broker_id: str
    tag: str  # ours ("" when untagged or not ours)
    symbol: str
    side: Side
    quantity: int
    filled: int
    avg_price: float
    state: OrderState
    code: int | None  # Fyers' raw status code
    order_type: OrderType | None
    product: ProductType | None
    limit_price: float
    stop_price: float
    message: str
    ts: int  # orderDateTime, epoch seconds (when the order was placed)

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled if self.state.is_working else 0


def parse_order(d: Mapping[str, Any]) -> BrokerOrder:
    """An orderbook row, or the ``orders`` object of an SDK order-socket message."""
    broker_id = d.get("id")
    if not isinstance(broker_id, str | int) or isinstance(broker_id, bool) or broker_id == "":
        raise DataError("Fyers sent an order without an id")
    filled = _int(d, "filledQty")
    code = d.get("status")
    try:
        raw = int(code) if code is not None else None
    except (TypeError, ValueError):
        raw = None
    return BrokerOrder(
        broker_id=str(broker_id),
        tag=strip_tag(d.get("orderTag")),
        symbol=str(d.get("symbol") or ""),
        side=_side(d),
        quantity=_int(d, "qty"),
        filled=filled,
        avg_price=_float(d, "tradedPrice"),
        state=order_state(code, filled),
        code=raw,
        order_type=_TYPES.get(_int(d, "type")),
        product=_product(d.get("productType")),
        limit_price=_float(d, "limitPrice"),
        stop_price=_float(d, "stopPrice"),
        message=str(d.get("message") or ""),
        ts=fyers_time(d.get("orderDateTime")),
    )


def parse_orderbook(payload: Mapping[str, Any]) -> list[BrokerOrder]:
    """The ``orderBook`` of a successful ``orderbook()`` reply."""
    rows = payload.get("orderBook")
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise DataError("Fyers orderbook: 'orderBook' is not a list")
    return [parse_order(r) for r in rows if isinstance(r, Mapping)]


@dataclass(frozen=True, slots=True)
class BrokerTrade:
    """One fill (tradebook row or order-socket ``trades`` message)."""

    trade_id: str
    broker_id: str  # the order's id
    tag: str
    symbol: str
    side: Side
    quantity: int
    price: float
    product: ProductType | None
    ts: int


def parse_trade(d: Mapping[str, Any]) -> BrokerTrade:
    trade_id = d.get("tradeNumber")
    order_id = d.get("orderNumber")
    if not trade_id or not order_id:
        raise DataError("Fyers sent a trade without a trade or order number")
    return BrokerTrade(
        trade_id=str(trade_id),
        broker_id=str(order_id),
        tag=strip_tag(d.get("orderTag")),
        symbol=str(d.get("symbol") or ""),
        side=_side(d),
        quantity=_int(d, "tradedQty"),
        price=_float(d, "tradePrice"),
        product=_product(d.get("productType")),
        ts=fyers_time(d.get("orderDateTime")),
    )


def parse_tradebook(payload: Mapping[str, Any]) -> list[BrokerTrade]:
    rows = payload.get("tradeBook")
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise DataError("Fyers tradebook: 'tradeBook' is not a list")
    return [parse_trade(r) for r in rows if isinstance(r, Mapping)]


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """Today's position in one symbol and product."""

    position_id: str  # "<symbol>-<product>"
    symbol: str
    product: ProductType | None
    net_qty: int
    net_avg: float
    realized: float
    unrealized: float
    buy_qty: int
    sell_qty: int
    ltp: float = 0.0


def parse_position(d: Mapping[str, Any]) -> BrokerPosition:
    return BrokerPosition(
        position_id=str(d.get("id") or ""),
        symbol=str(d.get("symbol") or ""),
        product=_product(d.get("productType")),
        net_qty=_int(d, "netQty"),
        net_avg=_float(d, "netAvg"),
        realized=_float(d, "realized_profit"),
        unrealized=_float(d, "unrealized_profit"),
        buy_qty=_int(d, "buyQty"),
        sell_qty=_int(d, "sellQty"),
        ltp=_float(d, "ltp"),
    )


def parse_positions(payload: Mapping[str, Any]) -> list[BrokerPosition]:
    rows = payload.get("netPositions")
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise DataError("Fyers positions: 'netPositions' is not a list")
    return [parse_position(r) for r in rows if isinstance(r, Mapping)]


@dataclass(frozen=True, slots=True)
class Funds:
    """The equity amounts of ``/funds`` that matter before trading."""

    total: float
    available: float
    utilized: float
    realized: float


def parse_funds(payload: Mapping[str, Any]) -> Funds:
    rows = payload.get("fund_limit")
    if not isinstance(rows, list):
        raise DataError("Fyers funds: 'fund_limit' is missing")
    by_id = {_int(r, "id"): _float(r, "equityAmount") for r in rows if isinstance(r, Mapping)}
    if 10 not in by_id:
        raise DataError("Fyers funds: no 'Available Balance' (id 10)")
    return Funds(
        total=by_id.get(1, 0.0),
        available=by_id[10],
        utilized=by_id.get(2, 0.0),
        realized=by_id.get(4, 0.0),
    )
