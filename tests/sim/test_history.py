"""``/data/history`` through the official SDK: counts, aggregation, determinism, completeness,
limits and errors."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fyers_apiv3 import fyersModel

from fyerstrade.calendar import get_calendar
from fyerstrade.domain import Resolution
from fyerstrade.sim import SimServer
from plugins.sim import sdk_client, sdk_login, start_sim

IST = ZoneInfo("Asia/Kolkata")
SBIN = "NSE:SBIN-EQ"


def _history(client: Any, symbol: str, resolution: str, start: str, end: str) -> dict[str, Any]:
    return dict(
        client.history(
            {
                "symbol": symbol,
                "resolution": resolution,
                "date_format": "1",
                "range_from": start,
                "range_to": end,
                "cont_flag": "1",
            }
        )
    )


def _epoch(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=IST).timestamp())


@pytest.mark.parametrize("resolution", ["1", "5", "D"])
def test_counts_match_the_calendar(fyers: Any, resolution: str) -> None:
    # 2026-10-26 .. 2026-11-20 holds the Diwali closures and the Sunday Muhurat session.
    answer = _history(fyers, SBIN, resolution, "2026-10-26", "2026-11-20")
    assert answer["s"] == "ok"
    stamps = [c[0] for c in answer["candles"]]
    cal = get_calendar()
    expected = cal.expected_bars(date(2026, 10, 26), date(2026, 11, 20), Resolution(resolution))
    if resolution == "D":
        days = cal.trading_days(date(2026, 10, 26), date(2026, 11, 20))
        # daily candles are stamped 00:00 UTC of the trading date, like Fyers' samples
        assert stamps == [
            int(datetime(d.year, d.month, d.day, tzinfo=ZoneInfo("UTC")).timestamp()) for d in days
        ]
    else:
        assert stamps == expected.tolist()


def test_candles_are_consistent_and_on_tick(fyers: Any) -> None:
    candles = np.array(_history(fyers, SBIN, "1", "2026-11-02", "2026-11-20")["candles"])
    o, h, lo, c, v = candles[:, 1], candles[:, 2], candles[:, 3], candles[:, 4], candles[:, 5]
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all() and (lo > 0).all()
    tick = 0.10  # SBIN in the simulator's master
    for col in (o, h, lo, c):
        assert np.allclose(np.round(col / tick) * tick, col, atol=1e-6)
    assert (v > 0).all() and (v == np.round(v)).all()


def test_five_minute_and_daily_bars_are_aggregates_of_one_minute_bars(fyers: Any) -> None:
    ones = np.array(_history(fyers, "NSE:RELIANCE-EQ", "1", "2026-11-16", "2026-11-20")["candles"])
    fives = np.array(_history(fyers, "NSE:RELIANCE-EQ", "5", "2026-11-16", "2026-11-20")["candles"])
    days = np.array(_history(fyers, "NSE:RELIANCE-EQ", "D", "2026-11-16", "2026-11-20")["candles"])
    bucket = np.searchsorted(fives[:, 0], ones[:, 0], side="right") - 1
    for i, row in enumerate(fives):
        group = ones[bucket == i]
        assert len(group) == 5
        assert row[1] == group[0, 1] and row[4] == group[-1, 4]
        assert row[2] == group[:, 2].max() and row[3] == group[:, 3].min()
        assert row[5] == group[:, 5].sum()
    assert len(days) == 5
    day_of_minute = (ones[:, 0] + 19_800) // 86_400
    for row, day in zip(days, np.unique(day_of_minute), strict=True):
        group = ones[day_of_minute == day]
        assert row[1] == group[0, 1] and row[4] == group[-1, 4]
        assert row[2] == group[:, 2].max() and row[5] == group[:, 5].sum()


def test_one_day_opens_near_the_previous_close(fyers: Any) -> None:
    days = np.array(_history(fyers, SBIN, "D", "2026-01-01", "2026-11-20")["candles"])
    gaps = np.abs(days[1:, 1] / days[:-1, 4] - 1)
    assert gaps.max() < 0.05
    assert np.median(gaps) < 0.01


def _fetch_with(server: SimServer, tmp_path: Path) -> list[list[float]]:
    token = sdk_login(server)
    with sdk_client(token, tmp_path / f"logs-{server.port}") as client:
        return list(_history(client, "NSE:INFY-EQ", "5", "2026-11-18", "2026-11-20")["candles"])


def test_same_seed_same_bars_across_restarts_and_other_seed_differs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    results = []
    for seed in (42, 42, 7):
        server = start_sim(seed=seed)
        try:
            monkeypatch.setattr(fyersModel.Config, "API", f"{server.url}/api/v3")
            monkeypatch.setattr(fyersModel.Config, "DATA_API", f"{server.url}/data")
            results.append(_fetch_with(server, tmp_path))
        finally:
            server.stop()
    assert results[0] == results[1]
    assert len(results[0]) == len(results[2])
    assert results[0] != results[2]


def test_no_still_forming_bar_with_a_pinned_clock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mid_session = _epoch(2026, 11, 20, 11, 7) + 30  # 11:07:30 IST
    server = start_sim(now=mid_session)
    try:
        monkeypatch.setattr(fyersModel.Config, "API", f"{server.url}/api/v3")
        monkeypatch.setattr(fyersModel.Config, "DATA_API", f"{server.url}/data")
        with sdk_client(sdk_login(server), tmp_path / "logs") as client:
            ones = _history(client, SBIN, "1", "2026-11-20", "2026-11-20")["candles"]
            fives = _history(client, SBIN, "5", "2026-11-20", "2026-11-20")["candles"]
            days = _history(client, SBIN, "D", "2026-11-19", "2026-11-20")["candles"]
    finally:
        server.stop()
    assert ones[-1][0] == _epoch(2026, 11, 20, 11, 6)  # 11:06-11:07 is the last complete minute
    assert len(ones) == 112
    assert fives[-1][0] == _epoch(2026, 11, 20, 11, 0)  # 11:05-11:10 is still forming
    assert len(days) == 1  # today's daily bar only after the close
    assert days[0][0] == int(datetime(2026, 11, 19, tzinfo=ZoneInfo("UTC")).timestamp())


def test_epoch_ranges_are_inclusive_of_both_ends(fyers: Any) -> None:
    answer = fyers.history(
        {
            "symbol": SBIN,
            "resolution": "1",
            "date_format": "0",
            "range_from": str(_epoch(2026, 11, 20, 12, 8)),
            "range_to": str(_epoch(2026, 11, 20, 12, 9) + 20),
            "cont_flag": "1",
        }
    )
    assert [c[0] for c in answer["candles"]] == [
        _epoch(2026, 11, 20, 12, 8),
        _epoch(2026, 11, 20, 12, 9),
    ]


def test_span_limits(fyers: Any, sdk_at_sim: SimServer) -> None:
    assert _history(fyers, SBIN, "5", "2026-08-13", "2026-11-20")["s"] == "ok"  # 100 days
    too_long = _history(fyers, SBIN, "5", "2026-08-12", "2026-11-20")
    assert too_long["code"] == -50 and "100 days" in too_long["message"]
    assert _history(fyers, SBIN, "D", "2025-11-20", "2026-11-20")["s"] == "ok"  # 366 days
    too_long = _history(fyers, SBIN, "D", "2025-11-19", "2026-11-20")
    assert too_long["code"] == -50 and "366 days" in too_long["message"]
    backwards = _history(fyers, SBIN, "D", "2026-11-20", "2026-11-01")
    assert backwards["code"] == -50 and "range" in backwards["message"]


def test_data_before_2017_07_03_is_an_error(fyers: Any) -> None:
    answer = _history(fyers, SBIN, "1", "2017-06-01", "2017-07-31")
    assert answer["s"] == "error" and answer["code"] == -50
    assert "2017-07-03" in answer["message"]
    first = _history(fyers, SBIN, "1", "2017-07-03", "2017-07-03")
    assert first["s"] == "ok" and len(first["candles"]) == 375


def test_unknown_symbol_and_bad_resolution(fyers: Any) -> None:
    unknown = _history(fyers, "NSE:NOSUCH-EQ", "5", "2026-11-20", "2026-11-20")
    assert unknown == {"s": "error", "code": -300, "message": "invalid symbol"}
    bad = _history(fyers, SBIN, "7", "2026-11-20", "2026-11-20")
    assert bad["code"] == -50 and "resolution" in bad["message"]


def test_a_holiday_has_no_data(fyers: Any, sdk_at_sim: SimServer) -> None:
    answer = _history(fyers, SBIN, "1", "2026-11-24", "2026-11-24")  # Guru Nanak Jayanti
    assert answer["s"] == "no_data" and answer["candles"] == []
    seen = sdk_at_sim.stats.history[-1]
    assert (seen.symbol, seen.resolution, seen.status, seen.candles) == (SBIN, "1", "no_data", 0)
    assert (seen.range_from, seen.range_to, seen.date_format) == ("2026-11-24", "2026-11-24", "1")


def test_index_has_no_volume_and_derivatives_follow_their_index(
    fyers: Any, sdk_at_sim: SimServer
) -> None:
    day = ("2026-11-20", "2026-11-20")
    index = np.array(
        _history(fyers, "NSE:NIFTY50-INDEX", "1", "2026-11-20", "2026-11-20")["candles"]
    )
    fut = np.array(_history(fyers, "NSE:NIFTY26DECFUT", "1", "2026-11-20", "2026-11-20")["candles"])
    assert (index[:, 5] == 0).all()
    carry = fut[:, 4] / index[:, 4]
    assert (carry > 1.0).all() and (carry < 1.02).all()
    universe = sdk_at_sim.universe()
    calls = sorted(
        (
            i
            for i in universe.instruments.values()
            if i.underlying == "NIFTY" and i.option_type == "CE" and i.expiry == date(2026, 12, 29)
        ),
        key=lambda i: i.strike,
    )
    closes = [_history(fyers, c.symbol, "D", *day)["candles"][0][4] for c in calls[:3]]
    assert closes[0] > closes[1] > closes[2] > 0  # higher strike, cheaper call


def test_oi_flag_appends_open_interest_in_lots(fyers: Any) -> None:
    params = {
        "symbol": "NSE:BANKNIFTY26DECFUT",
        "date_format": "1",
        "range_from": "2026-11-20",
        "range_to": "2026-11-20",
        "cont_flag": "1",
        "oi_flag": "1",
    }
    ones = fyers.history({**params, "resolution": "1"})["candles"]
    fifteens = fyers.history({**params, "resolution": "15"})["candles"]
    assert {len(c) for c in ones} == {7} and all(c[6] > 0 and c[6] % 30 == 0 for c in ones)
    by_ts = {c[0]: c[6] for c in ones}
    for bar in fifteens:  # the OI of a 15-minute bar is the OI of its last minute
        assert bar[6] == by_ts[bar[0] + 14 * 60]
    cash = fyers.history({**params, "symbol": "NSE:SBIN-EQ", "resolution": "D"})["candles"]
    assert cash[0][6] == 0


def test_every_history_call_is_recorded_even_errors(fyers: Any, sdk_at_sim: SimServer) -> None:
    _history(fyers, SBIN, "D", "2026-11-16", "2026-11-20")
    _history(fyers, "NSE:NOSUCH-EQ", "D", "2026-11-16", "2026-11-20")
    _history(fyers, SBIN, "D", "junk", "2026-11-20")
    ok, unknown, junk = sdk_at_sim.stats.history
    assert (ok.status, ok.candles, ok.start) == ("ok", 5, _epoch(2026, 11, 16))
    assert ok.end == _epoch(2026, 11, 21)
    assert (unknown.status, unknown.symbol, unknown.candles) == ("error", "NSE:NOSUCH-EQ", 0)
    assert (junk.status, junk.start, junk.end, junk.range_from) == ("error", 0, 0, "junk")
