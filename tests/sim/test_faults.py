"""Each fault switch, seen the way clients see it (the official SDK, or plain ``requests``)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from fyerstrade.sim import SimServer

HISTORY = {
    "symbol": "NSE:SBIN-EQ",
    "resolution": "D",
    "date_format": "1",
    "range_from": "2026-11-16",
    "range_to": "2026-11-20",
    "cont_flag": "1",
}


def test_expired_token(fyers: Any, sdk_at_sim: SimServer) -> None:
    sdk_at_sim.faults.set(expired_token=True)
    assert fyers.funds()["code"] == -16
    assert fyers.history(HISTORY)["code"] == -16
    assert fyers.quotes({"symbols": "NSE:SBIN-EQ"})["code"] == -15
    sdk_at_sim.faults.set(expired_token=False)
    assert fyers.funds()["s"] == "ok"


def test_http_5xx_hits_the_next_n_requests(fyers: Any, sdk_at_sim: SimServer) -> None:
    sdk_at_sim.faults.set(http_5xx=2)
    # The SDK flattens a non-JSON error page into "Bad request" with the HTTP status as code.
    assert fyers.history(HISTORY) == {"s": "error", "code": 502, "message": "Bad request"}
    raw = requests.get(f"{sdk_at_sim.url}/data/history", timeout=10)
    assert raw.status_code == 502 and "<html>" in raw.text
    assert fyers.history(HISTORY)["s"] == "ok"
    assert sdk_at_sim.faults.http_5xx == 0


def test_history_5xx_hits_only_history_requests(fyers: Any, sdk_at_sim: SimServer) -> None:
    sdk_at_sim.faults.set(history_5xx=1)
    assert fyers.funds()["s"] == "ok"  # the rest of the API answers, and takes nothing
    assert fyers.quotes({"symbols": "NSE:SBIN-EQ"})["s"] == "ok"
    assert sdk_at_sim.faults.history_5xx == 1
    assert fyers.history(HISTORY) == {"s": "error", "code": 502, "message": "Bad request"}
    assert fyers.history(HISTORY)["s"] == "ok"
    assert sdk_at_sim.faults.history_5xx == 0


def test_slow_answers(sdk_at_sim: SimServer) -> None:
    sdk_at_sim.faults.set(slow=2.0)
    with pytest.raises(requests.Timeout):
        requests.get(f"{sdk_at_sim.url}/sym_details/NSE_CM.csv", timeout=0.3)
    sdk_at_sim.faults.set(slow=0)
    assert requests.get(f"{sdk_at_sim.url}/sym_details/NSE_CM.csv", timeout=10).ok


def test_truncated_body(fyers: Any, sdk_at_sim: SimServer, sim_token: str) -> None:
    sdk_at_sim.faults.set(truncated_body=1)
    headers = {"Authorization": f"SIM-100:{sim_token}"}
    resp = requests.get(f"{sdk_at_sim.url}/data/history", params=HISTORY, headers=headers)
    assert resp.status_code == 200
    assert resp.text.startswith('{"s": "ok"') or resp.text.startswith('{"s":"ok"')
    with pytest.raises(requests.JSONDecodeError):
        resp.json()
    sdk_at_sim.faults.set(truncated_body=1)
    assert fyers.history(HISTORY)["s"] == "error"  # the SDK cannot parse it either
    assert fyers.history(HISTORY)["s"] == "ok"


def test_malformed_body(fyers: Any, sdk_at_sim: SimServer) -> None:
    sdk_at_sim.faults.set(malformed_body=1)
    answer = fyers.funds()
    assert answer["s"] == "error" and answer["code"] == 200  # what the SDK makes of bad JSON
    assert fyers.funds()["s"] == "ok"


def test_symbol_master_download_breaks_off_half_way(sim: SimServer) -> None:
    full = requests.get(f"{sim.url}/sym_details/NSE_FO.csv", timeout=10).content
    sim.faults.set(symbol_master_break=True)
    with requests.get(f"{sim.url}/sym_details/NSE_FO.csv", timeout=10, stream=True) as resp:
        assert int(resp.headers["Content-Length"]) == len(full)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            _ = resp.content
    sim.faults.set(symbol_master_break=False)
    assert requests.get(f"{sim.url}/sym_details/NSE_FO.csv", timeout=10).content == full


def test_unknown_fault_is_rejected(sim: SimServer) -> None:
    with pytest.raises(ValueError, match=r"did you mean 'expired_token'\?"):
        sim.faults.set(expird_token=True)
    with pytest.raises(ValueError, match="http_5xx"):
        sim.faults.set(http_5xx=-1)
