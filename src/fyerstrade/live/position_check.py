"""Our positions against Fyers' (:func:`position_differences`): one readable line per symbol
whose net quantity differs. Pure.

Fyers lists today's positions per symbol and product (``NSE:SBIN-EQ-INTRADAY``); the engine
holds one net quantity per symbol. Products are summed per symbol before comparing, so a
conversion from intraday to delivery is not a difference; a position only one side knows is.
What Fyers shows wins: the caller adopts its quantities and halts trading with these lines.

Fyers' positions may lag its trades for a moment (:func:`lagging_symbols`): a symbol where
Fyers shows a net our own fills left only just before the read is behind us, not different;
a net we never held (a fill we do not know) is a difference at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fyerstrade.fyers.orders import BrokerPosition

__all__ = ["broker_net", "lagging_symbols", "position_differences"]


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


def lagging_symbols(
    theirs: Iterable[BrokerPosition],
    left: Mapping[str, Sequence[tuple[int, float]]],
    at: float,
    grace: float,
) -> set[str]:
    """Symbols whose net at Fyers (read at ``at``) is one of ours that a fill replaced less
    than ``grace`` before: ``left`` maps a symbol to (the net a fill left, when)."""
    fyers = broker_net(theirs)
    return {
        symbol
        for symbol, nets in left.items()
        if any(net == fyers.get(symbol, 0) and at - when < grace for net, when in nets)
    }
