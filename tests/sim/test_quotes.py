"""``/data/quotes``: the documented ``v`` keys, prices at the simulator's clock."""

from __future__ import annotations

from typing import Any

from fyerstrade.sim import SimServer

V_KEYS = {
    "ch", "chp", "lp", "spread", "ask", "bid", "open_price", "high_price", "low_price",
    "prev_close_price", "atp", "volume", "short_name", "exchange", "description",
    "original_name", "symbol", "fyToken", "tt",
}  # fmt: skip


def _day(fyers: Any, symbol: str, day: str) -> list[list[float]]:
    params = {"symbol": symbol, "resolution": "1", "date_format": "1", "cont_flag": "1"}
    return list(fyers.history({**params, "range_from": day, "range_to": day})["candles"])


def test_quotes_match_the_day_of_history(fyers: Any) -> None:
    answer = fyers.quotes({"symbols": "NSE:SBIN-EQ,NSE:NIFTY50-INDEX,NSE:NOPE-EQ"})
    assert answer["s"] == "ok"
    sbin, nifty, nope = answer["d"]
    assert nope["s"] == "error"
    assert set(sbin["v"]) == V_KEYS and set(nifty["v"]) == V_KEYS
    today = _day(fyers, "NSE:SBIN-EQ", "2026-11-20")
    yesterday = _day(fyers, "NSE:SBIN-EQ", "2026-11-19")
    v = sbin["v"]
    assert v["lp"] == today[-1][4]  # the clock is after the close: the last minute's close
    assert v["open_price"] == today[0][1]
    assert v["high_price"] == max(c[2] for c in today)
    assert v["low_price"] == min(c[3] for c in today)
    assert v["volume"] == sum(c[5] for c in today)
    assert v["prev_close_price"] == yesterday[-1][4]
    assert v["ch"] == round(v["lp"] - v["prev_close_price"], 2)
    assert v["bid"] < v["lp"] < v["ask"]
    assert v["fyToken"] == "10100000003045" and v["exchange"] == "NSE"
    assert v["tt"] == "1795132800"  # 2026-11-20 00:00 UTC, as in Fyers' sample


def test_more_than_fifty_symbols_is_an_error(fyers: Any, sdk_at_sim: SimServer) -> None:
    symbols = [i.symbol for i in sdk_at_sim.universe().instruments.values()][:51]
    answer = fyers.quotes({"symbols": ",".join(symbols)})
    assert answer["s"] == "error" and answer["code"] == -50 and "50" in answer["message"]
    assert fyers.quotes({"symbols": ",".join(symbols[:50])})["s"] == "ok"
