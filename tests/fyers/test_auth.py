"""``fyerstrade auth login | status | logout`` against the simulator with the real SDK, the
pasted-URL path, state checking, the token file's mode, and that no secret reaches a log or the
terminal."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import requests

from fyerstrade.cli import main
from fyerstrade.config import load_settings
from fyerstrade.errors import AuthError
from fyerstrade.fyers.auth import login, parse_redirect
from fyerstrade.fyers.tokens import TokenRecord, jwt_claims, load_valid_token, save_token
from fyerstrade.sim import SimServer
from plugins.fyers import make_jwt


def _token_file() -> Path:
    return load_settings(env_file=None).token_file


def test_login_then_status_then_logout(
    sim_env: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["auth", "login", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "Logged in as" in out and "valid until" in out and "IST" in out

    path = _token_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["app_id"] == "SIM-100"
    claims = jwt_claims(saved["access_token"])
    assert saved["expires_at"] == claims["exp"] and saved["issued_at"] == claims["iat"]
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left no temp file

    assert main(["auth", "status"]) == 0
    out = capsys.readouterr().out
    assert "Logged in as" in out and "SIM-100" in out
    assert "refresh tokens in April 2026" in out

    assert main(["auth", "logout"]) == 0
    assert not path.exists()
    assert main(["auth", "status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `fyerstrade auth login`" in err


def test_status_in_expired_token_mode_is_one_line_exit_2(
    sim_env: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["auth", "login", "--timeout", "10"]) == 0
    sim_env.faults.set(expired_token=True)
    capsys.readouterr()
    assert main(["auth", "status"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: ") and "run `fyerstrade auth login`" in captured.err
    assert "Traceback" not in captured.err


def test_locally_expired_token_against_real_fyers_says_what_to_run(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, app_id="ABCD-100")
    token = make_jwt(exp=1_700_000_000, iat=1_699_950_000)
    save_token(settings.token_file, TokenRecord.from_access_token(token, "ABCD-100", now=0))
    with pytest.raises(AuthError, match=r"expired at 2023-11-15 03:43 IST.*fyerstrade auth login"):
        load_valid_token(settings, now=1_700_000_001)


def test_pasted_redirect_url_and_state_check(
    sim_env: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redirect URI that is not on 127.0.0.1 means the user pastes the URL; here the 'user' is
    the simulator's real 302 answer."""
    monkeypatch.setenv("FYERS_REDIRECT_URI", "https://trade.example.in/api-login/redirect")
    settings = load_settings(env_file=None)
    shown: list[str] = []

    def paste(_: str) -> str:
        lines = [part.strip() for text in shown for part in text.splitlines()]
        url = next(line for line in lines if "generate-authcode" in line)
        reply = requests.get(url, allow_redirects=False, timeout=10)
        assert reply.status_code == 302
        return reply.headers["Location"]

    record = login(settings, echo=shown.append, prompt=paste, open_browser=False)
    assert record.app_id == "SIM-100" and settings.token_file.is_file()

    def forged(text: str) -> str:
        location = paste(text)
        answer = parse_redirect(location)
        return location.replace(f"state={answer.state}", "state=forged")

    shown.clear()
    with pytest.raises(AuthError, match="state does not match"):
        login(settings, echo=shown.append, prompt=forged, open_browser=False)


def test_wrong_secret_is_a_config_error_naming_the_keys(
    sim_env: SimServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FYERS_SECRET_KEY", "wrong-secret-4711")
    assert main(["auth", "login", "--timeout", "10"]) == 2
    captured = capsys.readouterr()
    assert "FYERS_SECRET_KEY" in captured.err
    assert "wrong-secret-4711" not in captured.out + captured.err


def test_no_secret_or_token_in_logs_or_output(
    sim_env: SimServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FYERSTRADE_LOG_LEVEL", "DEBUG")
    secret = "sim-secret"
    assert main(["--debug", "auth", "login", "--timeout", "10"]) == 0
    token = json.loads(_token_file().read_text())["access_token"]
    assert main(["--debug", "auth", "status"]) == 0
    sim_env.faults.set(expired_token=True)
    assert main(["--debug", "auth", "status"]) == 2
    sim_env.faults.reset()
    sim_env.faults.set(http_5xx=1)
    assert main(["--debug", "auth", "status"]) == 0
    monkeypatch.setenv("FYERS_SECRET_KEY", "another-wrong-secret")
    assert main(["--debug", "auth", "login", "--timeout", "10"]) == 2
    assert main(["--debug", "auth", "logout"]) == 0

    captured = capsys.readouterr()
    log_dir = load_settings(env_file=None).log_dir
    files = [p for p in log_dir.rglob("*") if p.is_file()]
    assert {"fyersApi.log", "fyersRequests.log"} <= {p.name for p in files}
    for text in [captured.out, captured.err, *(p.read_text(errors="replace") for p in files)]:
        assert token not in text
        assert secret not in text
        assert "another-wrong-secret" not in text
    assert not list(Path.cwd().glob("*.log"))
