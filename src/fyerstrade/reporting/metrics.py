"""Performance metrics: pure functions of the round trips and the equity curve.

The same numbers appear in the CLI report, the journal (``backtest_runs.metrics_json``) and the
dashboard; they are computed only here. Definitions (the README's report section repeats them):

- Returns for Sharpe, Sortino and volatility are DAILY: the equity curve is reduced to its last
  value on each IST calendar date that has a point, and the first day's return is measured from
  ``initial_capital``. Annualised with 252 trading days (NSE trades about 248–252 days a year;
  252 is the convention of empyrical, quantstats and backtesting.py, so figures compare).
- ``risk_free_rate`` is annual and converted to a daily rate by compounding:
  ``(1 + r) ** (1 / 252) - 1``. Sharpe = mean(excess) / std(excess, ddof=1) × √252.
  Sortino = mean(excess) × 252 / downside deviation, the downside deviation being
  √(mean(min(excess, 0)²)) × √252. These are empyrical's definitions, and the tests hold us to it.
- CAGR compounds ``final_equity / initial_capital`` over the calendar span between the first and
  last equity point, in years of 365.25 days. It is ``None`` when that span is under one day
  (annualising a few hours means nothing), and -1.0 when equity ended at or below zero.
- Drawdowns use every point of the curve (intraday dips count), with ``initial_capital`` as the
  first peak. ``max_drawdown`` is the deepest fall from a peak as a positive fraction (0.12 = 12%);
  ``max_drawdown_amount`` the largest fall in rupees (it can come from another peak);
  ``max_drawdown_duration_days`` the longest time from a peak until equity first regained it, or
  until the last point if it never did. Calmar = CAGR / max_drawdown.
- Trade statistics use ``RoundTrip.pnl``, which is net of costs: a win is ``pnl > 0``, a loss
  ``pnl < 0`` (a trade at exactly zero is neither, but counts in ``trades`` and ``expectancy``).
  ``avg_loss`` and ``largest_loss`` are negative rupee amounts.
- ``exposure`` is the fraction of equity points at which a position was open: from the
  ``exposure`` series when given (non-zero = in the market), otherwise from the trades (a point at
  ``ts`` is exposed when some trade has ``entry_ts <= ts < exit_ts``).

Undefined values are ``None``, never NaN: ratios with fewer than two daily returns or zero
deviation, trade statistics without trades, averages of an empty set. ``profit_factor`` is
``inf`` when there are winning trades and no losing ones, and ``sortino`` is ``inf`` when the mean
excess return is positive with no downside; ``to_dict`` keeps ``inf`` (strict-JSON writers must
encode it, as the journal does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from fyerstrade.backtest.columns import column, column_array
from fyerstrade.domain import DAY_SECONDS, IST_OFFSET, RoundTrip
from fyerstrade.errors import InputError

__all__ = [
    "TRADING_DAYS_PER_YEAR",
    "Metrics",
    "compute_metrics",
    "daily_returns",
    "drawdown_series",
]

TRADING_DAYS_PER_YEAR = 252
DAYS_PER_YEAR = 365.25
_IST_OFFSET = IST_OFFSET
_DAY = DAY_SECONDS

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Metrics:
    """The performance report of one run (see the module docstring for each definition)."""

    total_return: float
    cagr: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_amount: float
    max_drawdown_duration_days: float
    calmar: float | None
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    avg_win: float | None
    avg_loss: float | None
    largest_win: float | None
    largest_loss: float | None
    trades: int
    avg_holding_minutes: float | None
    exposure: float | None
    total_costs: float
    final_equity: float
    start_equity: float

    def to_dict(self) -> dict[str, float | int | None]:
        """Every metric under its snake_case name, as plain Python numbers (``inf`` kept)."""
        return asdict(self)


def daily_returns(
    equity_ts: npt.ArrayLike, equity: npt.ArrayLike
) -> tuple[npt.NDArray[np.datetime64], FloatArray]:
    """The IST dates that have equity points, and the last equity value on each.

    Despite the name this returns equity per day (the input to daily returns, which
    ``compute_metrics`` measures from the initial capital); dates are ``datetime64[D]``.
    """
    ts, eq = _validated(equity_ts, equity)
    if ts.size == 0:
        return np.empty(0, dtype="datetime64[D]"), np.empty(0)
    days = (ts + _IST_OFFSET) // _DAY
    last = np.flatnonzero(np.diff(days) != 0)
    idx = np.append(last, ts.size - 1)
    return days[idx].astype("datetime64[D]"), eq[idx]


def drawdown_series(equity: npt.ArrayLike, initial_capital: float | None = None) -> FloatArray:
    """Drawdown at each point as a fraction ≤ 0 (equity / running peak − 1).

    With ``initial_capital`` the running peak starts there, so a curve that opens below the
    capital starts in drawdown.
    """
    eq = np.asarray(equity, dtype=np.float64)
    if eq.size == 0:
        return np.empty(0)
    peak = np.maximum.accumulate(eq)
    if initial_capital is not None:
        peak = np.maximum(peak, initial_capital)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, eq / peak - 1.0, 0.0)
    return np.minimum(dd, 0.0)


def compute_metrics(
    trades: Sequence[RoundTrip],
    equity_ts: npt.ArrayLike,
    equity: npt.ArrayLike,
    initial_capital: float,
    risk_free_rate: float = 0.0,
    exposure: npt.ArrayLike | None = None,
) -> Metrics:
    """All metrics of a run from its round trips and its equity curve (epoch seconds, rupees).

    An empty curve is read as flat at ``initial_capital``.
    """
    if not initial_capital > 0:
        raise InputError(f"initial capital must be positive, got {initial_capital}")
    ts, eq = _validated(equity_ts, equity)
    final = float(eq[-1]) if eq.size else float(initial_capital)

    rets = _returns_from(initial_capital, daily_returns(ts, eq)[1])
    daily_rf = (1.0 + risk_free_rate) ** (1.0 / TRADING_DAYS_PER_YEAR) - 1.0
    excess = rets - daily_rf
    volatility = sharpe = sortino = None
    if rets.size >= 2:
        std = float(np.std(rets, ddof=1))
        volatility = std * math.sqrt(TRADING_DAYS_PER_YEAR)
        excess_std = float(np.std(excess, ddof=1))
        mean_excess = float(np.mean(excess))
        if excess_std > 0:
            sharpe = _finite(mean_excess / excess_std * math.sqrt(TRADING_DAYS_PER_YEAR))
        downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
        downside *= math.sqrt(TRADING_DAYS_PER_YEAR)
        if downside > 0:
            sortino = _finite(mean_excess * TRADING_DAYS_PER_YEAR / downside)
        elif mean_excess > 0:
            sortino = math.inf

    cagr = _cagr(initial_capital, final, ts)
    max_dd, max_dd_amount, max_dd_days = _drawdowns(ts, eq, initial_capital)
    calmar = cagr / max_dd if cagr is not None and max_dd > 0 else None

    stats = _trade_stats(trades)
    return Metrics(
        total_return=final / initial_capital - 1.0,
        cagr=cagr,
        volatility=volatility,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=max_dd,
        max_drawdown_amount=max_dd_amount,
        max_drawdown_duration_days=max_dd_days,
        calmar=calmar,
        win_rate=stats.win_rate,
        profit_factor=stats.profit_factor,
        expectancy=stats.expectancy,
        avg_win=stats.avg_win,
        avg_loss=stats.avg_loss,
        largest_win=stats.largest_win,
        largest_loss=stats.largest_loss,
        trades=len(trades),
        avg_holding_minutes=stats.avg_holding_minutes,
        exposure=_exposure(trades, ts, exposure),
        total_costs=float(sum(column(trades, "costs"))),  # summed in order, as always
        final_equity=final,
        start_equity=float(initial_capital),
    )


def _validated(
    equity_ts: npt.ArrayLike, equity: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    ts = np.asarray(equity_ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if ts.ndim != 1 or eq.ndim != 1 or ts.size != eq.size:
        raise InputError(
            f"equity timestamps and values must be 1-D arrays of one length, got shapes "
            f"{ts.shape} and {eq.shape}"
        )
    if ts.size > 1 and bool(np.any(np.diff(ts) < 0)):
        raise InputError("equity timestamps must be in ascending order")
    if not bool(np.all(np.isfinite(eq))):
        raise InputError("the equity curve contains NaN or infinite values")
    return ts, eq


def _returns_from(initial_capital: float, day_equity: FloatArray) -> FloatArray:
    """Simple returns of [initial_capital, day 1, day 2, ...]."""
    if day_equity.size == 0:
        return np.empty(0)
    levels = np.concatenate(([initial_capital], day_equity))
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = levels[1:] / levels[:-1] - 1.0
    return out


def _cagr(initial_capital: float, final: float, ts: npt.NDArray[np.int64]) -> float | None:
    if ts.size < 2:
        return None
    span_days = float(ts[-1] - ts[0]) / _DAY
    if span_days < 1.0:
        return None
    if final <= 0:
        return -1.0
    return float((final / initial_capital) ** (DAYS_PER_YEAR / span_days) - 1.0)


def _drawdowns(
    ts: npt.NDArray[np.int64], eq: FloatArray, initial_capital: float
) -> tuple[float, float, float]:
    """(max drawdown fraction > 0, max drawdown in rupees, longest underwater span in days)."""
    if eq.size == 0:
        return 0.0, 0.0, 0.0
    peak = np.maximum(np.maximum.accumulate(eq), initial_capital)
    max_dd = -float(np.min(drawdown_series(eq, initial_capital)))
    max_amount = float(np.max(peak - eq))
    # Each underwater point lies in a span from the last point at its peak (the initial capital
    # counts as a peak at the first timestamp) to the next point back at a peak (or the end).
    underwater = eq < peak
    longest = 0
    if bool(underwater.any()):
        n = eq.size
        positions = np.arange(n)
        last_peak = np.maximum.accumulate(np.where(underwater, -1, positions))
        next_peak = np.minimum.accumulate(np.where(underwater, n, positions)[::-1])[::-1]
        starts = np.where(last_peak >= 0, ts[np.maximum(last_peak, 0)], ts[0])
        ends = np.where(next_peak < n, ts[np.minimum(next_peak, n - 1)], ts[-1])
        longest = int(np.max((ends - starts)[underwater]))
    return max(max_dd, 0.0), max_amount, longest / _DAY


@dataclass(frozen=True, slots=True)
class _TradeStats:
    win_rate: float | None = None
    profit_factor: float | None = None
    expectancy: float | None = None
    avg_win: float | None = None
    avg_loss: float | None = None
    largest_win: float | None = None
    largest_loss: float | None = None
    avg_holding_minutes: float | None = None


def _trade_stats(trades: Sequence[RoundTrip]) -> _TradeStats:
    if not trades:
        return _TradeStats()
    pnl = column_array(trades, "pnl", np.float64)  # columns: read, not built per trade
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    gross_win = float(wins.sum())
    gross_loss = -float(losses.sum())
    if gross_loss > 0:
        profit_factor: float | None = gross_win / gross_loss
    else:
        profit_factor = math.inf if gross_win > 0 else None
    holding = column_array(trades, "exit_ts") - column_array(trades, "entry_ts")
    return _TradeStats(
        win_rate=wins.size / pnl.size,
        profit_factor=profit_factor,
        expectancy=float(pnl.mean()),
        avg_win=float(wins.mean()) if wins.size else None,
        avg_loss=float(losses.mean()) if losses.size else None,
        largest_win=float(wins.max()) if wins.size else None,
        largest_loss=float(losses.min()) if losses.size else None,
        avg_holding_minutes=float(holding.astype(np.float64).mean()) / 60.0,
    )


def _exposure(
    trades: Sequence[RoundTrip], ts: npt.NDArray[np.int64], exposure: npt.ArrayLike | None
) -> float | None:
    if exposure is not None:
        ex = np.asarray(exposure, dtype=np.float64)
        if ex.shape != ts.shape:
            raise InputError(
                f"the exposure series must match the equity curve: {ex.shape} vs {ts.shape}"
            )
        return float(np.count_nonzero(ex)) / ex.size if ex.size else None
    if ts.size == 0:
        return None
    in_market = np.zeros(ts.size, dtype=bool)
    los = np.searchsorted(ts, column_array(trades, "entry_ts"), side="left")
    his = np.searchsorted(ts, column_array(trades, "exit_ts"), side="left")
    for lo, hi in zip(los.tolist(), his.tolist(), strict=True):
        in_market[lo:hi] = True
    return float(np.count_nonzero(in_market)) / ts.size


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
