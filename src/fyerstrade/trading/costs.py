"""Trading costs per executed order: the ``CostModel`` seam, Fyers' NSE charges, and zero costs.

The engine asks a ``CostModel`` for the rupee cost of every fill; backtest, paper and live use the
same model, so their P&L agree. ``FyersCostModel`` reads its rates from a table of dated rows
(``trading/cost_rates.py``), so a trade pays the rates in force on its IST date.

Conventions (the README's "Backtest assumptions" repeats them):

- Each call is one executed order. Brokerage caps ("₹20 or x%, whichever is lower") apply per
  order, so splitting an order into several fills raises brokerage, as at the broker.
- Options: every value-based rate applies to the premium (price × quantity).
- GST (18%) is charged on brokerage + NSE transaction charge: variant (a) of
  ``reference/nse-market.md`` §5.5, which follows Fyers' own description. ``GstBase.ALL_FEES``
  (variant (b)) also puts the SEBI fee and IPFT in the base; what Fyers does is UNVERIFIED, and the
  difference is a few paise.
- The DP charge (₹12.5 + GST, reported with its GST in ``Charges.dp``) is charged on the first
  delivery sell of an ISIN (the symbol if the ISIN is unknown) on each IST date; the model
  remembers what it charged. That memory belongs to one run: the trading engine works on
  ``model.for_run()`` (the same rates, nothing charged yet), so a model reused for several runs
  charges each of them alike.
- Amounts are not rounded to the rupee (contract notes round STT; how Fyers rounds is UNVERIFIED).
- Same-day CNC: Fyers (like every Indian broker's contract note) treats a delivery (CNC) buy and
  sell of the same stock on the same IST day as intraday: the matched quantity pays intraday
  brokerage, STT (sell side only), stamp duty and no DP charge (``nse-market.md`` §5.1). The
  model keeps each day's unmatched CNC buys and sells per stock (first in, first out); an order
  that matches earlier ones is charged intraday for the matched part, and its charges carry a
  credit reversing the delivery charges of the earlier orders' matched part (their intraday
  charges take their place). So a fill's lines can be negative, while a round trip's total is
  exactly what the contract note says. The DP charge of the day is refunded when every delivery
  sell of the stock that day turned out intraday. A split order (partly matched) pays the two
  parts' brokerage separately, each with its own cap.
- Fyers' auto square-off fee (``admin_square_off_charge()``) is not part of any fill's cost; an
  engine that models Fyers squaring off a position (rather than the strategy's own square-off
  before 15:15) adds it explicitly. Likewise ``exercise_stt()`` for options held to expiry.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable

from fyerstrade.domain import (
    DAY_SECONDS,
    IST_OFFSET,
    Instrument,
    InstrumentKind,
    ProductType,
    Segment,
    Side,
)
from fyerstrade.errors import InputError
from fyerstrade.trading.cost_rates import (
    ADMIN_SQUARE_OFF_FEE,
    FYERS_NSE_RATES,
    GST_RATE,
    Component,
    CostSegment,
    RateRow,
)

__all__ = [
    "Charges",
    "CostModel",
    "CostSegment",
    "FyersCostModel",
    "GstBase",
    "ZeroCostModel",
    "cost_segment",
]

_IST_OFFSET = IST_OFFSET
_DAY = DAY_SECONDS
_EPOCH = date(1970, 1, 1)


@runtime_checkable
class CostModel(Protocol):
    """What the trading engine asks for every fill: its total cost in rupees (always ≥ 0)."""

    def fill_costs(
        self,
        instrument: Instrument,
        product: ProductType,
        side: Side,
        quantity: int,
        price: float,
        ts: int,
    ) -> float: ...

    def for_run(self) -> CostModel:
        """The model for one run: the same rates, with no per-run state carried over."""
        ...


@dataclass(frozen=True, slots=True)
class Charges:
    """The charges of one executed order, in rupees, by contract-note line."""

    brokerage: float = 0.0
    stt: float = 0.0
    exchange: float = 0.0  # NSE transaction charge
    ipft: float = 0.0
    sebi: float = 0.0
    stamp: float = 0.0
    gst: float = 0.0  # on brokerage + exchange (+ SEBI + IPFT with GstBase.ALL_FEES)
    dp: float = 0.0  # depository charge including its own GST

    @property
    def total(self) -> float:
        return (
            self.brokerage
            + self.stt
            + self.exchange
            + self.ipft
            + self.sebi
            + self.stamp
            + self.gst
            + self.dp
        )

    def __add__(self, other: Charges) -> Charges:
        """Sum two orders' charges line by line (e.g. a round trip's buy and sell)."""
        return Charges(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: Charges) -> Charges:
        """Line by line difference (a credit reversing charges booked earlier)."""
        return Charges(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def scaled(self, factor: float) -> Charges:
        """Every line times ``factor`` (the part of an order's charges a quantity carries)."""
        return Charges(*(getattr(self, f.name) * factor for f in fields(self)))

    def to_dict(self) -> dict[str, float]:
        """Each line plus ``total``, for journals and reports."""
        out = {f.name: float(getattr(self, f.name)) for f in fields(self)}
        out["total"] = self.total
        return out


class GstBase(StrEnum):
    """Which charges GST is levied on (see the module docstring)."""

    BROKERAGE_AND_EXCHANGE = "brokerage_and_exchange"  # variant (a), the default
    ALL_FEES = "all_fees"  # variant (b): also the SEBI fee and IPFT


def cost_segment(instrument: Instrument, product: ProductType) -> CostSegment:
    """The charge segment of a trade; raises ``InputError`` for what cannot be traded or priced."""
    kind = instrument.kind
    if kind is InstrumentKind.INDEX:
        raise InputError(
            f"{instrument.symbol} is an index and cannot be traded; trade its futures or options"
        )
    expected = Segment.NSE_CM if kind is InstrumentKind.EQUITY else Segment.NSE_FO
    if instrument.segment is not expected:
        raise InputError(
            f"{instrument.symbol}: no charges known for a {kind.value.lower()} in segment "
            f"{instrument.segment.value}; expected {expected.value}"
        )
    if kind is InstrumentKind.EQUITY:
        if product is ProductType.INTRADAY:
            return CostSegment.EQUITY_INTRADAY
        return CostSegment.EQUITY_DELIVERY  # CNC, and MARGIN (carried) equity
    if kind is InstrumentKind.FUTURE:
        return CostSegment.FUTURES
    return CostSegment.OPTIONS


class ZeroCostModel:
    """Costs switched off (``--no-costs``, peer cross-checks): every fill costs nothing."""

    def for_run(self) -> ZeroCostModel:
        return self  # stateless

    def fill_costs(
        self,
        instrument: Instrument,
        product: ProductType,
        side: Side,
        quantity: int,
        price: float,
        ts: int,
    ) -> float:
        return 0.0

    def charges(
        self,
        instrument: Instrument,
        product: ProductType,
        side: Side,
        quantity: int,
        price: float,
        ts: int,
    ) -> Charges:
        """All lines zero, so journals can record a breakdown whichever model ran."""
        return Charges()


_Key = tuple[CostSegment, Component, Side]


@dataclass(slots=True)
class _Lot:
    """The still unmatched part (``open``) of a CNC order charged at delivery rates."""

    side: Side
    quantity: int
    price: float
    charges: Charges  # what the order's delivery part was charged (for ``quantity``)
    open: int = -1

    def __post_init__(self) -> None:
        if self.open < 0:
            self.open = self.quantity


@dataclass(slots=True)
class _CncDay:
    """One stock's CNC orders on one IST day, as far as they are still unmatched."""

    buys: deque[_Lot] = field(default_factory=deque)
    sells: deque[_Lot] = field(default_factory=deque)
    dp_paid: float = 0.0  # the DP charge a delivery sell paid today (refunded if all matched)


class _Timeline:
    """The rows of one (segment, component, side), searchable by IST epoch day."""

    __slots__ = ("days", "rows")

    def __init__(self, rows: list[RateRow]) -> None:
        rows.sort(key=lambda r: r.effective_from)
        self.rows = rows
        self.days = [(r.effective_from - _EPOCH).days for r in rows]

    def at(self, day: int) -> RateRow | None:
        i = bisect_right(self.days, day)
        return self.rows[i - 1] if i else None


class FyersCostModel:
    """Fyers brokerage and every NSE statutory charge, at the rates in force on the trade date.

    ``rates`` defaults to ``cost_rates.FYERS_NSE_RATES``; pass another table to model a rate
    change or another broker. Stateful only for the DP charge (see ``for_run`` and ``reset``).
    """

    def __init__(
        self,
        rates: Iterable[RateRow] = FYERS_NSE_RATES,
        gst_base: GstBase = GstBase.BROKERAGE_AND_EXCHANGE,
        gst_rate: float = GST_RATE,
    ) -> None:
        grouped: dict[_Key, list[RateRow]] = {}
        segments: set[CostSegment] = set()
        for row in rates:
            segments.add(row.segment)
            for side in (row.side,) if row.side is not None else (Side.BUY, Side.SELL):
                grouped.setdefault((row.segment, row.component, side), []).append(row)
        self._timelines = {key: _Timeline(rows) for key, rows in grouped.items()}
        self._segments = frozenset(segments)
        self.gst_base = gst_base
        self.gst_rate = gst_rate
        self._dp_paid: set[tuple[str, int]] = set()
        self._cnc_days: dict[tuple[str, int], _CncDay] = {}

    def reset(self) -> None:
        """Forget which (ISIN, day) pairs already paid the DP charge and the day's unmatched CNC
        orders (start of a new run)."""
        self._dp_paid.clear()
        self._cnc_days.clear()

    def for_run(self) -> FyersCostModel:
        """A model with the same rates that has charged nothing yet: its own DP memory and its
        own book of the day's unmatched CNC orders."""
        fresh = copy.copy(self)
        fresh._dp_paid = set()
        fresh._cnc_days = {}
        return fresh

    def fill_costs(
        self,
        instrument: Instrument,
        product: ProductType,
        side: Side,
        quantity: int,
        price: float,
        ts: int,
    ) -> float:
        return self.charges(instrument, product, side, quantity, price, ts).total

    def charges(
        self,
        instrument: Instrument,
        product: ProductType,
        side: Side,
        quantity: int,
        price: float,
        ts: int,
    ) -> Charges:
        """The charges of one executed order of ``quantity`` at ``price`` at epoch second ``ts``.

        Records the DP charge as paid for the order's ISIN and IST date when it applies.
        """
        if quantity <= 0:
            raise InputError(
                f"{instrument.symbol}: order quantity must be positive, got {quantity}"
            )
        if price < 0:
            raise InputError(f"{instrument.symbol}: price must not be negative, got {price}")
        segment = cost_segment(instrument, product)
        if segment not in self._segments:
            raise InputError(
                f"{instrument.symbol}: the cost rate table has no rates for {segment.value}; "
                "add its rows to the table"
            )
        day = (ts + _IST_OFFSET) // _DAY
        if product is ProductType.CNC and segment is CostSegment.EQUITY_DELIVERY:
            return self._cnc(instrument, side, quantity, price, day)
        return self._order(instrument, segment, side, quantity, price, day)

    def _cnc(
        self, instrument: Instrument, side: Side, quantity: int, price: float, day: int
    ) -> Charges:
        """A CNC order: intraday for what matches the day's earlier opposite CNC orders (with a
        credit reversing their delivery charges on that part), delivery for the rest."""
        if CostSegment.EQUITY_INTRADAY not in self._segments:
            return self._order(instrument, CostSegment.EQUITY_DELIVERY, side, quantity, price, day)
        key = (instrument.isin or instrument.symbol, day)
        book = self._cnc_days.get(key)
        if book is None:
            book = self._cnc_days[key] = _CncDay()
        opposite = book.sells if side is Side.BUY else book.buys
        out = Charges()
        matched = 0
        while opposite and matched < quantity:
            lot = opposite[0]
            m = min(lot.open, quantity - matched)
            booked = lot.charges.scaled(m / lot.quantity)
            booked = replace(booked, dp=0.0)  # the DP charge is refunded per day, below
            intraday = self._order(instrument, CostSegment.EQUITY_INTRADAY, lot.side, m,
                                   lot.price, day)  # fmt: skip
            out = out + intraday - booked
            lot.open -= m
            matched += m
            if lot.open == 0:
                opposite.popleft()
        if matched:
            out = out + self._order(
                instrument, CostSegment.EQUITY_INTRADAY, side, matched, price, day
            )
        rest = quantity - matched
        if rest:
            delivery = self._order(instrument, CostSegment.EQUITY_DELIVERY, side, rest, price, day)
            lot = _Lot(side, rest, price, delivery)
            (book.buys if side is Side.BUY else book.sells).append(lot)
            out = out + delivery
            if delivery.dp > 0:
                book.dp_paid = delivery.dp
        if side is Side.BUY and matched and not book.sells and book.dp_paid:
            # every delivery sell of the day matched a buy: nothing was delivered, no DP charge
            out = out - Charges(dp=book.dp_paid)
            self._dp_paid.discard(key)
            book.dp_paid = 0.0
        return out

    def _order(
        self,
        instrument: Instrument,
        segment: CostSegment,
        side: Side,
        quantity: int,
        price: float,
        day: int,
    ) -> Charges:
        """The charges of one order in ``segment`` (records the DP charge as paid)."""
        value = price * quantity

        def line(component: Component) -> float:
            row = self._row(segment, component, side, day)
            return 0.0 if row is None else row.amount(value)

        brokerage = line(Component.BROKERAGE)
        exchange = line(Component.EXCHANGE)
        ipft = line(Component.IPFT)
        sebi = line(Component.SEBI)
        gst_base = brokerage + exchange
        if self.gst_base is GstBase.ALL_FEES:
            gst_base += ipft + sebi
        dp = 0.0
        dp_row = self._row(segment, Component.DP, side, day)
        if dp_row is not None:
            key = (instrument.isin or instrument.symbol, day)
            if key not in self._dp_paid:
                self._dp_paid.add(key)
                dp = dp_row.amount(value) * (1.0 + self.gst_rate)
        return Charges(
            brokerage=brokerage,
            stt=line(Component.STT),
            exchange=exchange,
            ipft=ipft,
            sebi=sebi,
            stamp=line(Component.STAMP),
            gst=gst_base * self.gst_rate,
            dp=dp,
        )

    def exercise_stt(self, intrinsic_value: float, ts: int) -> float:
        """STT on a long option exercised at expiry: a rate on its intrinsic value in rupees
        ((settlement − strike) × quantity for calls, (strike − settlement) × quantity for puts).

        Not part of any fill: an engine that holds options to expiry adds it at settlement.
        """
        if intrinsic_value <= 0:
            return 0.0
        day = (ts + _IST_OFFSET) // _DAY
        row = self._row(CostSegment.OPTIONS, Component.EXERCISE_STT, Side.BUY, day)
        return 0.0 if row is None else row.amount(intrinsic_value)

    def admin_square_off_charge(self) -> float:
        """Fyers' fee for one order of its auto square-off (₹50 + GST); not applied by default."""
        return ADMIN_SQUARE_OFF_FEE * (1.0 + self.gst_rate)

    def _row(
        self, segment: CostSegment, component: Component, side: Side, day: int
    ) -> RateRow | None:
        timeline = self._timelines.get((segment, component, side))
        if timeline is None:
            return None  # not charged on this side in this segment
        row = timeline.at(day)
        if row is None:
            first = timeline.rows[0].effective_from.isoformat()
            raise InputError(
                f"no {component.value} rate for {segment.value} {side.value.lower()}s before "
                f"{first}; extend the cost rate table back to the trade date"
            )
        return row
