"""Rates of every charge a retail Fyers client pays on NSE, kept as data with effective dates.

One ``RateRow`` per (cost segment, charge component, side, effective date). The cost model
(``trading/costs.py``) picks, for each component, the latest row whose ``effective_from`` is on or
before the trade's IST date, so a 2024 backtest pays 2024 rates and a change of law is one new
row here, never a new ``if`` in the model.

Source: ``reference/nse-market.md`` §5 (compiled 2026-11-21). Rows marked UNVERIFIED rest on a
single secondary source; the first row of a component is effective from ``EARLIEST``, meaning
"the oldest rate we know, extended backwards" (history before it is not modelled).

A row charges ``min(value * rate + flat, cap)`` for one executed order, where ``value`` is
price × quantity (the premium for options). ``side=None`` means both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from fyerstrade.domain import Side


class CostSegment(StrEnum):
    """The segments whose charges differ: derived from instrument kind and product type."""

    EQUITY_INTRADAY = "EQUITY_INTRADAY"
    EQUITY_DELIVERY = "EQUITY_DELIVERY"
    FUTURES = "FUTURES"
    OPTIONS = "OPTIONS"  # every value-based rate applies to the premium


class Component(StrEnum):
    """One line of a contract note (GST is derived from the others, not a row)."""

    BROKERAGE = "brokerage"
    STT = "stt"
    EXCHANGE = "exchange"  # NSE transaction charge
    IPFT = "ipft"  # NSE Investor Protection Fund Trust levy
    SEBI = "sebi"  # SEBI turnover fee
    STAMP = "stamp"
    EXERCISE_STT = "exercise_stt"  # STT on the intrinsic value of an exercised long option
    DP = "dp"  # depository charge: flat, once per ISIN per IST day on delivery sells


@dataclass(frozen=True, slots=True)
class RateRow:
    """One rate in force from ``effective_from`` (IST date) until the next row for the same key."""

    segment: CostSegment
    component: Component
    effective_from: date
    rate: float = 0.0  # fraction of traded value (0.0003 = 0.03%)
    flat: float = 0.0  # rupees per executed order (per ISIN-day for DP)
    cap: float | None = None  # "₹20 or x%, whichever is lower"
    side: Side | None = None  # None: both sides

    def amount(self, value: float) -> float:
        """The charge on one order of ``value`` rupees."""
        charge = value * self.rate + self.flat
        return charge if self.cap is None or charge < self.cap else self.cap


EARLIEST = date(2000, 1, 1)
"""Effective date of the oldest known rate of each component (extended backwards)."""

TRUE_TO_LABEL = date(2024, 10, 1)
"""SEBI "True to Label": flat NSE charges; Fyers delivery brokerage; Budget-2024 STT."""

FY2023 = date(2023, 4, 1)
"""Finance Act 2023 STT step on F&O (date UNVERIFIED) and NSE IPFT at ₹10/₹50 per crore."""

BUDGET_2026 = date(2026, 4, 1)
"""Budget-2026 F&O STT (Finance Act 2026 text not seen: partly UNVERIFIED)."""

CRORE = 10_000_000.0

_EQ_I = CostSegment.EQUITY_INTRADAY
_EQ_D = CostSegment.EQUITY_DELIVERY
_FUT = CostSegment.FUTURES
_OPT = CostSegment.OPTIONS
_BUY = Side.BUY
_SELL = Side.SELL
_B = Component.BROKERAGE

FYERS_NSE_RATES: tuple[RateRow, ...] = (
    # §5.1 Fyers brokerage, per executed order.
    RateRow(_EQ_I, _B, EARLIEST, rate=0.0003, cap=20.0),
    RateRow(_EQ_D, _B, EARLIEST),  # ₹0 delivery brokerage before "True to Label"
    RateRow(_EQ_D, _B, TRUE_TO_LABEL, rate=0.003, cap=20.0),
    RateRow(_FUT, _B, EARLIEST, rate=0.0003, cap=20.0),
    RateRow(_OPT, _B, EARLIEST, flat=20.0),
    # §5.2 STT. Delivery both sides; intraday and F&O on the sell side only.
    RateRow(_EQ_D, Component.STT, EARLIEST, rate=0.001),
    RateRow(_EQ_I, Component.STT, EARLIEST, rate=0.00025, side=_SELL),
    RateRow(_FUT, Component.STT, EARLIEST, rate=0.0001, side=_SELL),
    RateRow(_FUT, Component.STT, FY2023, rate=0.000125, side=_SELL),
    RateRow(_FUT, Component.STT, TRUE_TO_LABEL, rate=0.0002, side=_SELL),
    RateRow(_FUT, Component.STT, BUDGET_2026, rate=0.0005, side=_SELL),
    RateRow(_OPT, Component.STT, EARLIEST, rate=0.0005, side=_SELL),
    RateRow(_OPT, Component.STT, FY2023, rate=0.000625, side=_SELL),
    RateRow(_OPT, Component.STT, TRUE_TO_LABEL, rate=0.001, side=_SELL),
    RateRow(_OPT, Component.STT, BUDGET_2026, rate=0.0015, side=_SELL),
    # Exercised (in-the-money, held to expiry) long options: on intrinsic value, paid by the buyer.
    RateRow(_OPT, Component.EXERCISE_STT, EARLIEST, rate=0.00125, side=_BUY),
    RateRow(_OPT, Component.EXERCISE_STT, BUDGET_2026, rate=0.0015, side=_BUY),
    # §5.3 NSE transaction charges, each side. Before 2024-10-01 NSE used volume slabs; the
    # EARLIEST rows are the top-slab figures of the reference and are UNVERIFIED.
    RateRow(_EQ_I, Component.EXCHANGE, EARLIEST, rate=0.0000322),
    RateRow(_EQ_I, Component.EXCHANGE, TRUE_TO_LABEL, rate=0.0000297),
    RateRow(_EQ_D, Component.EXCHANGE, EARLIEST, rate=0.0000322),
    RateRow(_EQ_D, Component.EXCHANGE, TRUE_TO_LABEL, rate=0.0000297),
    RateRow(_FUT, Component.EXCHANGE, EARLIEST, rate=0.0000188),
    RateRow(_FUT, Component.EXCHANGE, TRUE_TO_LABEL, rate=0.0000173),
    RateRow(_OPT, Component.EXCHANGE, EARLIEST, rate=0.000495),
    RateRow(_OPT, Component.EXCHANGE, TRUE_TO_LABEL, rate=0.0003503),
    # §5.3 IPFT, each side: ₹0.01/crore before 2023-04-01, then ₹10/cr (cash, futures) and
    # ₹50/cr of premium (options).
    RateRow(_EQ_I, Component.IPFT, EARLIEST, rate=0.01 / CRORE),
    RateRow(_EQ_I, Component.IPFT, FY2023, rate=10 / CRORE),
    RateRow(_EQ_D, Component.IPFT, EARLIEST, rate=0.01 / CRORE),
    RateRow(_EQ_D, Component.IPFT, FY2023, rate=10 / CRORE),
    RateRow(_FUT, Component.IPFT, EARLIEST, rate=0.01 / CRORE),
    RateRow(_FUT, Component.IPFT, FY2023, rate=10 / CRORE),
    RateRow(_OPT, Component.IPFT, EARLIEST, rate=0.01 / CRORE),
    RateRow(_OPT, Component.IPFT, FY2023, rate=50 / CRORE),
    # §5.4 SEBI turnover fee ₹10/crore, each side, every segment.
    RateRow(_EQ_I, Component.SEBI, EARLIEST, rate=10 / CRORE),
    RateRow(_EQ_D, Component.SEBI, EARLIEST, rate=10 / CRORE),
    RateRow(_FUT, Component.SEBI, EARLIEST, rate=10 / CRORE),
    RateRow(_OPT, Component.SEBI, EARLIEST, rate=10 / CRORE),
    # §5.4 Stamp duty, buy side only: uniform national rates since 2020-07-01 (date UNVERIFIED;
    # the state-wise rates before it are not modelled, so these rows start at EARLIEST).
    RateRow(_EQ_D, Component.STAMP, EARLIEST, rate=0.00015, side=_BUY),
    RateRow(_EQ_I, Component.STAMP, EARLIEST, rate=0.00003, side=_BUY),
    RateRow(_FUT, Component.STAMP, EARLIEST, rate=0.00002, side=_BUY),
    RateRow(_OPT, Component.STAMP, EARLIEST, rate=0.00003, side=_BUY),
    # §5.4 DP charge, delivery sells: ₹12.5 (+ GST) once per ISIN per IST day (Fyers, Jun 2025).
    # Fyers charged ₹3.5 + GST per transaction from 2024-10-01; when the per-ISIN model started
    # is UNVERIFIED, so the current figure is applied to every date.
    RateRow(_EQ_D, Component.DP, EARLIEST, flat=12.5, side=_SELL),
)
"""The default rate table (NSE, retail Fyers client)."""

GST_RATE = 0.18
"""GST on brokerage and exchange charges (and on the DP and admin square-off fees)."""

ADMIN_SQUARE_OFF_FEE = 50.0
"""Fyers' fee per executed auto square-off order (from 15:15 IST), before GST (§2.4)."""
