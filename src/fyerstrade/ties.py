"""When two running averages count as equal: within :data:`TIE_RTOL` of each other, relatively.

A running indicator (TA-Lib's SMA: add the newest value, subtract the oldest) carries the
rounding of every bar before it, so its value at a bar differs in the last bits with how much
history precedes it: a live session warmed up on its last few hundred stored bars and a backtest
from the first stored candle disagree there. On tick-grid prices two averages are often *exactly*
equal (3 and 8 bars of SBIN both averaging 1045.50), and that noise decided whether the bar was a
cross: the live engine bought a minute before the backtest of the same bars. Averages closer
than ``TIE_RTOL`` × the larger magnitude are a tie, which the crossing rules treat as documented
(a tie on the current bar is never a cross), whatever history came before.

The noise: a running total's error grows with the bars behind it, about 1e-16 relative per bar
at worst, so 1e-13 to 1e-10 after a million bars; the tolerance is well above it. What it
swallows: two averages genuinely closer than a millionth of a paisa on a 1,000-rupee price, a
difference no order could act on (on a 0.05 tick they differ by 0.05 / (m × n) or more).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TIE_RTOL = 1e-9


def compare(a: float, b: float) -> int:
    """-1, 0 or 1 as ``a`` is below, level with (within :data:`TIE_RTOL`) or above ``b``;
    0 also when either is NaN (callers check NaN themselves: it is never a cross)."""
    d = a - b
    tol = TIE_RTOL * max(abs(a), abs(b))
    if d > tol:
        return 1
    if d < -tol:
        return -1
    return 0


def sides(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Where ``a`` is above ``b``, where below (by :func:`compare`: both False for a tie and
    where the difference is NaN), and where the difference is a number."""
    with np.errstate(invalid="ignore"):
        d = a - b
        tol = np.maximum(np.abs(a), np.abs(b))
        tol *= TIE_RTOL
        above = d > tol
        np.negative(tol, out=tol)
        below = d < tol
        return above, below, d == d
