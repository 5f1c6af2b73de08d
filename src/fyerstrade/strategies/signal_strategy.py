"""``SignalStrategy``: a strategy written only as ``signals`` runs bar by bar too.

Subclass it, declare ``signal_indicators`` and ``signals`` (``strategies/signals.py``), and the
strategy runs in the event engine and live with exactly the behaviour the vectorized engine gives
it: ``indicators`` computes the signal arrays over the bars (live: over the bars so far, so they
must be causal), ``on_data`` turns the current bar's signals into orders, and ``on_fill`` places
an entry's stop and targets. The fill-rule tables run every case through both engines this way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from fyerstrade.candles import CandleArrays
from fyerstrade.domain import Fill, Side
from fyerstrade.strategies.base import Strategy
from fyerstrade.strategies.signals import IndicatorCache, Target
from fyerstrade.trading.context import Context

_FLAGS = ("entries", "exits", "short_entries", "short_exits")


class SignalStrategy(Strategy):
    """Executes the strategy's own ``signals`` (see the module docstring)."""

    name: ClassVar[str] = ""

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._targets: tuple[Target, ...] = ()
        self._entry_tag = "entry"
        self._entries: dict[str, tuple[str, float]] = {}  # symbol -> (entry order id, stop)

    def indicators(self, bars: CandleArrays) -> Mapping[str, np.ndarray]:
        cls = type(self)
        params = self.param_values
        raw = cls.signals(IndicatorCache(cls, bars).bind(params), params)
        sig = raw.checked(len(bars), f"strategy {cls.name} signals")
        self._targets = sig.targets
        self._entry_tag = sig.entry_tag
        out: dict[str, np.ndarray] = {}
        for name in _FLAGS:
            flags = getattr(sig, name)
            out[name] = np.zeros(len(bars)) if flags is None else flags.astype(np.float64)
        out["stop"] = np.full(len(bars), np.nan) if sig.stop is None else sig.stop
        return out

    def on_data(self, ctx: Context) -> None:
        for symbol in ctx.updated:
            now = {name: ctx.indicator(symbol, name).last != 0.0 for name in _FLAGS}
            q = ctx.qty(symbol)
            side: Side | None = None
            if q > 0:
                if now["exits"]:
                    ctx.close(symbol, tag="signal")
                elif now["short_entries"]:
                    side = Side.SELL
            elif q < 0:
                if now["short_exits"]:
                    ctx.close(symbol, tag="signal")
                elif now["entries"]:
                    side = Side.BUY
            elif now["entries"]:
                side = Side.BUY
            elif now["short_entries"]:
                side = Side.SELL
            if side is None:
                continue
            qty = ctx.size(symbol) + abs(q)
            place = ctx.buy if side is Side.BUY else ctx.sell
            order = place(symbol, qty, tag=self._entry_tag)
            if order.status.is_open:
                self._entries[symbol] = (order.id, float(ctx.indicator(symbol, "stop").last))

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        entry = self._entries.get(fill.symbol)
        if entry is None or entry[0] != fill.order_id:
            return
        del self._entries[fill.symbol]
        symbol, stop = fill.symbol, entry[1]
        q = ctx.qty(symbol)
        if math.isnan(stop) or q == 0:
            return
        held = abs(q)
        risk = fill.price - stop if q > 0 else stop - fill.price
        place = ctx.sell if q > 0 else ctx.buy
        if risk <= 0:
            ctx.close(symbol, tag="stop")
            return
        place(symbol, held, stop=stop, tag="stop", reduce_only=True)
        lot = max(1, ctx.instrument(symbol).lot_size)
        left = held
        last = len(self._targets) - 1
        for k, target in enumerate(self._targets):
            amount = int(held * target.fraction) // lot * lot if k < last else left
            left -= amount
            if amount <= 0:
                continue
            move = target.r_multiple * risk
            level = fill.price + move if q > 0 else fill.price - move
            place(symbol, amount, limit=level, tag=f"target{k + 1}", reduce_only=True)
