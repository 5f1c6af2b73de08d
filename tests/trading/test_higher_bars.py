"""``ctx.bars(symbol, coarser)``: higher-resolution bars bucketed by the calendar's session
segments, exactly as stored bars are resampled — a Muhurat evening session's quarters start at
its own open, the last hour of a normal day is short, and a bar is revealed at its close."""

from __future__ import annotations

from datetime import date, time

import numpy as np

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.candles import CandleArrays
from fyerstrade.data.resample import resample
from fyerstrade.domain import Resolution
from fyerstrade.trading.symbols import HigherBars

FIELDS = ("ts", "open", "high", "low", "close", "volume")
MUHURAT = date(2026, 11, 8)
NORMAL = date(2026, 11, 20)


def five_minute_bars(day: date, open_: time, count: int) -> CandleArrays:
    ts = ist_epoch(day, open_) + 300 * np.arange(count, dtype=np.int64)
    close = 100.0 + np.arange(count, dtype=np.float64)
    return CandleArrays(
        ts=ts, open=close - 0.5, high=close + 1, low=close - 1, close=close,
        volume=np.full(count, 10, dtype=np.int64),
    )  # fmt: skip


def both_days() -> tuple[CandleArrays, int, int]:
    session = get_calendar().session(MUHURAT)
    assert session is not None and session.label == "Muhurat"
    (seg_open, seg_close), *_ = session.segments
    evening = five_minute_bars(MUHURAT, time(0), (seg_close - seg_open) // 300)
    evening = CandleArrays(
        ts=evening.ts - evening.ts[0] + seg_open, open=evening.open, high=evening.high,
        low=evening.low, close=evening.close, volume=evening.volume,
    )  # fmt: skip
    normal = five_minute_bars(NORMAL, time(9, 15), 75)
    joined = CandleArrays(
        *(np.concatenate((getattr(evening, f), getattr(normal, f))) for f in FIELDS)
    )
    return joined, seg_open, seg_close


def test_quarters_and_hours_follow_the_session_segments() -> None:
    bars, seg_open, seg_close = both_days()
    for target in (Resolution.M15, Resolution.M60, Resolution.D):
        hb = HigherBars("NSE:SBIN-EQ", bars, target)
        expected = resample(bars, Resolution.M5, target)
        for field in FIELDS:
            assert np.array_equal(getattr(hb.arrays, field), getattr(expected, field)), field
    quarters = HigherBars("NSE:SBIN-EQ", bars, Resolution.M15)
    assert int(quarters.arrays.ts[0]) == seg_open  # the Muhurat quarters start at its open
    hours = HigherBars("NSE:SBIN-EQ", bars, Resolution.M60)
    last_hour = int(hours.arrays.ts[-1])
    assert last_hour == ist_epoch(NORMAL, time(15, 15))
    assert int(hours.close_ts[-1]) == ist_epoch(NORMAL, time(15, 30))  # the short last hour
    days = HigherBars("NSE:SBIN-EQ", bars, Resolution.D)
    assert days.close_ts.tolist() == [seg_close, ist_epoch(NORMAL, time(15, 30))]


def test_a_bar_is_revealed_at_its_close_and_not_before() -> None:
    bars, seg_open, seg_close = both_days()
    days = HigherBars("NSE:SBIN-EQ", bars, Resolution.D)
    assert len(days.update(seg_close - 1)) == 0
    view = days.update(seg_close)
    assert len(view) == 1 and float(view.close.last) == float(
        bars.close[(seg_close - seg_open) // 300 - 1]
    )
    quarters = HigherBars("NSE:SBIN-EQ", bars, Resolution.M15)
    assert len(quarters.update(seg_open + 900 - 1)) == 0
    assert len(quarters.update(seg_open + 900)) == 1
