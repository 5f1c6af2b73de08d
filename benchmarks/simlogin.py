"""A simulator access token through the official SDK's login flow (for benchmarks)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from fyerstrade.sim import DEFAULT_APP_ID, DEFAULT_SECRET

__all__ = ["sdk_login"]


def sdk_login(url: str) -> str:
    """A simulator access token through the official SDK's login flow."""
    from fyers_apiv3 import fyersModel

    fyersModel.Config.API = f"{url}/api/v3"
    fyersModel.Config.DATA_API = f"{url}/data"
    session = fyersModel.SessionModel(
        client_id=DEFAULT_APP_ID,
        secret_key=DEFAULT_SECRET,
        redirect_uri="http://127.0.0.1:9/cb",
        response_type="code",
        grant_type="authorization_code",
        state="bench",
    )
    redirect = requests.get(session.generate_authcode(), allow_redirects=False, timeout=10)
    session.set_token(parse_qs(urlsplit(redirect.headers["Location"]).query)["auth_code"][0])
    return str(session.generate_token()["access_token"])
