"""The simulated exchange's matching rules, as pure functions over prices and quantities.

An order meets the market in two ways:

* **on arrival** (after the broker's risk checks accept it) it trades against the last traded
  price (LTP) if it is marketable there: a buy at or above the LTP, a sell at or below. It gets
  the LTP, as a taker crossing a one-price book would;
* **resting**, it trades when a later trade prints at or through its price, and gets its own
  price (the resting order is the maker: the trade that went through it met it first).

Market orders never reach the book as market orders: like Fyers' API under NSE's 2025 rules they
become limits at the LTP plus (buy) or minus (sell) a protection band (MPP), clamped to the
day's price band and rounded to the tick. So a "market" order rests when the market has moved
beyond its band, and can stay unfilled. SL-M (type 3) orders do the same at their trigger; SL-L
(type 4) orders become their limit.

Quantity: each order may take at most ``participation`` of a minute's traded volume in that
minute (rounded down to the lot, at least one lot), so a large order fills in parts across
minutes.

MPP bands, from Fyers' support page (see real-trading.md A9): index futures ₹50 up to ₹10,000
and 0.5 % above; stock futures ₹0.75 up to ₹50 and 1.5 % above; options ₹1.5 up to ₹10, 15 % up
to ₹20 and 10 % above. Fyers publishes no band for cash equities; the simulator assumes 2 %.
"""

from __future__ import annotations

import math

from fyerstrade.sim.universe import Kind

EQUITY_BAND = 0.02
PRICE_BAND = 0.20  # the day's price band: ±20 % of the previous close


def round_tick(price: float, tick: float) -> float:
    """``price`` on the tick grid (nearest), printed cleanly (101.05, not 101.05000000000001)."""
    return round(round(price / tick) * tick, 2)


def on_tick(price: float, tick: float) -> bool:
    """Whether ``price`` is a multiple of ``tick`` (to a hundredth of a paisa)."""
    steps = price / tick
    return abs(steps - round(steps)) < 1e-6


def mpp_band(kind: Kind, ltp: float) -> float:
    """The market-price-protection band, in rupees, for an instrument trading at ``ltp``."""
    if kind is Kind.FUTURE:  # the simulator lists index futures only
        return 50.0 if ltp <= 10_000 else ltp * 0.005
    if kind is Kind.OPTION:
        if ltp <= 10:
            return 1.5
        return ltp * (0.15 if ltp <= 20 else 0.10)
    return ltp * EQUITY_BAND


def price_band(reference: float, tick: float) -> tuple[float, float]:
    """The day's lowest and highest acceptable prices around ``reference`` (previous close)."""
    low = math.ceil(reference * (1 - PRICE_BAND) / tick - 1e-9) * tick
    high = math.floor(reference * (1 + PRICE_BAND) / tick + 1e-9) * tick
    return round(max(low, tick), 2), round(high, 2)


def protection_price(
    side: int, ltp: float, band: float, tick: float, limits: tuple[float, float]
) -> float:
    """The limit a market order (or a triggered SL-M) becomes: ``ltp ± band`` on the tick, away
    from the market (up for a buy, down for a sell), inside the day's price band."""
    low, high = limits
    if side > 0:
        price = math.floor((ltp + band) / tick + 1e-9) * tick
        return round(min(max(price, ltp), high), 2)
    price = math.ceil((ltp - band) / tick - 1e-9) * tick
    return round(max(min(price, ltp), low, tick), 2)


def marketable(side: int, limit: float, price: float) -> bool:
    """Whether an order at ``limit`` trades against a print at ``price``."""
    return price <= limit + 1e-9 if side > 0 else price >= limit - 1e-9


def stop_triggered(side: int, stop: float, price: float) -> bool:
    """Whether a print at ``price`` triggers a stop at ``stop`` (buy stops trigger at or above,
    sell stops at or below)."""
    return price >= stop - 1e-9 if side > 0 else price <= stop + 1e-9


def stop_valid(side: int, stop: float, ltp: float) -> bool:
    """Fyers' rule for a new stop order: a buy stop may not be below the LTP, a sell stop not
    above it (otherwise it would trigger at once)."""
    return stop >= ltp - 1e-9 if side > 0 else stop <= ltp + 1e-9


def minute_cap(minute_volume: int, participation: float, lot: int) -> int:
    """The most one order may fill in a minute that trades ``minute_volume``: ``participation``
    of it, rounded down to whole lots, but at least one lot."""
    lot = max(lot, 1)
    lots = int(minute_volume * participation) // lot
    return max(lots, 1) * lot


def margin_rate(kind: Kind, product: str) -> float:
    """The share of an order's value blocked as margin: delivery (CNC) in full, intraday
    equity at 5x (20 %), futures at about SPAN plus exposure (15 %), bought options in full."""
    if kind is Kind.EQUITY:
        return 1.0 if product == "CNC" else 0.2
    if kind is Kind.FUTURE:
        return 0.15
    return 1.0


def indian_amount(value: float) -> str:
    """Rupees grouped the Indian way, as Fyers' RMS messages print them: 5,25,690.20."""
    sign = "-" if value < 0 else ""
    whole, frac = f"{abs(value):.2f}".split(".")
    if len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        whole = ",".join([*groups, tail])
    return f"{sign}{whole}.{frac}"
