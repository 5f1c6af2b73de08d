"""Metrics against empyrical-reloaded on the same equity curve, plus hand-checked trade stats."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import empyrical
import numpy as np
import pandas as pd
import pytest

from fyerstrade.domain import RoundTrip, Side
from fyerstrade.errors import InputError
from fyerstrade.reporting.metrics import Metrics, compute_metrics, daily_returns, drawdown_series

IST = ZoneInfo("Asia/Kolkata")
CAPITAL = 100_000.0
REL = 1e-9


def ist(y: int, m: int, d: int, hh: int = 15, mm: int = 30) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=IST).timestamp())


def weekdays(n: int, start: datetime) -> list[datetime]:
    out: list[datetime] = []
    d = start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def intraday_curve(days: int = 120, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A random walk marked 5 times a day (09:15 … 15:30 IST) over ``days`` weekdays."""
    rng = np.random.default_rng(seed)
    ts = [
        int(d.replace(hour=h, minute=m).timestamp())
        for d in weekdays(days, datetime(2025, 1, 1, tzinfo=IST))
        for h, m in ((9, 15), (11, 0), (13, 0), (14, 45), (15, 30))
    ]
    steps = rng.normal(0.0002, 0.004, len(ts))
    return np.array(ts, dtype=np.int64), CAPITAL * np.cumprod(1.0 + steps)


def daily_curve(days: int = 250, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = [
        int(d.replace(hour=15, minute=30).timestamp())
        for d in weekdays(days, datetime(2024, 4, 1, tzinfo=IST))
    ]
    return np.array(ts, dtype=np.int64), CAPITAL * np.cumprod(1.0 + rng.normal(0.0005, 0.01, days))


def reference_daily_returns(ts: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """Independent resampling with pandas: last equity per IST date, first day from capital."""
    index = pd.DatetimeIndex(pd.to_datetime(ts, unit="s", utc=True)).tz_convert(IST)
    last = pd.Series(equity, index=index).groupby(index.date).last().to_numpy()
    levels = np.concatenate(([CAPITAL], last))
    return levels[1:] / levels[:-1] - 1.0


def annualization_for_calendar_cagr(ts: np.ndarray, n_returns: int) -> float:
    """empyrical's CAGR counts n/annualization years; ours counts calendar days / 365.25."""
    years = (ts[-1] - ts[0]) / 86_400 / 365.25
    return float(n_returns / years)


@pytest.mark.parametrize("rf", [0.0, 0.065])
def test_ratios_equal_empyrical_on_intraday_curve(rf: float) -> None:
    ts, eq = intraday_curve()
    m = compute_metrics([], ts, eq, CAPITAL, risk_free_rate=rf)
    r = reference_daily_returns(ts, eq)
    assert r.size == 120
    daily_rf = (1 + rf) ** (1 / 252) - 1
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(r, risk_free=daily_rf), rel=REL)
    assert m.sortino == pytest.approx(empyrical.sortino_ratio(r, required_return=daily_rf), rel=REL)
    assert m.volatility == pytest.approx(empyrical.annual_volatility(r), rel=REL)
    # Max drawdown uses every point of the curve, from the initial capital.
    full = np.concatenate(([CAPITAL], eq))
    assert m.max_drawdown == pytest.approx(
        -empyrical.max_drawdown(full[1:] / full[:-1] - 1), rel=REL
    )
    ann = annualization_for_calendar_cagr(ts, r.size)
    assert m.cagr == pytest.approx(empyrical.annual_return(r, annualization=ann), rel=REL)
    assert m.total_return == pytest.approx(empyrical.cum_returns_final(r), rel=REL)


def test_metrics_equal_empyrical_on_daily_curve() -> None:
    ts, eq = daily_curve()
    m = compute_metrics([], ts, eq, CAPITAL)
    r = reference_daily_returns(ts, eq)
    ann = annualization_for_calendar_cagr(ts, r.size)
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(r), rel=REL)
    assert m.sortino == pytest.approx(empyrical.sortino_ratio(r), rel=REL)
    assert m.volatility == pytest.approx(empyrical.annual_volatility(r), rel=REL)
    assert m.max_drawdown == pytest.approx(-empyrical.max_drawdown(r), rel=REL)
    assert m.cagr == pytest.approx(empyrical.cagr(r, annualization=ann), rel=REL)
    assert m.calmar == pytest.approx(empyrical.calmar_ratio(r, annualization=ann), rel=REL)
    assert m.final_equity == eq[-1]
    assert m.start_equity == CAPITAL


def test_daily_resampling_uses_ist_dates() -> None:
    """00:30 IST is the previous day in UTC; it still belongs to its IST date."""
    ts = np.array([ist(2025, 3, 3, 0, 30), ist(2025, 3, 3, 15, 30), ist(2025, 3, 4, 0, 30)])
    days, last = daily_returns(ts, np.array([1.0, 2.0, 3.0]))
    assert [str(d) for d in days] == ["2025-03-03", "2025-03-04"]
    assert last.tolist() == [2.0, 3.0]


def test_drawdown_series_amount_and_duration_by_hand() -> None:
    ts = np.array([ist(2025, 1, d) for d in (1, 2, 3, 6, 7, 8, 9)])
    eq = np.array([100_000, 110_000, 99_000, 104_500, 110_000, 105_000, 106_000], dtype=float)
    dd = drawdown_series(eq, CAPITAL)
    assert dd == pytest.approx([0.0, 0.0, -0.1, -0.05, 0.0, -5_000 / 110_000, -4_000 / 110_000])
    m = compute_metrics([], ts, eq, CAPITAL)
    assert m.max_drawdown == pytest.approx(0.1)
    assert m.max_drawdown_amount == pytest.approx(11_000.0)
    # Peak on Jan 2, recovered on Jan 7: 5 days; the open drawdown from Jan 7 to Jan 9 is 2 days.
    assert m.max_drawdown_duration_days == pytest.approx(5.0)
    assert drawdown_series(np.array([90.0, 95.0]), 100.0) == pytest.approx([-0.1, -0.05])
    assert drawdown_series(np.array([90.0, 95.0])) == pytest.approx([0.0, 0.0])


def test_unrecovered_drawdown_runs_to_the_last_point() -> None:
    ts = np.array([ist(2025, 1, 1), ist(2025, 1, 11), ist(2025, 1, 21)])
    m = compute_metrics([], ts, np.array([99_000.0, 98_000.0, 99_500.0]), CAPITAL)
    assert m.max_drawdown == pytest.approx(0.02)
    assert m.max_drawdown_duration_days == pytest.approx(
        20.0
    )  # from the capital at the first point


def trip(pnl: float, minutes: int, entry: int, costs: float = 10.0) -> RoundTrip:
    return RoundTrip(
        symbol="NSE:SBIN-EQ",
        side=Side.BUY,
        quantity=10,
        entry_ts=entry,
        entry_price=800.0,
        exit_ts=entry + minutes * 60,
        exit_price=800.0 + (pnl + costs) / 10,
        pnl=pnl,
        costs=costs,
        exit_reason="signal",
    )


def test_trade_statistics_by_hand() -> None:
    t0 = ist(2025, 2, 3, 9, 30)
    trades = [
        trip(300.0, 30, t0),
        trip(-100.0, 60, t0 + 7_200),
        trip(500.0, 90, t0 + 86_400),
        trip(-200.0, 20, t0 + 2 * 86_400),
        trip(0.0, 50, t0 + 3 * 86_400, costs=5.0),
    ]
    ts = np.array([ist(2025, 2, 3), ist(2025, 2, 7)])
    m = compute_metrics(trades, ts, np.array([CAPITAL, CAPITAL + 500.0]), CAPITAL)
    assert m.trades == 5
    assert m.win_rate == pytest.approx(2 / 5)
    assert m.profit_factor == pytest.approx(800 / 300)
    assert m.expectancy == pytest.approx(100.0)
    assert m.avg_win == pytest.approx(400.0)
    assert m.avg_loss == pytest.approx(-150.0)
    assert m.largest_win == pytest.approx(500.0)
    assert m.largest_loss == pytest.approx(-200.0)
    assert m.avg_holding_minutes == pytest.approx(50.0)
    assert m.total_costs == pytest.approx(45.0)
    assert m.total_return == pytest.approx(0.005)


def test_exposure_from_series_and_from_trades() -> None:
    ts = np.array([ist(2025, 2, 3, 9, 15 + i) for i in range(10)])
    eq = np.full(10, CAPITAL)
    series = np.array([0, 0, 5, 5, 5, 0, -3, -3, 0, 0])
    assert compute_metrics([], ts, eq, CAPITAL, exposure=series).exposure == pytest.approx(0.5)
    # Trades open at minutes 2..4 and 6..7 (exit bar excluded): the same 5 of 10 points.
    trades = [trip(10.0, 3, int(ts[2])), trip(-5.0, 2, int(ts[6]))]
    assert compute_metrics(trades, ts, eq, CAPITAL).exposure == pytest.approx(0.5)
    with pytest.raises(InputError, match="exposure series must match"):
        compute_metrics([], ts, eq, CAPITAL, exposure=series[:3])


def test_no_trades_and_flat_equity() -> None:
    ts = np.array([ist(2025, 1, d) for d in (1, 2, 3, 6)])
    m = compute_metrics([], ts, np.full(4, CAPITAL), CAPITAL)
    assert m.trades == 0
    assert m.total_return == 0.0 and m.cagr == 0.0 and m.volatility == 0.0
    assert m.sharpe is None and m.sortino is None and m.calmar is None
    assert m.max_drawdown == 0.0 and m.max_drawdown_amount == 0.0
    assert m.max_drawdown_duration_days == 0.0
    assert m.win_rate is None and m.profit_factor is None and m.expectancy is None
    assert m.avg_win is None and m.largest_loss is None and m.avg_holding_minutes is None
    assert m.exposure == 0.0 and m.total_costs == 0.0


def test_single_day() -> None:
    ts = np.array([ist(2025, 1, 6, 9, 15), ist(2025, 1, 6, 12, 0), ist(2025, 1, 6, 15, 30)])
    m = compute_metrics([], ts, np.array([CAPITAL, 99_000.0, 101_000.0]), CAPITAL)
    assert m.total_return == pytest.approx(0.01)
    assert m.cagr is None and m.calmar is None  # a few hours are not annualised
    assert m.sharpe is None and m.sortino is None and m.volatility is None  # one daily return
    assert m.max_drawdown == pytest.approx(0.01)
    assert m.max_drawdown_duration_days == pytest.approx((ts[2] - ts[0]) / 86_400)


def test_all_winning_trades_and_no_downside() -> None:
    t0 = ist(2025, 2, 3, 9, 30)
    trades = [trip(100.0, 10, t0), trip(50.0, 10, t0 + 86_400)]
    ts = np.array([ist(2025, 2, 3), ist(2025, 2, 4), ist(2025, 2, 5)])
    m = compute_metrics(trades, ts, np.array([100_100.0, 100_150.0, 100_200.0]), CAPITAL)
    assert m.profit_factor == math.inf
    assert m.win_rate == 1.0 and m.avg_loss is None and m.largest_loss is None
    assert m.sortino == math.inf  # positive mean, no downside
    assert m.max_drawdown == 0.0 and m.calmar is None
    assert m.to_dict()["profit_factor"] == math.inf


def test_empty_curve_is_flat_at_capital() -> None:
    m = compute_metrics([], np.array([], dtype=np.int64), np.array([]), CAPITAL)
    assert m.final_equity == CAPITAL and m.total_return == 0.0
    assert m.max_drawdown == 0.0 and m.exposure is None and m.cagr is None


def test_bad_inputs_are_clear_errors() -> None:
    ts = np.array([ist(2025, 1, 2), ist(2025, 1, 1)])
    with pytest.raises(InputError, match="ascending"):
        compute_metrics([], ts, np.array([1.0, 2.0]), CAPITAL)
    with pytest.raises(InputError, match="one length"):
        compute_metrics([], ts[:1], np.array([1.0, 2.0]), CAPITAL)
    with pytest.raises(InputError, match="initial capital"):
        compute_metrics([], ts[:1], np.array([1.0]), 0.0)
    with pytest.raises(InputError, match="NaN"):
        compute_metrics([], ts[:1], np.array([np.nan]), CAPITAL)


ISSUE_METRICS = {
    # issue 4, section E, and the keys the `backtest run --json` output must carry
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_amount",
    "max_drawdown_duration_days",
    "calmar",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_win",
    "avg_loss",
    "largest_win",
    "largest_loss",
    "trades",
    "avg_holding_minutes",
    "exposure",
    "total_costs",
    "final_equity",
}


def test_every_metric_named_in_the_issue_is_in_to_dict() -> None:
    ts, eq = daily_curve(days=20)
    d = compute_metrics([trip(10.0, 5, int(ts[0]))], ts, eq, CAPITAL).to_dict()
    assert not ISSUE_METRICS - set(d), ISSUE_METRICS - set(d)
    assert set(d) == {f for f in Metrics.__dataclass_fields__}
    for key, value in d.items():
        assert value is None or type(value) in (int, float), key  # plain Python numbers
