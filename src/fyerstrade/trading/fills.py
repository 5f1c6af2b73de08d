"""The bar fill model: at what price an order fills inside a bar, if at all.

Rules (the README's "Backtest assumptions" quote them; ``tests/trading/test_fills*.py`` hold
them as candle tables):

* MARKET: at the open of the first bar after the one it was placed on, plus slippage against
  the trader (buy higher, sell lower).
* LIMIT (buy at L / sell at L): if the bar opens at or better than L it fills at the open (a gap
  through the limit gives the better price); otherwise it fills at L when the bar's range
  reaches L (low ≤ L for a buy, high ≥ L for a sell). No slippage: a limit never fills worse.
* STOP (buy at S / sell at S): if the bar opens through S (open ≥ S for a buy, ≤ S for a sell)
  it fills at the open; otherwise at S when the range reaches it. Plus slippage.
* STOP_LIMIT: the stop triggers as above; once triggered it is a limit order at L, which may
  fill in the triggering bar (at the trigger price S, or the gap open, if that is no worse than
  L) or in a later bar by the limit rule.
* Within one bar: market orders first (they fill at the open), then stops, then limits, so when
  a bar could have hit both a stop and a target the stop is assumed to have come first.

Slippage: ``ticks × tick_size + price × bps / 10 000`` against the trader; the result is rounded
to the instrument's tick size.
"""

from __future__ import annotations

from dataclasses import dataclass

from fyerstrade.domain import Order, Side, round_to_tick
from fyerstrade.trading.enum_members import BUY, LIMIT, MARKET, SIGN, STOP, STOP_LIMIT

# order processing priority inside one bar: market, then stops, then limits
PRIORITY = {
    MARKET: 0,
    STOP: 1,
    STOP_LIMIT: 1,
    LIMIT: 2,
}


@dataclass(frozen=True, slots=True)
class Slippage:
    """Adverse price move applied to market and stop fills."""

    ticks: float = 0.0
    bps: float = 0.0

    def apply(self, price: float, side: Side, tick_size: float) -> float:
        if self.ticks == 0.0 and self.bps == 0.0:
            return price
        move = self.ticks * tick_size + price * self.bps / 10_000.0
        return round_to_tick(price + move * SIGN[side], tick_size)


def _limit_price(order: Order, open_: float, high: float, low: float) -> float | None:
    limit = order.limit_price
    assert limit is not None
    if order.side is BUY:
        if open_ <= limit:
            return open_
        return limit if low <= limit else None
    if open_ >= limit:
        return open_
    return limit if high >= limit else None


def _stop_trigger(order: Order, open_: float, high: float, low: float) -> float | None:
    """The price at which the stop triggers in this bar, or None."""
    stop = order.stop_price
    assert stop is not None
    if order.side is BUY:
        if open_ >= stop:
            return open_
        return stop if high >= stop else None
    if open_ <= stop:
        return open_
    return stop if low <= stop else None


def fill_price(
    order: Order,
    open_: float,
    high: float,
    low: float,
    tick_size: float,
    slippage: Slippage,
) -> float | None:
    """The fill price of ``order`` in a bar (open, high, low), or None if it does not fill.

    Sets ``order.triggered`` when a stop-limit's stop is hit but its limit is not reached."""
    kind = order.order_type
    if kind is MARKET:
        return slippage.apply(open_, order.side, tick_size)
    if kind is LIMIT:
        return _limit_price(order, open_, high, low)
    if kind is STOP:
        trigger = _stop_trigger(order, open_, high, low)
        return None if trigger is None else slippage.apply(trigger, order.side, tick_size)
    # STOP_LIMIT
    if not order.triggered:
        trigger = _stop_trigger(order, open_, high, low)
        if trigger is None:
            return None
        order.triggered = True
        # from the trigger on, a limit order whose bar opens at the trigger price
        return _limit_price(order, trigger, high, low)
    return _limit_price(order, open_, high, low)
