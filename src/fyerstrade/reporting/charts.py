"""Plotly figures of a backtest: equity, drawdown, price with trades, and equity comparisons.

Every function is pure: arrays in, a ``go.Figure`` out, shared by the HTML report and the
dashboard. Long series are thinned before plotting (:func:`downsample`, :func:`downsample_ohlc`)
so a year of one-minute bars stays responsive in a browser; the exact data remains in the journal
for download. Trade markers are merged per displayed candle (one marker of a kind per candle, its
hover text listing the trades); the trade table and the CSV keep every trade.

Time axes show IST wall-clock time: epoch seconds are shifted by +05:30 into ``datetime64``
values (plotly.js has no time zones, so this is the honest way to show exchange time). The price
chart puts its candles side by side instead, one category per displayed candle labelled with its
IST start time: no empty nights or weekends, without plotly's ``rangebreaks`` (which cost 0.1-0.25
s of the browser's drawing of a six-month chart); its hover shows each candle's time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go

from fyerstrade.domain import IST_OFFSET, RoundTrip, Side

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

IST_OFFSET_SECONDS = IST_OFFSET
DEFAULT_MAX_POINTS = 4_000
DEFAULT_MAX_CANDLES = 2_000

_LONG_COLOUR = "#1a9850"
_SHORT_COLOUR = "#d73027"
_EXIT_COLOUR = "#313695"
_TEMPLATE = "plotly_white"


def ist_axis(ts: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
    """Epoch seconds → ``datetime64[s]`` holding IST wall-clock time, for a plotly x axis."""
    arr = np.asarray(ts, dtype=np.int64)
    return (arr + IST_OFFSET_SECONDS).astype("datetime64[s]")


def _bucket_edges(n: int, buckets: int) -> IntArray:
    """Start offsets of ``buckets`` contiguous, near-equal buckets over ``range(n)``."""
    return np.linspace(0, n, buckets + 1).astype(np.int64)[:-1]


def _first_match_per_bucket(mask: npt.NDArray[np.bool_], bucket_of: IntArray) -> IntArray:
    """Index of the first ``True`` in each bucket (buckets without one are left out)."""
    hits = np.flatnonzero(mask)
    _, first = np.unique(bucket_of[hits], return_index=True)
    return hits[first].astype(np.int64)


def downsample_indices(values: npt.ArrayLike, max_points: int) -> IntArray:
    """Indices of at most ``max_points`` points that keep a curve's shape.

    The first and last points are always kept. The interior is cut into equal buckets and each
    bucket contributes its minimum and its maximum (in time order), so peaks, troughs and the
    deepest drawdown survive exactly — unlike striding, which can step over them. A bucket that
    holds only NaN contributes one NaN point so a gap (an indicator's warm-up) stays a gap.
    Runs in O(n) with numpy.
    """
    v = np.asarray(values, dtype=np.float64)
    n = int(v.shape[0])
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    interior = v[1:-1]
    m = n - 2
    buckets = (max_points - 2) // 2
    starts = _bucket_edges(m, buckets)
    sizes = np.diff(np.append(starts, m))
    bucket_of = np.repeat(np.arange(buckets, dtype=np.int64), sizes)
    mins = np.fmin.reduceat(interior, starts)
    maxs = np.fmax.reduceat(interior, starts)
    idx_min = _first_match_per_bucket(interior == mins[bucket_of], bucket_of)
    idx_max = _first_match_per_bucket(interior == maxs[bucket_of], bucket_of)
    all_nan = np.isnan(mins)
    idx_gap = starts[all_nan]
    inner = np.unique(np.concatenate([idx_min, idx_max, idx_gap])) + 1
    return np.concatenate([[0], inner, [n - 1]]).astype(np.int64)


def downsample(
    ts: npt.ArrayLike, values: npt.ArrayLike, max_points: int = DEFAULT_MAX_POINTS
) -> tuple[IntArray, FloatArray]:
    """Thin ``(ts, values)`` to at most ``max_points`` points, keeping first, last and extremes.

    See :func:`downsample_indices` for the rule. Returns new arrays; the inputs are untouched.
    """
    t = np.asarray(ts, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape:
        raise ValueError(f"ts and values differ in length: {t.shape[0]} != {v.shape[0]}")
    keep = downsample_indices(v, max_points)
    return t[keep], v[keep]


def downsample_ohlc(
    ts: npt.ArrayLike,
    open_: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    max_bars: int = DEFAULT_MAX_CANDLES,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Merge consecutive candles into at most ``max_bars`` coarser candles.

    Each merged candle opens at its first bar's open and time, closes at its last bar's close, and
    spans the highest high and lowest low of its bars, so no price extreme is lost.
    """
    t = np.asarray(ts, dtype=np.int64)
    o = np.asarray(open_, dtype=np.float64)
    h = np.asarray(high, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    n = int(t.shape[0])
    if max_bars < 1:
        raise ValueError(f"max_bars must be at least 1, got {max_bars}")
    if n <= max_bars:
        return t.copy(), o.copy(), h.copy(), lo.copy(), c.copy()
    starts = _bucket_edges(n, max_bars)
    ends = np.append(starts[1:], n) - 1
    return (
        t[starts],
        o[starts],
        np.maximum.reduceat(h, starts),
        np.minimum.reduceat(lo, starts),
        c[ends],
    )


def _set_template(fig: go.Figure) -> None:
    """Give ``fig`` the :data:`_TEMPLATE` template the way plotly gives every new figure its
    default one: as the registered, already validated object, not validated again property by
    property (15 of the 17 ms a small figure took to build). Same figure, same JSON."""
    import plotly.io as pio

    template = pio.templates[_TEMPLATE]
    layout = fig.layout
    validate = getattr(layout, "_validate", None)
    if not isinstance(validate, bool):  # not the plotly this knows: validate as usual
        layout.template = template
        return
    layout._validate = False
    try:
        layout.template = template
    finally:
        layout._validate = validate


def _layout(fig: go.Figure, title: str, yaxis_title: str) -> go.Figure:
    _set_template(fig)
    fig.update_layout(
        title=title,
        hovermode="x unified",
        xaxis_title="time (IST)",
        yaxis_title=yaxis_title,
        margin={"l": 60, "r": 30, "t": 60, "b": 40},
        # above the plot, right-aligned: never over the x axis title or the data
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
    )
    return fig


def equity_figure(
    ts: npt.ArrayLike,
    equity: npt.ArrayLike,
    *,
    title: str = "Equity",
    initial_capital: float | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> go.Figure:
    """The equity curve in rupees (thinned), with the starting capital as a dotted line."""
    t, v = downsample(ts, equity, max_points)
    fig = go.Figure(
        go.Scatter(x=ist_axis(t), y=v, mode="lines", name="equity", line={"width": 1.5})
    )
    if initial_capital is not None:
        fig.add_hline(y=initial_capital, line_dash="dot", line_color="grey")
    return _layout(fig, title, "equity (₹)")


def drawdown_figure(
    ts: npt.ArrayLike,
    drawdown: npt.ArrayLike,
    *,
    title: str = "Drawdown",
    max_points: int = DEFAULT_MAX_POINTS,
) -> go.Figure:
    """The drawdown curve (fractions ≤ 0, as ``reporting.metrics.drawdown_series`` gives it),
    shown in percent and filled down from zero."""
    t, v = downsample(ts, drawdown, max_points)
    fig = go.Figure(
        go.Scatter(
            x=ist_axis(t),
            y=v * 100.0,
            mode="lines",
            name="drawdown",
            fill="tozeroy",
            line={"color": _SHORT_COLOUR, "width": 1},
        )
    )
    return _layout(fig, title, "drawdown (%)")


#: Hover text of a merged trade marker lists this many trades, then says how many more.
MARKER_LINES = 5
_ENTRY_KINDS = (
    ("long entry", "triangle-up", _LONG_COLOUR),
    ("short entry", "triangle-down", _SHORT_COLOUR),
)


def _trade_markers(
    trades: Sequence[RoundTrip], candle_ts: IntArray, labels: list[str], merged: bool
) -> list[go.Scatter]:
    """Entry markers (▲ long, ▼ short) and exit markers (✕), each on the displayed candle
    (``candle_ts``: their start times, ``labels``: their categories) that holds its time.

    With one candle per bar (``merged`` false), one marker per distinct candle and price. Where
    bars are merged into coarser displayed candles, a kind's trades within one displayed candle
    become one marker on that candle, at their quantity-weighted average price, its hover text
    listing them (the first :data:`MARKER_LINES`, then how many more): a chart draws at most one
    marker of a kind per candle however many trades the run made (each marker is a node the
    browser draws; the trade table and the CSV keep every trade).
    """
    if not trades:
        return []
    entry_at = _marker_keys(trades, candle_ts, "entry", merged)
    exit_at = _marker_keys(trades, candle_ts, "exit", merged)
    books: dict[str, dict[tuple[int, float], list[tuple[int, float, str]]]] = {
        "long entry": {}, "short entry": {}, "exit": {}
    }  # fmt: skip
    for tr, at_entry, at_exit in zip(trades, entry_at, exit_at, strict=True):
        name = "long entry" if tr.side is Side.BUY else "short entry"
        books[name].setdefault(at_entry, []).append(
            (tr.quantity, tr.entry_price, f"{name} {tr.quantity} @ {tr.entry_price:.2f}")
        )
        exit_line = f"{tr.exit_reason} {tr.quantity} @ {tr.exit_price:.2f}  P&L {tr.pnl:,.2f}"
        books["exit"].setdefault(at_exit, []).append((tr.quantity, tr.exit_price, exit_line))
    traces: list[go.Scatter] = []
    for name, symbol, colour in (*_ENTRY_KINDS, ("exit", "x", _EXIT_COLOUR)):
        book = books[name]
        if book:
            keys = sorted(book)
            marks = [_merged(name, book[k]) for k in keys]
            traces.append(
                _markers(
                    name,
                    [labels[k[0]] for k in keys],
                    [m[0] for m in marks],
                    [m[1] for m in marks],
                    symbol,
                    colour,
                )
            )
    return traces


def _marker_keys(
    trades: Sequence[RoundTrip], candle_ts: IntArray, side: str, merged: bool
) -> list[tuple[int, float]]:
    """Where each trade's entry (or exit) is marked: ``(its displayed candle, price)`` with one
    candle per bar; ``(its displayed candle, 0.0)`` where candles are merged."""
    n = len(trades)
    entry = side == "entry"
    ts = np.fromiter((t.entry_ts if entry else t.exit_ts for t in trades), np.int64, n)
    candle = np.clip(np.searchsorted(candle_ts, ts, "right") - 1, 0, len(candle_ts) - 1).tolist()
    if merged:
        return [(k, 0.0) for k in candle]
    prices = [t.entry_price if entry else t.exit_price for t in trades]
    return list(zip(candle, prices, strict=True))


def _merged(name: str, group: list[tuple[int, float, str]]) -> tuple[float, str]:
    """One marker's price and hover text for a group of trades (quantity, price, line)."""
    if len(group) == 1:
        return group[0][1], group[0][2]
    total = sum(q for q, _, _ in group)
    price = sum(q * p for q, p, _ in group) / total if total else group[0][1]
    plural = "exits" if name == "exit" else f"{name.split()[0]} entries"
    lines = [f"{len(group)} {plural}: {total} @ avg {price:.2f}"]
    lines += [line for _, _, line in group[:MARKER_LINES]]
    if len(group) > MARKER_LINES:
        lines.append(f"… and {len(group) - MARKER_LINES} more")
    return price, "<br>".join(lines)


def _markers(
    name: str, xs: list[str], ys: list[float], text: list[str], symbol: str, colour: str
) -> go.Scatter:
    return go.Scatter(
        x=xs,
        y=ys,
        mode="markers",
        name=name,
        text=text,
        hoverinfo="text+x",
        marker={"symbol": symbol, "size": 11, "color": colour, "line": {"width": 1}},
    )


def candle_labels(candle_ts: npt.ArrayLike, intraday: bool) -> list[str]:
    """Each displayed candle's category on the price chart: its IST start time, to the minute
    (``2026-06-01 09:15``) intraday, the date alone for daily and longer candles."""
    when = ist_axis(candle_ts)
    if not intraday:
        return [str(d) for d in np.datetime_as_string(when, unit="D")]
    return [s.replace("T", " ") for s in np.datetime_as_string(when, unit="m").tolist()]


def _is_intraday(ts: IntArray) -> bool:
    if ts.shape[0] < 2:
        return False
    return bool(np.median(np.diff(ts)) < 86_400)


def price_figure(
    symbol: str,
    ts: npt.ArrayLike,
    open_: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    *,
    trades: Sequence[RoundTrip] = (),
    indicators: Mapping[str, npt.ArrayLike] | None = None,
    plots: Mapping[str, str] | None = None,
    max_bars: int = DEFAULT_MAX_CANDLES,
) -> go.Figure:
    """Candlesticks of one symbol with its trades marked and its indicators drawn.

    Candles are merged to at most ``max_bars`` (:func:`downsample_ohlc`); an indicator is drawn
    once per displayed candle, at its value at the candle's last bar. Each indicator goes where
    :func:`fyerstrade.reporting.plots.plot_kinds` puts it: over the candles, in a panel below
    them (an RSI), or nowhere (a -1/0/+1 signal); ``plots`` are the strategy's declared kinds.
    Only this symbol's trades are drawn. Candles stand side by side (:func:`candle_labels`), so
    nights and weekends take no room.
    """
    from fyerstrade.reporting.plots import plot_kinds

    t_raw = np.asarray(ts, dtype=np.int64)
    t, o, h, lo, c = downsample_ohlc(t_raw, open_, high, low, close, max_bars)
    labels = candle_labels(t, _is_intraday(t_raw))
    fig = go.Figure(
        go.Candlestick(
            x=labels,
            open=o,
            high=h,
            low=lo,
            close=c,
            name=symbol,
            increasing_line_color=_LONG_COLOUR,
            decreasing_line_color=_SHORT_COLOUR,
        )
    )
    price_lo = float(np.nanmin(lo)) if lo.size else 0.0
    price_hi = float(np.nanmax(h)) if h.size else 0.0
    usable = {
        name: np.asarray(series, dtype=np.float64)
        for name, series in (indicators or {}).items()
        if np.asarray(series).shape == t_raw.shape
    }
    kinds = plot_kinds(usable, plots, (price_lo, price_hi))
    # each displayed candle's last bar: an indicator is drawn at its value when the candle closes
    last_bar = np.append(np.searchsorted(t_raw, t[1:], "left") - 1, t_raw.shape[0] - 1)
    panel: list[str] = []
    for name, values in usable.items():
        if kinds[name] == "none":
            continue
        in_panel = kinds[name] == "panel"
        if in_panel:
            panel.append(name)
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=values[last_bar] if t.size else values[:0],
                mode="lines",
                name=name,
                line={"width": 1.2},
                yaxis="y2" if in_panel else "y",
                connectgaps=False,
            )
        )
    merged = t.shape[0] < t_raw.shape[0]
    mine = [tr for tr in trades if tr.symbol == symbol]
    for trace in _trade_markers(mine, t, labels, merged):
        fig.add_trace(trace)
    _layout(fig, f"{symbol}: price and trades", "price (₹)")
    # side by side, no gaps; plotly picks which candles' times to print as tick labels
    fig.update_layout(xaxis_rangeslider_visible=False)
    fig.update_xaxes(type="category", nticks=8, tickangle=0, showgrid=True)
    if panel:
        fig.update_layout(
            yaxis={"domain": [0.3, 1.0]},
            yaxis2={"domain": [0.0, 0.24], "anchor": "x", "title": ", ".join(panel)},
            xaxis={"anchor": "y2"},
        )
    return fig


def comparison_figure(
    curves: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    *,
    title: str = "Equity comparison",
    max_points: int = DEFAULT_MAX_POINTS,
) -> go.Figure:
    """Several equity curves on one chart, each as percent return on its own starting equity,
    so runs with different capital compare fairly. Keys are the legend labels (e.g. run ids)."""
    fig = go.Figure()
    for label, (ts, equity) in curves.items():
        t, v = downsample(ts, equity, max_points)
        if v.size == 0:
            continue
        base = v[0] if v[0] != 0 else 1.0
        fig.add_trace(
            go.Scatter(x=ist_axis(t), y=(v / base - 1.0) * 100.0, mode="lines", name=label)
        )
    return _layout(fig, title, "return (%)")
