"""``GET /data/history`` and ``GET /data/quotes``: request parsing, Fyers' limits, and the answer
built from the synthetic market.

Decisions where Fyers' behaviour is not documented (see fyers-api.md §14):

* ``date_format=0``: bars whose open time lies in ``[range_from, range_to]`` (epoch seconds);
  daily bars are chosen by the IST trading date of ``range_from``/``range_to``.
  ``date_format=1``: ``yyyy-mm-dd`` IST dates, ``range_to`` inclusive of that whole day.
* Span limit: at most 100 days (minute resolutions) or 366 days (daily) from ``range_from`` to
  ``range_to`` (for ``date_format=1``, counting both end dates); more is error -50.
* ``range_from`` before 2017-07-03 is error -50 naming the first available date.
* Only complete bars at the simulator's clock: an intraday bar once its end (or the session's
  close) has passed, a daily bar once its session has closed.
* ``oi_flag=1`` appends open interest as a 7th element of each candle (0 for cash instruments);
  ``cont_flag`` is accepted and changes nothing (the simulator has no expired contracts to join).
* A valid request with no bars (a holiday, a future range) answers ``{"s":"no_data",
  "candles":[]}`` with code 200; clients must treat it as "nothing there", not as a failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np

from fyerstrade.calendar import ist_date, ist_epoch
from fyerstrade.domain import Resolution
from fyerstrade.sim.market import DATA_START, EMPTY, Bars, concat, to_tick, utc_midnight
from fyerstrade.sim.state import SimState
from fyerstrade.sim.stats import HistoryRequest
from fyerstrade.sim.universe import SimInstrument

_DAY = 86_400
MAX_QUOTE_SYMBOLS = 50
_RESOLUTIONS = {r.value: r for r in Resolution} | {"1D": Resolution.D}

Answer = tuple[int, dict[str, Any]]


class InvalidParameterError(ValueError):
    """An invalid parameter; the message names it (answered as code -50)."""


def error(code: int, message: str, status: int = 400) -> Answer:
    return status, {"s": "error", "code": code, "message": message}


def _parse_range(params: Mapping[str, str]) -> tuple[str, int, int]:
    """``(date_format, start, end)``: the half-open epoch window ``[start, end)``."""
    fmt = params.get("date_format", "0")
    raw_from, raw_to = params.get("range_from"), params.get("range_to")
    if raw_from is None or raw_to is None:
        raise InvalidParameterError("range_from and range_to are required")
    if fmt == "1":
        try:
            d0, d1 = date.fromisoformat(raw_from), date.fromisoformat(raw_to)
        except ValueError as exc:
            raise InvalidParameterError(
                "range_from/range_to must be yyyy-mm-dd when date_format=1"
            ) from exc
        return fmt, ist_epoch(d0), ist_epoch(d1) + _DAY
    if fmt != "0":
        raise InvalidParameterError(f"invalid date_format {fmt!r}: use 0 (epoch) or 1 (yyyy-mm-dd)")
    try:
        t0, t1 = int(raw_from), int(raw_to)
    except ValueError as exc:
        raise InvalidParameterError(
            "range_from/range_to must be epoch seconds when date_format=0"
        ) from exc
    return fmt, t0, t1 + 1


def _check_range(resolution: Resolution, fmt: str, start: int, end: int) -> None:
    if end <= start:
        raise InvalidParameterError("invalid range: range_to is before range_from")
    limit = resolution.max_days_per_request
    span_days = (end - start) / _DAY if fmt == "1" else (end - 1 - start) / _DAY
    if span_days > limit:
        raise InvalidParameterError(
            f"invalid range: at most {limit} days per request for resolution {resolution.value}"
        )
    if start < ist_epoch(DATA_START):
        raise InvalidParameterError(f"invalid range_from: history is available from {DATA_START}")


def _day_bars(
    state: SimState, inst: SimInstrument, resolution: Resolution, d: date, now: int
) -> Bars:
    bars = state.market.bars(inst, resolution, d, state.root_of(inst))
    if len(bars) == 0:
        return bars
    session = state.cal.session(d)
    assert session is not None  # bars exist only on trading days
    if resolution is Resolution.D:
        return bars if now >= session.close_ts else EMPTY
    closes = np.array([c for _, c in session.segments], dtype=np.int64)
    opens = np.array([o for o, _ in session.segments], dtype=np.int64)
    seg = np.searchsorted(opens, bars.ts, side="right") - 1
    ends = np.minimum(bars.ts + resolution.seconds, closes[seg])
    complete = ends <= now
    return bars if bool(complete.all()) else bars.take(complete)


def history(state: SimState, params: Mapping[str, str]) -> Answer:
    """Candles for one symbol and resolution, or an error envelope; every call is recorded in
    ``state.stats.history`` (errors too, with ``status="error"``)."""
    fmt, start, end = params.get("date_format", "0"), 0, 0
    with contextlib.suppress(InvalidParameterError):  # _history answers it with -50
        fmt, start, end = _parse_range(params)
    status, body = _history(state, params)
    candles = body.get("candles", [])
    state.stats.record_history(
        HistoryRequest(
            symbol=params.get("symbol", ""),
            resolution=params.get("resolution", ""),
            date_format=fmt,
            range_from=params.get("range_from", ""),
            range_to=params.get("range_to", ""),
            start=start,
            end=end,
            status=str(body["s"]),
            candles=len(candles),
        )
    )
    return status, body


def _history(state: SimState, params: Mapping[str, str]) -> Answer:
    symbol = params.get("symbol", "")
    res_text = params.get("resolution", "")
    resolution = _RESOLUTIONS.get(res_text.upper())
    if resolution is None:
        valid = ", ".join(r.value for r in Resolution)
        return error(-50, f"invalid resolution {res_text!r}: use one of {valid}")
    try:
        fmt, start, end = _parse_range(params)
        _check_range(resolution, fmt, start, end)
    except InvalidParameterError as exc:
        return error(-50, str(exc))
    inst = state.instrument(symbol)
    if inst is None:
        return error(-300, "invalid symbol")
    now = state.now()
    first_day, last_day = ist_date(start), ist_date(end - 1)
    days = state.cal.trading_days(first_day, last_day) if first_day <= last_day else []
    parts = [_day_bars(state, inst, resolution, d, now) for d in days]
    bars = concat([p for p in parts if len(p)])
    if resolution is not Resolution.D and len(bars):
        bars = bars.take((bars.ts >= start) & (bars.ts < end))
    rows = bars.rows()
    if params.get("oi_flag") == "1":
        for row, oi in zip(rows, open_interest(state, inst, bars, resolution), strict=True):
            row.append(oi)
    status = "ok" if rows else "no_data"
    return 200, {"s": status, "code": 200, "message": "", "candles": rows}


def open_interest(
    state: SimState, inst: SimInstrument, bars: Bars, resolution: Resolution
) -> list[int]:
    """Open interest at each candle's close (``oi_flag=1``): 0 for cash instruments; for
    derivatives a level that builds up through each session, in whole lots. It depends only on
    the instant, so every resolution reports the same OI at the same time."""
    if not inst.is_derivative or len(bars) == 0:
        return [0] * len(bars)
    out = []
    base = inst.daily_volume * 0.6
    for ts in bars.ts.tolist():
        session = state.cal.session(ist_date(int(ts)))
        if session is None:
            out.append(0)
            continue
        end = session.close_ts if resolution is Resolution.D else ts + resolution.seconds
        span = max(session.close_ts - session.open_ts, 1)
        progress = min(max((end - session.open_ts) / span, 0.0), 1.0)
        out.append(int(base * (0.85 + 0.15 * progress) / inst.lot) * inst.lot)
    return out


def quote(state: SimState, inst: SimInstrument, now: int) -> dict[str, Any]:
    """The ``v`` object of one quote: the last complete minute at ``now`` and the day so far."""
    today = ist_date(now)
    day = today if state.cal.is_trading_day(today) else state.cal.previous_trading_day(today)
    root = state.root_of(inst)
    bars = _day_bars(state, inst, Resolution.M1, day, now)
    if len(bars) == 0:  # before the first minute of today's session closes: yesterday's close
        day = state.cal.previous_trading_day(day)
        bars = _day_bars(state, inst, Resolution.M1, day, now)
    prev_day = state.cal.previous_trading_day(day)
    prev_bars = state.market.minute_bars(inst, prev_day, root)
    lp = float(bars.close[-1]) if len(bars) else 0.0
    prev_close = float(prev_bars.close[-1]) if len(prev_bars) else lp
    ch = round(lp - prev_close, 2)
    tick = inst.tick
    bid = float(to_tick(np.array([lp - tick]), tick)[0]) if lp else 0.0
    ask = float(to_tick(np.array([lp + tick]), tick)[0]) if lp else 0.0
    volume = int(bars.volume.sum()) if len(bars) else 0
    turnover = float(np.dot(bars.close, bars.volume)) if volume else 0.0
    exchange_symbol = inst.symbol.split(":")[1]
    return {
        "ch": ch,
        "chp": round(ch / prev_close * 100, 2) if prev_close else 0.0,
        "lp": lp,
        "spread": round(ask - bid, 2),
        "ask": ask,
        "bid": bid,
        "open_price": float(bars.open[0]) if len(bars) else 0.0,
        "high_price": float(bars.high.max()) if len(bars) else 0.0,
        "low_price": float(bars.low.min()) if len(bars) else 0.0,
        "prev_close_price": prev_close,
        "atp": round(turnover / volume, 2) if volume else lp,
        "volume": volume,
        "short_name": exchange_symbol,
        "exchange": "NSE",
        "description": inst.symbol,
        "original_name": inst.symbol,
        "symbol": inst.symbol,
        "fyToken": inst.fytoken,
        "tt": str(utc_midnight(day)),
    }


def quotes(state: SimState, params: Mapping[str, str]) -> Answer:
    """Quotes of up to 50 comma-separated symbols; unknown ones get a per-symbol error."""
    symbols = [s.strip() for s in params.get("symbols", "").split(",") if s.strip()]
    if not symbols:
        return error(-50, "symbols is required: a comma-separated list of up to 50 symbols")
    if len(symbols) > MAX_QUOTE_SYMBOLS:
        return error(-50, f"at most {MAX_QUOTE_SYMBOLS} symbols per quotes request")
    now = state.now()
    out = []
    for symbol in symbols:
        inst = state.instrument(symbol)
        if inst is None:
            out.append({"n": symbol, "s": "error", "v": {"errmsg": "invalid symbol"}})
        else:
            out.append({"n": symbol, "s": "ok", "v": quote(state, inst, now)})
    return 200, {"s": "ok", "code": 200, "message": "", "d": out}
