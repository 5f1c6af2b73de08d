"""Charts: downsampling keeps the shape (first, last, extremes) within the point budget, and each
figure carries the traces a reader expects."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fyerstrade.domain import ProductType, RoundTrip, Side
from fyerstrade.reporting.charts import (
    candle_labels,
    comparison_figure,
    downsample,
    downsample_indices,
    downsample_ohlc,
    drawdown_figure,
    equity_figure,
    ist_axis,
    price_figure,
)

T0 = 1_704_167_100  # 2024-01-02 09:15 IST


def _walk(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100_000.0 + np.cumsum(rng.normal(0.0, 50.0, n))


def test_downsample_caps_points_and_keeps_first_last_and_extremes() -> None:
    n = 200_000
    ts = T0 + 60 * np.arange(n, dtype=np.int64)
    v = _walk(n)
    v[12_345] = 1e9  # a spike a stride would step over
    v[150_001] = -1e9
    t2, v2 = downsample(ts, v, 1_000)
    assert len(t2) <= 1_000
    assert len(t2) > 900  # the budget is used, not wasted
    assert t2[0] == ts[0] and v2[0] == v[0]
    assert t2[-1] == ts[-1] and v2[-1] == v[-1]
    assert v2.max() == 1e9 and v2.min() == -1e9
    assert np.all(np.diff(t2) > 0)  # strictly in time order, no duplicates
    # every kept point is an original point
    pos = (t2 - T0) // 60
    assert np.array_equal(v[pos], v2)


def test_downsample_keeps_each_bucket_extreme() -> None:
    n = 10_000
    v = _walk(n, seed=3)
    keep = downsample_indices(v, 102)
    # 50 buckets over the interior: the max of every bucket is among the kept points
    starts = np.linspace(0, n - 2, 51).astype(int)
    for a, b in itertools.pairwise(starts):
        seg = v[1 + a : 1 + b]
        assert seg.max() in v[keep]
        assert seg.min() in v[keep]


def test_downsample_short_series_is_unchanged() -> None:
    ts = np.array([1, 2, 3], dtype=np.int64)
    v = np.array([3.0, 1.0, 2.0])
    t2, v2 = downsample(ts, v, 10)
    assert np.array_equal(t2, ts) and np.array_equal(v2, v)
    assert downsample(np.array([], dtype=np.int64), np.array([]), 10)[0].size == 0


def test_downsample_keeps_nan_gaps_and_rejects_bad_input() -> None:
    v = np.concatenate([np.full(5_000, np.nan), _walk(5_000)])
    keep = downsample_indices(v, 200)
    assert np.isnan(v[keep]).sum() >= 2  # the warm-up stays a gap
    assert len(keep) <= 200
    with pytest.raises(ValueError, match="at least 4"):
        downsample_indices(v, 3)
    with pytest.raises(ValueError, match="differ in length"):
        downsample(np.arange(3), np.arange(4.0), 10)


def test_downsample_ohlc_preserves_range_open_and_close() -> None:
    n = 10_001
    c = _walk(n)
    o = np.roll(c, 1)
    o[0] = c[0]
    h = np.maximum(o, c) + 1.0
    lo = np.minimum(o, c) - 1.0
    ts = T0 + 60 * np.arange(n, dtype=np.int64)
    t2, o2, h2, l2, c2 = downsample_ohlc(ts, o, h, lo, c, 500)
    assert len(t2) == 500
    assert t2[0] == ts[0] and o2[0] == o[0] and c2[-1] == c[-1]
    assert h2.max() == h.max() and l2.min() == lo.min()
    assert np.all(h2 >= np.maximum(o2, c2)) and np.all(l2 <= np.minimum(o2, c2))


def test_ist_axis_shows_exchange_wall_clock() -> None:
    assert str(ist_axis([T0])[0]) == "2024-01-02T09:15:00"


def _trades() -> list[RoundTrip]:
    return [
        RoundTrip(
            "NSE:SBIN-EQ",
            Side.BUY,
            10,
            T0 + 300,
            101.0,
            T0 + 1200,
            104.0,
            28.0,
            2.0,
            "target",
            ProductType.INTRADAY,
        ),
        RoundTrip(
            "NSE:SBIN-EQ",
            Side.SELL,
            5,
            T0 + 1800,
            103.0,
            T0 + 2400,
            104.5,
            -8.5,
            1.0,
            "stop",
            ProductType.INTRADAY,
        ),
        RoundTrip(
            "NSE:INFY-EQ",
            Side.BUY,
            1,
            T0 + 300,
            1500.0,
            T0 + 600,
            1490.0,
            -10.0,
            0.0,
            "signal",
            ProductType.INTRADAY,
        ),
    ]


def test_price_figure_has_candles_indicators_and_trade_markers() -> None:
    n = 60
    ts = T0 + 60 * np.arange(n, dtype=np.int64)
    c = 100.0 + np.sin(np.arange(n) / 5.0) * 3
    o, h, lo = c - 0.2, c + 0.5, c - 0.5
    sma = np.convolve(c, np.ones(5) / 5, mode="full")[:n]
    sma[:4] = np.nan
    rsi = np.full(n, 55.0)
    fig = price_figure(
        "NSE:SBIN-EQ", ts, o, h, lo, c, trades=_trades(), indicators={"sma5": sma, "rsi": rsi}
    )
    by_name = {tr.name: tr for tr in fig.data}
    assert by_name["NSE:SBIN-EQ"].type == "candlestick"
    assert len(by_name["NSE:SBIN-EQ"].x) == n
    assert by_name["sma5"].yaxis in (None, "y")
    assert by_name["rsi"].yaxis == "y2"  # off the price scale: secondary axis
    assert list(by_name["long entry"].y) == [101.0]
    assert list(by_name["short entry"].y) == [103.0]
    assert sorted(by_name["exit"].y) == [104.0, 104.5]  # INFY's trade is not drawn here
    assert "stop" in "".join(by_name["exit"].text)
    # candles side by side, each labelled with its IST minute; markers on their bars' candles
    assert fig.layout.xaxis.type == "category" and not fig.layout.xaxis.rangebreaks
    assert list(by_name["NSE:SBIN-EQ"].x) == candle_labels(ts, intraday=True)
    assert by_name["NSE:SBIN-EQ"].x[:2] == ("2024-01-02 09:15", "2024-01-02 09:16")
    assert list(by_name["long entry"].x) == ["2024-01-02 09:20"]  # T0 + 300
    assert list(by_name["sma5"].x) == list(by_name["NSE:SBIN-EQ"].x)
    assert np.array_equal(np.asarray(by_name["sma5"].y, dtype=float), sma, equal_nan=True)


def test_price_chart_skips_nights_and_weekends_and_draws_indicators_at_candle_close() -> None:
    """Candles of consecutive sessions stand next to each other (Friday's last, Monday's first);
    where bars merge, an indicator is its value at the candle's last bar, and the hover names
    each candle by its IST start time."""
    friday = T0 + 3 * 86_400  # 2024-01-05 09:15 IST
    day = 60 * np.arange(375, dtype=np.int64)  # 09:15-15:29
    ts = np.concatenate([friday + day, friday + 3 * 86_400 + day])  # Friday, then Monday
    c = np.arange(ts.shape[0], dtype=np.float64)
    fig = price_figure("NSE:SBIN-EQ", ts, c, c + 1, c - 1, c, indicators={"i": c}, max_bars=750)
    x = list(fig.data[0].x)
    assert x[374:376] == ["2024-01-05 15:29", "2024-01-08 09:15"]  # no night, no weekend
    fig = price_figure("NSE:SBIN-EQ", ts, c, c + 1, c - 1, c, indicators={"i": c}, max_bars=50)
    candles, ind = fig.data[0], fig.data[1]
    assert len(candles.x) == 50 and list(ind.x) == list(candles.x)
    assert candles.x[0] == "2024-01-05 09:15" and candles.x[25] == "2024-01-08 09:15"
    assert list(ind.y) == [15 * k + 14 for k in range(50)]  # each 15-bar candle's last value
    assert list(candles.close) == list(ind.y)


def test_daily_candles_are_labelled_by_date() -> None:
    ts = T0 - 33_300 + 86_400 * np.arange(10, dtype=np.int64)  # IST midnights from 2024-01-02
    assert candle_labels(ts, intraday=False)[:2] == ["2024-01-02", "2024-01-03"]
    c = np.full(10, 100.0)
    fig = price_figure("NSE:SBIN-EQ", ts, c, c, c, c)
    assert fig.data[0].x[0] == "2024-01-02"


def test_trade_markers_merge_per_displayed_candle() -> None:
    """Where bars are merged into coarser candles, a kind's trades within one displayed candle
    are one marker on that candle, at their quantity-weighted average price, listing them."""
    n = 600
    ts = T0 + 60 * np.arange(n, dtype=np.int64)
    c = np.full(n, 100.0)
    # a long round trip every 3 bars (entry at bar i, exit at bar i + 1), quantity 1 or 3
    trades = [
        RoundTrip("NSE:SBIN-EQ", Side.BUY, 1 + 2 * (k % 2), int(ts[i]), 100.0 + k % 4,
                  int(ts[i + 1]), 101.0, 1.0, 0.0, "signal", ProductType.INTRADAY)
        for k, i in enumerate(range(0, n - 1, 3))
    ]  # fmt: skip
    fig = price_figure("NSE:SBIN-EQ", ts, c, c + 1, c - 1, c, trades=trades, max_bars=20)
    by_name = {tr.name: tr for tr in fig.data}
    candles = by_name["NSE:SBIN-EQ"]
    assert len(candles.x) == 20  # 30 bars per displayed candle
    entries, exits = by_name["long entry"], by_name["exit"]
    assert len(entries.x) == len(exits.x) == 20  # one marker of each kind per candle, not 200
    assert list(entries.x) == list(candles.x)  # on its candle
    # the first candle holds bars 0-29: entries at bars 0, 3, ..., 27 (k = 0..9)
    first = [t for t in trades if t.entry_ts < ts[30]]
    assert len(first) == 10
    avg = sum(t.quantity * t.entry_price for t in first) / sum(t.quantity for t in first)
    assert entries.y[0] == pytest.approx(avg)
    assert entries.text[0].startswith(f"10 long entries: {sum(t.quantity for t in first)} @ avg")
    assert "… and 5 more" in entries.text[0] and "long entry 3 @ 101.00" in entries.text[0]
    assert exits.text[0].startswith("10 exits:")
    # every trade is still counted once among the markers
    counted = sum(int(t.split(" ", 1)[0]) if "<br>" in t else 1 for t in entries.text)
    assert counted == len(trades)
    # unmerged (one candle per bar): one marker per distinct bar and price, as before
    fig = price_figure("NSE:SBIN-EQ", ts[:60], c[:60], c[:60] + 1, c[:60] - 1, c[:60],
                       trades=trades[:10], max_bars=600)  # fmt: skip
    by_name = {tr.name: tr for tr in fig.data}
    assert list(by_name["long entry"].x) == candle_labels(
        [t.entry_ts for t in trades[:10]], intraday=True
    )


def test_equity_drawdown_and_comparison_figures() -> None:
    n = 50_000
    ts = T0 + 60 * np.arange(n, dtype=np.int64)
    eq = _walk(n)
    fig = equity_figure(ts, eq, initial_capital=100_000.0, max_points=2_000)
    assert [tr.name for tr in fig.data] == ["equity"]
    assert len(fig.data[0].y) <= 2_000 and fig.data[0].y[-1] == eq[-1]
    dd = eq / np.maximum.accumulate(eq) - 1.0
    fig = drawdown_figure(ts, dd, max_points=2_000)
    assert min(fig.data[0].y) == pytest.approx(dd.min() * 100)
    cmp = comparison_figure({"run-a": (ts, eq), "run-b": (ts[:100], 2 * eq[:100])})
    assert [tr.name for tr in cmp.data] == ["run-a", "run-b"]
    assert cmp.data[1].y[0] == 0.0  # each curve starts at 0 % return


def test_figures_are_what_plotly_validates_them_to() -> None:
    """The template is set without plotly's property-by-property validation (charts._set_template):
    every figure still is exactly the figure plotly builds from the same properties validated."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    n = 600
    ts = T0 + 60 * np.arange(n, dtype=np.int64)
    close = 100.0 + _walk(n) / 1_000.0
    figures = [
        equity_figure(ts, close, initial_capital=100.0, max_points=200),
        drawdown_figure(ts, close / np.maximum.accumulate(close) - 1.0, max_points=200),
        price_figure(
            "NSE:SBIN-EQ",
            ts,
            close,
            close + 1,
            close - 1,
            close,
            trades=_trades(),
            indicators={"sma": close, "rsi": np.linspace(20.0, 80.0, n)},
            plots={"rsi": "panel"},
            max_bars=50,
        ),
        comparison_figure({"a": (ts, close)}),
    ]
    for fig in figures:
        assert fig.layout.template == pio.templates["plotly_white"]
        validated = go.Figure(fig.to_dict())
        assert json.loads(pio.to_json(fig, validate=False)) == json.loads(validated.to_json())
