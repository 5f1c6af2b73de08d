"""Login and account endpoints, driven by the official SDK over real HTTP."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests
from fyers_apiv3 import fyersModel

from fyerstrade.sim import DEFAULT_APP_ID, DEFAULT_SECRET, SimServer
from plugins.sim import SIM_NOW, sdk_client, sdk_login, start_sim

IST = ZoneInfo("Asia/Kolkata")


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _session(**overrides: Any) -> Any:
    args: dict[str, Any] = {
        "client_id": DEFAULT_APP_ID,
        "secret_key": DEFAULT_SECRET,
        "redirect_uri": "http://127.0.0.1:9/cb",
        "response_type": "code",
        "grant_type": "authorization_code",
        "state": "abc",
    }
    args.update(overrides)
    return fyersModel.SessionModel(**args)


def _auth_code(session: Any) -> str:
    resp = requests.get(session.generate_authcode(), allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:9/cb"
    query = parse_qs(location.query)
    assert query["s"] == ["ok"] and query["code"] == ["200"] and query["state"] == ["abc"]
    return query["auth_code"][0]


def test_login_flow_issues_a_fyers_shaped_token(sdk_at_sim: SimServer) -> None:
    token = sdk_login(sdk_at_sim)
    claims = _claims(token)
    assert claims["sub"] == "access_token"
    assert claims["iss"] == "api.fyers.in"
    assert claims["fy_id"] == "XS00001"
    assert claims["hsm_key"] and claims["display_name"]
    assert claims["iat"] == SIM_NOW
    # Issued 2026-11-20 16:00 IST: expires at 06:00 IST the next morning.
    assert claims["exp"] == int(datetime(2026, 11, 21, 6, 0, tzinfo=IST).timestamp())


def test_token_issued_before_six_expires_the_same_morning(monkeypatch: Any) -> None:
    early = int(datetime(2026, 11, 20, 0, 50, tzinfo=IST).timestamp())
    server = start_sim(now=early)
    try:
        monkeypatch.setattr(fyersModel.Config, "API", f"{server.url}/api/v3")
        claims = _claims(sdk_login(server))
        assert claims["exp"] == int(datetime(2026, 11, 20, 6, 0, tzinfo=IST).timestamp())
    finally:
        server.stop()


def test_wrong_secret_is_rejected_with_371(sdk_at_sim: SimServer) -> None:
    session = _session(secret_key="not-the-secret")
    session.set_token(_auth_code(session))
    answer = session.generate_token()
    assert answer["s"] == "error" and answer["code"] == -371


def test_missing_grant_type_is_rejected_with_441(sdk_at_sim: SimServer) -> None:
    session = _session(grant_type=None)
    session.set_token(_auth_code(session))
    assert session.generate_token()["code"] == -441


def test_bad_or_reused_auth_code_is_rejected_with_437(sdk_at_sim: SimServer) -> None:
    session = _session()
    session.set_token("not-a-code")
    assert session.generate_token()["code"] == -437
    session.set_token(_auth_code(session))
    assert session.generate_token()["s"] == "ok"
    assert session.generate_token()["code"] == -437  # auth codes are single-use


def test_auth_code_expires(monkeypatch: Any) -> None:
    now = [SIM_NOW]
    from fyerstrade.sim import SimConfig

    server = SimServer(SimConfig(port=0, clock=lambda: now[0]))
    server.start()
    try:
        monkeypatch.setattr(fyersModel.Config, "API", f"{server.url}/api/v3")
        session = _session()
        session.set_token(_auth_code(session))
        now[0] += 3600
        assert session.generate_token()["code"] == -437
    finally:
        server.stop()


def test_unknown_client_id_gets_an_error_not_a_redirect(sdk_at_sim: SimServer) -> None:
    url = _session(client_id="NOPE-100").generate_authcode()
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["s"] == "error"


def test_profile_and_funds(fyers: Any) -> None:
    profile = fyers.get_profile()
    assert profile["s"] == "ok"
    assert profile["data"]["fy_id"] == "XS00001"
    funds = fyers.funds()
    assert funds["s"] == "ok"
    by_title = {f["title"]: f for f in funds["fund_limit"]}
    assert len(funds["fund_limit"]) == 10
    assert by_title["Clear Balance"]["equityAmount"] > 0


def test_logout_invalidates_the_token(fyers: Any) -> None:
    assert fyers.logout()["s"] == "ok"
    answer = fyers.get_profile()
    assert answer == {"s": "error", "code": -16, "message": "Could not authenticate the user"}


def test_bad_token_gets_401_with_16_and_quotes_get_15(sdk_at_sim: SimServer) -> None:
    headers = {"Authorization": f"{DEFAULT_APP_ID}:garbage"}
    resp = requests.get(f"{sdk_at_sim.url}/api/v3/funds", headers=headers, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["code"] == -16
    resp = requests.get(
        f"{sdk_at_sim.url}/data/quotes", params={"symbols": "NSE:SBIN-EQ"}, headers=headers
    )
    assert resp.status_code == 401
    assert resp.json() == {"s": "error", "code": -15, "message": "Please provide valid token"}


def test_token_of_another_app_id_is_rejected(sdk_at_sim: SimServer, sim_token: str) -> None:
    headers = {"Authorization": f"OTHER-100:{sim_token}"}
    resp = requests.get(f"{sdk_at_sim.url}/api/v3/profile", headers=headers, timeout=10)
    assert resp.json()["code"] == -16


def test_token_expires_at_six_ist(monkeypatch: Any, tmp_path: Path) -> None:
    now = [SIM_NOW]
    from fyerstrade.sim import SimConfig

    server = SimServer(SimConfig(port=0, clock=lambda: now[0]))
    server.start()
    try:
        monkeypatch.setattr(fyersModel.Config, "API", f"{server.url}/api/v3")
        token = sdk_login(server)
        with sdk_client(token, tmp_path / "logs") as client:
            assert client.get_profile()["s"] == "ok"
            now[0] = int(datetime(2026, 11, 21, 6, 0, tzinfo=IST).timestamp())
            assert client.get_profile()["code"] == -16
    finally:
        server.stop()


def test_symbol_token_endpoint_as_the_data_socket_calls_it(
    sdk_at_sim: SimServer, sim_token: str
) -> None:
    resp = requests.post(
        f"{sdk_at_sim.url}/data/symbol-token",
        headers={"Authorization": sim_token, "Content-Type": "application/json"},
        json={"symbols": ["NSE:SBIN-EQ", "NSE:NIFTY50-INDEX", "NSE:NOPE-EQ"]},
        timeout=10,
    )
    body = resp.json()
    assert body["s"] == "ok"
    assert body["validSymbol"] == {
        "NSE:SBIN-EQ": "10100000003045",
        "NSE:NIFTY50-INDEX": "101000000026000",
    }
    assert body["invalidSymbol"] == ["NSE:NOPE-EQ"]
