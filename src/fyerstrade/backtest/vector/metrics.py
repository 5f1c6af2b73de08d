"""Per-trial metrics in numba: ``reporting.metrics.compute_metrics`` without leaving compiled code.

The optimizer scores thousands of trials; building ``RoundTrip`` objects and calling
``compute_metrics`` for each would cost more than the simulation. :func:`trial_metrics` computes
every metric from the kernel's equity curve, exposure flags and round-trip table with the same
definitions *and the same arithmetic*: sums are numpy's pairwise sums (:func:`pairwise_sum`, the
algorithm of ``np.add.reduce`` on a contiguous float64 array), means and standard deviations are
numpy's, so the results are equal to ``compute_metrics``'s, not just close (a test holds them to
it). :func:`metrics_dict` gives the names ``backtest run --json`` uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from fyerstrade.backtest.vector import cache as _cache

_cache.configure()

import numba as nb  # noqa: E402
from numba import types as nt  # noqa: E402

from fyerstrade.domain import DAY_SECONDS  # noqa: E402
from fyerstrade.reporting.metrics import DAYS_PER_YEAR, TRADING_DAYS_PER_YEAR, Metrics  # noqa: E402

from . import accounts as ac  # noqa: E402
from . import layout as lay  # noqa: E402

NAMES: tuple[str, ...] = tuple(f.name for f in fields(Metrics))
"""The metrics in :class:`~fyerstrade.reporting.metrics.Metrics` order (the ``out`` layout)."""
_AT = {name: k for k, name in enumerate(NAMES)}
(
    M_TOTAL_RETURN,
    M_CAGR,
    M_VOLATILITY,
    M_SHARPE,
    M_SORTINO,
    M_MAX_DD,
    M_MAX_DD_AMOUNT,
    M_MAX_DD_DAYS,
    M_CALMAR,
    M_WIN_RATE,
    M_PROFIT_FACTOR,
    M_EXPECTANCY,
    M_AVG_WIN,
    M_AVG_LOSS,
    M_LARGEST_WIN,
    M_LARGEST_LOSS,
    M_TRADES,
    M_AVG_HOLDING,
    M_EXPOSURE,
    M_TOTAL_COSTS,
    M_FINAL_EQUITY,
    M_START_EQUITY,
) = (_AT[n] for n in NAMES)
N_METRICS = len(NAMES)

_T = TypeVar("_T")
_I, _F = nt.int64, nt.float64
I1 = nt.Array(_I, 1, "C")
F1 = nt.Array(_F, 1, "C")
F2 = nt.Array(_F, 2, "C")
U1 = nt.Array(nt.uint8, 1, "C")
_SQRT_YEAR = math.sqrt(TRADING_DAYS_PER_YEAR)


def _jit(signature: Any) -> Callable[[_T], _T]:
    # IEEE division (x / 0 is inf or nan, as numpy's), cached on disk
    decorate: Callable[[_T], _T] = nb.njit(signature, cache=True, nogil=True, error_model="numpy")
    return decorate


@_jit(_F(F1, _I, _I))
def pairwise_sum(a, lo, n):
    """``np.add.reduce(a[lo:lo + n])`` for contiguous float64: numpy's pairwise summation (eight
    accumulators over blocks of up to 128, halves above), so the result is bit-equal."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
        r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
        i = 8
        while i < n - (n % 8):
            j = lo + i
            r0 += a[j]
            r1 += a[j + 1]
            r2 += a[j + 2]
            r3 += a[j + 3]
            r4 += a[j + 4]
            r5 += a[j + 5]
            r6 += a[j + 6]
            r7 += a[j + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[lo + i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(a, lo, n2) + pairwise_sum(a, lo + n2, n - n2)


@_jit(_F(F1))
def mean(a):
    """``np.mean``."""
    return pairwise_sum(a, 0, a.shape[0]) / a.shape[0]


@_jit(_F(F1))
def std1(a):
    """``np.std(a, ddof=1)``: the mean, the squared deviations, their sum over n - 1."""
    n = a.shape[0]
    m = pairwise_sum(a, 0, n) / n
    sq = np.empty(n)
    for i in range(n):
        x = a[i] - m
        sq[i] = x * x
    return math.sqrt(pairwise_sum(sq, 0, n) / max(n - 1, 0))


@_jit(nt.void(F1, F1, F2, _I, _I, _I, _F, _F, I1, F1, U1, F1))
def trial_metrics(
    acc: npt.NDArray[np.float64],
    day_eq: npt.NDArray[np.float64],
    trades: npt.NDArray[np.float64],
    n_steps: int,
    first_ts: int,
    last_ts: int,
    capital: float,
    daily_rf: float,
    day_index: npt.NDArray[np.int64],
    out: npt.NDArray[np.float64],
    defined: npt.NDArray[np.uint8],
    returns: npt.NDArray[np.float64],
) -> None:
    """Every metric of ``compute_metrics`` into ``out`` (``defined[k] == 0`` where it is None)
    from the kernel's accounts (``accounts.A_*``), the equity at each IST day's end and the round
    trips; and the simple daily returns on the evaluator's days into ``returns`` (day ``j`` is
    worth ``day_eq[day_index[j]]``, the capital where the index is -1; the first return is
    measured from the capital: ``evaluate.returns_on_days``)."""
    for k in range(out.shape[0]):
        out[k] = np.nan
        defined[k] = 0

    def put(k: int, value: float) -> None:
        out[k] = value
        defined[k] = 1

    final = acc[ac.A_FINAL] if n_steps else capital
    put(M_TOTAL_RETURN, final / capital - 1.0)
    put(M_FINAL_EQUITY, final)
    put(M_START_EQUITY, capital)

    # the ratios from daily returns: each IST day's last equity, the first from the capital
    n_days = day_eq.shape[0]
    if n_days >= 2:
        rets = np.empty(n_days)
        excess = np.empty(n_days)
        down = np.empty(n_days)
        prev = capital
        for i in range(n_days):
            rets[i] = day_eq[i] / prev - 1.0
            prev = day_eq[i]
            excess[i] = rets[i] - daily_rf
            low = min(excess[i], 0.0)
            down[i] = low * low
        put(M_VOLATILITY, std1(rets) * _SQRT_YEAR)
        excess_std = std1(excess)
        mean_excess = mean(excess)
        if excess_std > 0:
            sharpe = mean_excess / excess_std * _SQRT_YEAR
            if math.isfinite(sharpe):
                put(M_SHARPE, sharpe)
        downside = math.sqrt(mean(down)) * _SQRT_YEAR
        if downside > 0:
            sortino = mean_excess * TRADING_DAYS_PER_YEAR / downside
            if math.isfinite(sortino):
                put(M_SORTINO, sortino)
        elif mean_excess > 0:
            put(M_SORTINO, np.inf)

    cagr = np.nan
    if n_steps >= 2:
        span_days = float(last_ts - first_ts) / DAY_SECONDS
        if span_days >= 1.0:
            cagr = -1.0 if final <= 0 else (final / capital) ** (DAYS_PER_YEAR / span_days) - 1.0
            put(M_CAGR, cagr)

    max_dd = max(-acc[ac.A_WORST], 0.0) if n_steps else 0.0
    put(M_MAX_DD, max_dd)
    put(M_MAX_DD_AMOUNT, acc[ac.A_MAX_AMOUNT] if n_steps else 0.0)
    put(M_MAX_DD_DAYS, acc[ac.A_LONGEST] / DAY_SECONDS)
    if defined[M_CAGR] and max_dd > 0:
        put(M_CALMAR, cagr / max_dd)

    n_trades = trades.shape[0]
    put(M_TRADES, n_trades)
    costs = 0.0
    for t in range(n_trades):
        costs += trades[t, lay.T_COSTS]
    put(M_TOTAL_COSTS, costs)
    if n_trades:
        pnl = np.empty(n_trades)
        wins = np.empty(n_trades)
        losses = np.empty(n_trades)
        holding = np.empty(n_trades)
        n_win = 0
        n_loss = 0
        for t in range(n_trades):
            p = trades[t, lay.T_PNL]
            pnl[t] = p
            holding[t] = trades[t, lay.T_EXIT_TS] - trades[t, lay.T_ENTRY_TS]
            if p > 0:
                wins[n_win] = p
                n_win += 1
            elif p < 0:
                losses[n_loss] = p
                n_loss += 1
        gross_win = pairwise_sum(wins, 0, n_win)
        gross_loss = -pairwise_sum(losses, 0, n_loss)
        if gross_loss > 0:
            put(M_PROFIT_FACTOR, gross_win / gross_loss)
        elif gross_win > 0:
            put(M_PROFIT_FACTOR, np.inf)
        put(M_WIN_RATE, n_win / n_trades)
        put(M_EXPECTANCY, mean(pnl))
        if n_win:
            put(M_AVG_WIN, gross_win / n_win)
            put(M_LARGEST_WIN, wins[:n_win].max())
        if n_loss:
            put(M_AVG_LOSS, -gross_loss / n_loss)
            put(M_LARGEST_LOSS, losses[:n_loss].min())
        put(M_AVG_HOLDING, mean(holding) / 60.0)
    if n_steps:
        put(M_EXPOSURE, acc[ac.A_EXPOSED] / n_steps)

    before = capital
    for j in range(day_index.shape[0]):
        level = day_eq[day_index[j]] if day_index[j] >= 0 else capital
        returns[j] = level / before - 1.0 if before != 0 else 0.0
        before = level


def metrics_dict(out: npt.NDArray[np.float64], defined: npt.NDArray[np.uint8]) -> dict[str, Any]:
    """``Metrics.to_dict()`` from :func:`trial_metrics`' output (None where undefined)."""
    values: dict[str, Any] = {}
    for k, name in enumerate(NAMES):
        if not defined[k]:
            values[name] = None
        elif k == M_TRADES:
            values[name] = int(out[k])
        else:
            values[name] = float(out[k])
    return values
