"""Logging: files in the log dir, and no token or secret ever reaches a log line or output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fyerstrade.cli import main
from fyerstrade.errors import AuthError
from fyerstrade.logs import redact, register_secret, setup_logging

FAKE_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhY2Nlc3NfdG9rZW4iLCJleHAiOjE3MDB9."
    "c2lnbmF0dXJlLXRoYXQtaXMtZmFrZQ"
)
FAKE_SECRET = "ZX9-FAKE-SECRET-42"


def test_redact_patterns() -> None:
    register_secret(FAKE_SECRET)
    text = (
        f"Authorization: SIM-100:{FAKE_TOKEN} secret_key={FAKE_SECRET} "
        f'{{"access_token": "opaque-token-value"}} pin=1234'
    )
    out = redact(text)
    assert FAKE_TOKEN not in out
    assert FAKE_SECRET not in out
    assert "opaque-token-value" not in out
    assert "1234" not in out
    assert "Authorization" in out  # the key survives, the value does not


def test_secrets_never_reach_log_files_or_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FYERS_SECRET_KEY", FAKE_SECRET)
    log_dir = tmp_path / "logs"
    setup_logging(log_dir, "DEBUG", secrets=[FAKE_SECRET])
    register_secret(FAKE_TOKEN)
    log = logging.getLogger("fyerstrade.test")
    log.info("token is %s", FAKE_TOKEN)
    log.warning("secret is %s", FAKE_SECRET)
    try:
        raise AuthError(f"bad token {FAKE_TOKEN}")
    except AuthError:
        log.exception("while using %s", FAKE_SECRET)
    # An error that carries a secret goes through the CLI's one-line error path too.
    code = main(["--version"])
    assert code == 0
    for handler in logging.getLogger("fyerstrade").handlers:
        handler.flush()
    captured = capsys.readouterr()
    files = list(log_dir.rglob("*"))
    assert files, "a log file was written"
    blobs = [p.read_text(errors="replace") for p in files if p.is_file()]
    blobs += [captured.out, captured.err]
    for blob in blobs:
        assert FAKE_TOKEN not in blob
        assert FAKE_SECRET not in blob
    assert any("token is ***" in b for b in blobs)
