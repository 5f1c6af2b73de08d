"""Domain types shared by every part of the platform.

Timestamps are integer epoch seconds (UTC instants); they become IST only at the edges.
Prices are floats in rupees; quantities are ints (multiples of the lot size for F&O).
Hot types are slotted dataclasses; enums are ``StrEnum`` so they store and print as text.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from typing import Any, Final, TypeVar

#: IST is UTC+05:30 all year (no DST): (epoch seconds + IST_OFFSET) // DAY_SECONDS is the IST
#: day number. The one definition every module uses.
IST_OFFSET: Final = 19_800
DAY_SECONDS: Final = 86_400


_T = TypeVar("_T")


def slot_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an ``__init__`` that stores each field through its
    slot's own descriptor: the same signature, defaults and frozen result, at half the cost of
    the generated one (which calls ``object.__setattr__`` per field). For the types built once
    per fill or trade on the backtest's hot path. Fields with a default factory are not
    supported (none of these types has one)."""
    params: list[str] = []
    scope: dict[str, Any] = {}
    body: list[str] = []
    for f in fields(cls):  # type: ignore[arg-type]
        if f.default_factory is not MISSING or not f.init:
            raise TypeError(f"slot_init: {cls.__name__}.{f.name} needs the generated __init__")
        if f.default is MISSING:
            params.append(f.name)
        else:
            scope[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        scope[f"_set_{f.name}"] = vars(cls)[f.name].__set__
        body.append(f"    _set_{f.name}(self, {f.name})\n")
    exec(f"def __init__(self, {', '.join(params)}):\n{''.join(body)}", scope)  # noqa: S102
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def fyers_code(self) -> int:
        """Fyers encodes side as 1 (buy) / -1 (sell)."""
        return self.sign


class ProductType(StrEnum):
    INTRADAY = "INTRADAY"
    CNC = "CNC"
    MARGIN = "MARGIN"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"

    @property
    def fyers_code(self) -> int:
        """Fyers order types: 1 limit, 2 market, 3 stop (SL-M), 4 stop-limit (SL-L)."""
        return _FYERS_ORDER_TYPE[self]


_FYERS_ORDER_TYPE = {
    OrderType.LIMIT: 1,
    OrderType.MARKET: 2,
    OrderType.STOP: 3,
    OrderType.STOP_LIMIT: 4,
}


class OrderStatus(StrEnum):
    """Where an order stands; ``trading/order_states.py`` holds the transitions between them."""

    NEW = "NEW"  # created, not yet handed to a broker (refused here: REJECTED)
    SUBMITTED = "SUBMITTED"  # handed to the broker, no answer yet
    PENDING = "PENDING"  # accepted, waiting for a fill (Fyers 6)
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"  # Fyers 2
    CANCELLED = "CANCELLED"  # Fyers 1
    REJECTED = "REJECTED"  # Fyers 5
    EXPIRED = "EXPIRED"  # Fyers 7
    UNKNOWN = "UNKNOWN"  # the broker cannot say whether it reached the exchange

    @property
    def is_open(self) -> bool:
        """May it still fill (or be cancelled)?"""
        return self in OPEN_STATUSES


#: the statuses in which an order may still fill (and may be cancelled)
OPEN_STATUSES: Final = frozenset(
    {OrderStatus.SUBMITTED, OrderStatus.PENDING, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN}
)


class Segment(StrEnum):
    """Exchange segment, as the cost model and symbol master need it."""

    NSE_CM = "NSE_CM"
    NSE_FO = "NSE_FO"


class InstrumentKind(StrEnum):
    EQUITY = "EQUITY"
    INDEX = "INDEX"
    FUTURE = "FUTURE"
    OPTION = "OPTION"


#: the kinds traded in lots with an expiry (F&O)
DERIVATIVES = frozenset({InstrumentKind.FUTURE, InstrumentKind.OPTION})


class OptionType(StrEnum):
    CE = "CE"
    PE = "PE"


class Resolution(StrEnum):
    """The Fyers candle resolutions, one canonical set (minutes, or D for daily)."""

    M1 = "1"
    M2 = "2"
    M3 = "3"
    M5 = "5"
    M10 = "10"
    M15 = "15"
    M20 = "20"
    M30 = "30"
    M60 = "60"
    M120 = "120"
    M240 = "240"
    D = "D"

    @property
    def seconds(self) -> int:
        """Nominal bar duration in seconds (a daily bar counts one calendar day)."""
        return 86_400 if self is Resolution.D else int(self.value) * 60

    @property
    def minutes(self) -> int:
        return self.seconds // 60

    @property
    def is_intraday(self) -> bool:
        return self is not Resolution.D

    @property
    def max_days_per_request(self) -> int:
        """Fyers' history span limit per request: 100 days intraday, 366 daily."""
        return 100 if self.is_intraday else 366

    @classmethod
    def parse(cls, text: str) -> Resolution:
        """Accept "1", "5m", "1D", "D", "day" ...; raise ``ValueError`` naming the valid set."""
        t = text.strip().upper()
        aliases = {"1D": "D", "DAY": "D", "DAILY": "D"}
        t = aliases.get(t, t)
        if t.endswith("M") and t[:-1].isdigit():
            t = t[:-1]
        try:
            return cls(t)
        except ValueError:
            valid = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown resolution {text!r}; use one of {valid}") from None


RESOLUTIONS: tuple[Resolution, ...] = tuple(Resolution)


@dataclass(slots=True, frozen=True)
class Bar:
    """One OHLCV candle, stamped with its open time (epoch seconds)."""

    symbol: str
    resolution: Resolution
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass(slots=True, frozen=True)
class Tick:
    """One market-data update from the feed."""

    symbol: str
    ts: int  # exchange time (epoch seconds)
    ltp: float
    volume: int  # cumulative day volume
    bid: float = 0.0
    ask: float = 0.0
    bid_qty: int = 0
    ask_qty: int = 0
    last_qty: int = 0
    recv_ns: int = 0  # local monotonic receive time, for latency measurement


@dataclass(slots=True, frozen=True)
class Instrument:
    """A tradable (or index) symbol with its contract specification."""

    symbol: str
    name: str = ""
    kind: InstrumentKind = InstrumentKind.EQUITY
    segment: Segment = Segment.NSE_CM
    lot_size: int = 1
    tick_size: float = 0.05
    expiry: int | None = None  # epoch seconds of the expiry-day close
    strike: float | None = None
    option_type: OptionType | None = None
    underlying: str = ""
    isin: str = ""
    fytoken: str = ""

    @property
    def is_derivative(self) -> bool:
        return self.kind in DERIVATIVES


def round_to_tick(price: float, tick_size: float) -> float:
    """Round a price to the nearest multiple of ``tick_size`` (half away from zero)."""
    if tick_size <= 0:
        return price
    steps = price / tick_size
    n = int(steps + 0.5) if steps >= 0 else -int(-steps + 0.5)
    return round(n * tick_size, 10)


@dataclass(slots=True)
class Order:
    """An order from a strategy, as the order manager tracks it."""

    id: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    product: ProductType = ProductType.INTRADAY
    limit_price: float | None = None
    stop_price: float | None = None
    created_ts: int = 0
    status: OrderStatus = OrderStatus.NEW
    filled_quantity: int = 0
    avg_fill_price: float = 0.0
    reject_reason: str = ""  # why it was refused, or cancelled by the broker
    tag: str = ""  # free text: why the strategy placed it ("entry", "target1", "square_off")
    triggered: bool = False  # a stop-limit whose stop has been hit
    broker_id: str = ""  # the broker's order id (Fyers, the simulated venue)
    reduce_only: bool = False  # may only reduce the position (cancelled once it is flat)
    updated_ts: int = 0  # time of the last event

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity


@slot_init
@dataclass(slots=True, frozen=True)
class Fill:
    """An execution of (part of) an order."""

    order_id: str
    symbol: str
    side: Side
    quantity: int
    price: float
    ts: int
    costs: float = 0.0
    product: ProductType = ProductType.INTRADAY
    tag: str = ""


@dataclass(slots=True)
class Position:
    """A net position in one symbol (positive quantity long, negative short)."""

    symbol: str
    quantity: int = 0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    last_price: float = 0.0
    product: ProductType = ProductType.INTRADAY
    opened_ts: int = 0
    costs: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def unrealized_pnl(self) -> float:
        if self.quantity == 0:
            return 0.0
        return (self.last_price - self.avg_price) * self.quantity

    @property
    def market_value(self) -> float:
        return self.last_price * self.quantity


@slot_init
@dataclass(slots=True, frozen=True)
class RoundTrip:
    """A closed trade: an entry and the exit(s) that flattened it (the journal's unit of P&L).

    ``pnl`` is net of ``costs`` (entry and exit charges). ``exit_reason`` is one of
    ``signal``, ``stop``, ``target``, ``square_off``, ``end_of_data``, ``risk``, ``manual``.
    """

    symbol: str
    side: Side  # BUY = long trade, SELL = short trade
    quantity: int
    entry_ts: int
    entry_price: float
    exit_ts: int
    exit_price: float
    pnl: float
    costs: float
    exit_reason: str
    product: ProductType = ProductType.INTRADAY

    @property
    def gross_pnl(self) -> float:
        return self.pnl + self.costs

    @property
    def holding_seconds(self) -> int:
        return self.exit_ts - self.entry_ts
