"""Settings: environment and .env, defaults, derived paths, clear errors, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from fyerstrade.config import Settings, load_settings
from fyerstrade.errors import ConfigError


def test_defaults_and_derived_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FYERSTRADE_DATA_DIR")
    monkeypatch.delenv("FYERSTRADE_LOG_DIR")
    s = load_settings(env_file=None)
    assert s.data_dir == Path("data")
    assert s.log_dir == Path("logs")
    assert s.fyers_url is None and not s.uses_simulator
    assert s.historical_db == Path("data/historical_market_data.sqlite")
    assert s.live_db.name == "live_market_data.sqlite"
    assert s.trading_db.name == "trading_log.sqlite"
    assert s.token_file.name == "fyers_tokens.json"
    assert s.real_trading is False


def test_env_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "FYERS_APP_ID=ABCD1234-100\nFYERS_SECRET_KEY=s3cr3t-value\n"
        "FYERSTRADE_FYERS_URL=http://127.0.0.1:9999/\nFYERSTRADE_LOG_LEVEL=debug\n"
    )
    monkeypatch.setenv("FYERS_APP_ID", "FROMENV-100")
    s = load_settings(env_file=env)
    assert s.app_id == "FROMENV-100"
    assert s.secret_key is not None and s.secret_key.get_secret_value() == "s3cr3t-value"
    assert s.fyers_url == "http://127.0.0.1:9999"
    assert s.log_level == "DEBUG"
    assert "s3cr3t-value" not in repr(s) and "s3cr3t-value" not in str(s)


def test_unknown_key_in_env_file_is_named_with_suggestion(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("FYERSTRADE_DATADIR=/tmp/x\n")
    with pytest.raises(ConfigError, match=r"FYERSTRADE_DATADIR.*did you mean FYERSTRADE_DATA_DIR"):
        load_settings(env_file=env)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("FYERSTRADE_FYERS_URL", "ftp://x", "FYERSTRADE_FYERS_URL"),
        ("FYERSTRADE_LOG_LEVEL", "LOUD", "FYERSTRADE_LOG_LEVEL"),
        ("FYERSTRADE_RISK_FREE", "lots", "FYERSTRADE_RISK_FREE"),
    ],
)
def test_bad_values_name_the_key(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=needle):
        load_settings(env_file=None)


def test_secret_value_never_in_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FYERS_SECRET_KEY", "topsecret-123")
    monkeypatch.setenv("FYERSTRADE_RISK_FREE", "nan-ish")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert "topsecret-123" not in str(info.value)


def test_settings_are_frozen(settings: Settings) -> None:
    with pytest.raises(Exception, match="frozen"):
        settings.data_dir = Path("/elsewhere")  # type: ignore[misc]


def test_env_example_documents_every_key() -> None:
    example = (Path(__file__).parents[1] / ".env.example").read_text()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names = getattr(alias, "choices", [])
        assert names, field
        assert f"{names[0]}=" in example, f"{names[0]} missing from .env.example"
