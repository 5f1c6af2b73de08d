"""How each indicator of a strategy is drawn: over the price, in its own panel, or not at all.

A strategy declares it in ``Strategy.plots`` (``{"rsi": "panel", "cross": "none"}``). An
indicator it does not list is placed by its values: a -1/0/+1 series (a crossing signal) is not
drawn, one whose values lie far from the price (an RSI on a ₹2,500 stock) gets a panel, the rest
are drawn over the candles. The CLI's HTML report, the Backtest page and the Runs page all ask
:func:`plot_kinds`, so a run's chart looks the same everywhere.

:func:`strategy_indicators` recomputes a saved run's indicators from its strategy and the stored
bars (a run keeps its trades and equity, not its indicator arrays).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from fyerstrade.candles import CandleArrays
    from fyerstrade.config import Settings

__all__ = ["KINDS", "PlotKind", "is_signal", "plot_kinds", "strategy_indicators"]

PlotKind = Literal["overlay", "panel", "none"]
KINDS: tuple[PlotKind, ...] = ("overlay", "panel", "none")
log = logging.getLogger(__name__)


def is_signal(values: npt.ArrayLike) -> bool:
    """Whether a series only holds -1, 0 and +1 (NaN aside): a signal, not a level."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    return finite.size > 0 and bool(np.isin(finite, (-1.0, 0.0, 1.0)).all())


def _off_scale(values: npt.NDArray[np.float64], lo: float, hi: float) -> bool:
    finite = values[np.isfinite(values)]
    if finite.size == 0 or not (np.isfinite(lo) and np.isfinite(hi)):
        return False
    span = max(hi - lo, 1e-6 * abs(hi))
    med = float(np.median(finite))
    return not (lo - 0.5 * span <= med <= hi + 0.5 * span)


def plot_kinds(
    indicators: Mapping[str, npt.ArrayLike],
    declared: Mapping[str, str] | None = None,
    price: tuple[float, float] | None = None,
) -> dict[str, PlotKind]:
    """Each indicator's place: the declared kind, else by its values (module docstring).

    ``price`` is the (low, high) of the candles it would be drawn over. An unknown declared
    kind raises ``ValueError`` naming the indicator and the kinds there are."""
    out: dict[str, PlotKind] = {}
    lo, hi = price if price is not None else (float("nan"), float("nan"))
    for name, series in indicators.items():
        kind = (declared or {}).get(name)
        if kind is not None:
            if kind not in KINDS:
                raise ValueError(
                    f"indicator {name!r} is to be drawn as {kind!r}; use one of {', '.join(KINDS)}"
                )
            out[name] = kind
            continue
        values = np.asarray(series, dtype=np.float64)
        if is_signal(values) or not np.isfinite(values).any():
            out[name] = "none"
        elif _off_scale(values, lo, hi):
            out[name] = "panel"
        else:
            out[name] = "overlay"
    return out


def strategy_indicators(
    settings: Settings | None,
    strategy: str,
    params: Mapping[str, Any],
    bars: Mapping[str, CandleArrays],
) -> tuple[dict[str, dict[str, npt.NDArray[np.float64]]], dict[str, str]]:
    """A saved run's indicators per symbol, recomputed over ``bars``, and its strategy's
    declared ``plots``. A strategy that no longer loads (a user file removed or broken) gives
    no indicators, with a warning in the log."""
    from fyerstrade.errors import FyersTradeError
    from fyerstrade.strategies.registry import get_strategy

    try:
        cls = get_strategy(strategy, settings)
        instance = cls(**params)
        out = {
            s: {k: np.asarray(v, dtype=np.float64) for k, v in instance.indicators(c).items()}
            for s, c in bars.items()
            if len(c)
        }
    except FyersTradeError as exc:
        log.warning("charts without indicators: %s", exc)
        return {}, {}
    except Exception as exc:  # a user strategy's indicators may raise anything
        log.warning("charts without indicators: strategy %s raised %s: %s", strategy,
                    type(exc).__name__, exc)  # fmt: skip
        return {}, {}
    return out, dict(cls.plots)
