"""Our positions against Fyers' (:func:`position_differences`): one readable line per symbol
whose net quantity differs. Pure.

Fyers lists today's positions per symbol and product (``NSE:SBIN-EQ-INTRADAY``); the engine
holds one net quantity per symbol. Products are summed per symbol before comparing, so a
conversion from intraday to delivery is not a difference; a position only one side knows is.
What Fyers shows wins: the caller adopts its quantities and halts trading with these lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fyerstrade.fyers.orders import BrokerPosition

__all__ = ["broker_net", "position_differences"]


def broker_net(positions: Iterable[BrokerPosition]) -> dict[str, int]:
    """Fyers' net quantity per symbol (products summed), open ones only."""
    net: dict[str, int] = {}
    for p in positions:
        net[p.symbol] = net.get(p.symbol, 0) + p.net_qty
    return {s: q for s, q in net.items() if q}


def position_differences(
    ours: Mapping[str, int], theirs: Iterable[BrokerPosition], *, symbols: Iterable[str] = ()
) -> list[str]:
    """Lines like ``NSE:SBIN-EQ: ours +10, Fyers +0``; empty when both agree. ``symbols``
    limits the check to the ones we trade (others on the account are reported too, as
    positions we do not manage)."""
    fyers = broker_net(theirs)
    mine = {s: q for s, q in ours.items() if q}
    watched = set(symbols)
    out = []
    for symbol in sorted(set(mine) | set(fyers)):
        a, b = mine.get(symbol, 0), fyers.get(symbol, 0)
        if a == b:
            continue
        note = "" if not watched or symbol in watched else " (a symbol this setup does not trade)"
        out.append(f"{symbol}: ours {a:+d}, Fyers {b:+d}{note}")
    return out
