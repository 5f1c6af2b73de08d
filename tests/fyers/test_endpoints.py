"""Endpoint redirection against the pinned SDK: fails when an SDK upgrade renames what we patch."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from fyerstrade.config import load_settings
from fyerstrade.fyers import endpoints
from fyerstrade.fyers.sdk_session import build_model
from plugins.fyers import Reply, ScriptedFyers, make_jwt


def test_pinned_sdk_version() -> None:
    # endpoints.py patches attributes of this exact version; re-check them on an upgrade.
    assert version("fyers_apiv3") == "3.2.0"


def test_sdk_still_has_what_we_patch() -> None:
    from fyers_apiv3 import fyersModel

    assert fyersModel.Config.API.endswith("/api/v3")
    assert hasattr(fyersModel.Config, "DATA_API")
    assert fyersModel.Config.auth == "/generate-authcode"
    assert fyersModel.Config.generate_access_token == "/validate-authcode"
    assert fyersModel.Config.history == "/history"
    sync = fyersModel.FyersServiceSync(None, None)
    assert hasattr(sync, "session") and isinstance(sync.error_resp, dict)


def test_point_sdk_at_redirects_and_restores() -> None:
    from fyers_apiv3 import fyersModel

    endpoints.point_sdk_at(load_settings(env_file=None, fyers_url="http://127.0.0.1:9/x"))
    assert endpoints.sdk_rest_bases() == (
        "http://127.0.0.1:9/x/api/v3",
        "http://127.0.0.1:9/x/data",
    )
    session = fyersModel.SessionModel(
        client_id="SIM-100",
        redirect_uri="http://127.0.0.1:1/cb",
        response_type="code",
        state="abc",
        grant_type="authorization_code",
    )
    assert session.generate_authcode().startswith(
        "http://127.0.0.1:9/x/api/v3/generate-authcode?client_id=SIM-100"
    )
    endpoints.point_sdk_at(load_settings(env_file=None))
    assert endpoints.sdk_rest_bases() == (endpoints.FYERS_API, endpoints.FYERS_DATA_API)


def test_sdk_requests_reach_the_configured_server(scripted_fyers: ScriptedFyers) -> None:
    scripted_fyers.push(Reply(body={"s": "ok", "code": 200, "data": {"fy_id": "X"}}))
    settings = load_settings(env_file=None, fyers_url=scripted_fyers.url)
    endpoints.point_sdk_at(settings)
    model, _ = build_model(
        app_id="SIM-100",
        access_token=make_jwt(exp=2_000_000_000),
        log_dir=settings.log_dir,
        timeout=2.0,
    )
    assert model.get_profile()["data"] == {"fy_id": "X"}
    assert scripted_fyers.paths() == ["/api/v3/profile"]


def test_public_and_socket_urls() -> None:
    assert endpoints.public_url(None, "sym_details/NSE_CM.csv") == (
        "https://public.fyers.in/sym_details/NSE_CM.csv"
    )
    assert endpoints.public_url("http://127.0.0.1:8765", "/sym_details/NSE_FO.csv") == (
        "http://127.0.0.1:8765/sym_details/NSE_FO.csv"
    )
    assert endpoints.data_socket_url(None) == "wss://socket.fyers.in/hsm/v1-5/prod"
    assert endpoints.data_socket_url("http://127.0.0.1:8765") == "ws://127.0.0.1:8765/hsm/v1-5/prod"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_data_socket_redirection_uses_attributes_the_sdk_has() -> None:
    from fyers_apiv3.FyersWebsocket import data_ws, defines

    assert defines.INDEX_HSM_MAPPING_API.startswith(("https://public.fyers.in/", "http://"))

    class Bare:
        pass

    socket = Bare()
    settings = load_settings(env_file=None, fyers_url="http://127.0.0.1:8765")
    endpoints.redirect_data_socket(socket, settings)
    assert socket._FyersDataSocket__url == "ws://127.0.0.1:8765/hsm/v1-5/prod"  # type: ignore[attr-defined]
    assert defines.INDEX_HSM_MAPPING_API == (
        "http://127.0.0.1:8765/sym_details/index_hsm_mapping.json"
    )
    # the name the socket's connect path looks up and the instance attribute it posts to
    src = Path(data_ws.__file__).read_text()
    assert "conv = SymbolConversion(" in src
    assert 'self.symbols_token_api = "https://api-t1.fyers.in/data/symbol-token"' in src
    original = data_ws._fyerstrade_original_symbol_conversion
    assert issubclass(data_ws.SymbolConversion, original)
    # the real FyersDataSocket stores its URL under the mangled name we set
    assert 'self.__url = "wss://socket.fyers.in/hsm/v1-5/prod"' in src
    endpoints.redirect_data_socket(Bare(), load_settings(env_file=None))
    assert defines.INDEX_HSM_MAPPING_API == endpoints.FYERS_INDEX_MAP
