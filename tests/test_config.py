"""Settings: environment and .env, defaults, derived paths, clear errors, secrets never shown."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from fyerstrade.config import ENV_KEYS, SecretStr, Settings, load_settings
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
    ("key", "value", "message"),
    [
        ("FYERSTRADE_FYERS_URL", "ftp://x", "must start with http:// or https://"),
        ("FYERSTRADE_FYERS_URL", " http://h", "must start with http:// or https://"),
        ("FYERSTRADE_LOG_LEVEL", "LOUD", "must be DEBUG, INFO, WARNING or ERROR"),
        ("FYERSTRADE_LOG_LEVEL", " info ", "must be DEBUG, INFO, WARNING or ERROR"),
        ("FYERSTRADE_RISK_FREE", "lots", "Input should be a valid number, unable to parse string"),
        ("FYERSTRADE_RISK_FREE", "", "Input should be a valid number, unable to parse string"),
        ("FYERSTRADE_RISK_FREE", "0x10", "Input should be a valid number, unable to parse string"),
        ("FYERSTRADE_RISK_FREE", "-inf", "Input should be a finite number"),
        ("FYERSTRADE_RISK_FREE", "1_0", "10 looks like a percentage; write the annual rate"),
        ("FYERSTRADE_REAL_TRADING", " true ", "Input should be a valid boolean"),
        ("FYERSTRADE_REAL_TRADING", "1.0", "Input should be a valid boolean"),
    ],
)
def test_bad_values_name_the_key(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, message: str
) -> None:
    """Each one line naming the key, worded as pydantic-settings worded it (the messages were
    captured from it before it was replaced)."""
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=f"^invalid setting {key}: {message}"):
        load_settings(env_file=None)


def test_secret_value_never_in_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FYERS_SECRET_KEY", "topsecret-123")
    monkeypatch.setenv("FYERSTRADE_RISK_FREE", "nan-ish")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert "topsecret-123" not in str(info.value)


def test_settings_are_frozen(settings: Settings) -> None:
    with pytest.raises(FrozenInstanceError):
        settings.data_dir = Path("/elsewhere")  # type: ignore[misc]


def test_env_example_documents_every_key() -> None:
    example = (Path(__file__).parents[1] / ".env.example").read_text()
    assert list(ENV_KEYS) == [f.name for f in fields(Settings)]
    for key in ENV_KEYS.values():
        assert f"{key}=" in example, f"{key} missing from .env.example"


def test_names_match_in_any_case_and_only_our_names_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("fyerstrade_log_level=warning\nexport FYERS_APP_ID='A B' # note\nOTHER=1\n")
    monkeypatch.setenv("fyerstrade_data_dir", str(tmp_path / "lower"))
    monkeypatch.setenv("DATA_DIR", "/not/ours")  # a generic name another tool may have set
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    s = load_settings(env_file=env)
    assert s.data_dir == tmp_path / "lower"
    assert s.log_level == "WARNING" and s.app_id == "A B"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("FYERSTRADE_RISK_FREE", " 0.065 ", ("risk_free_rate", 0.065)),
        ("FYERSTRADE_RISK_FREE", "1e-3", ("risk_free_rate", 0.001)),
        ("FYERSTRADE_REAL_TRADING", "YES", ("real_trading", True)),
        ("FYERSTRADE_REAL_TRADING", "f", ("real_trading", False)),
        ("FYERSTRADE_FYERS_URL", "http://h:1/", ("fyers_url", "http://h:1")),
        ("FYERSTRADE_FYERS_URL", "  ", ("fyers_url", None)),
        ("FYERSTRADE_STRATEGY_DIR", "", ("strategy_dir", None)),
        ("FYERSTRADE_DATA_DIR", "", ("data_dir", Path("."))),
        ("FYERS_APP_ID", " ", ("app_id", None)),
        ("FYERSTRADE_DASHBOARD_PASSWORD", "", ("dashboard_password", None)),
    ],
)
def test_values_are_read_as_before(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, expected: tuple[str, object]
) -> None:
    """As pydantic-settings read them (captured from it before it was replaced)."""
    monkeypatch.setenv(key, value)
    name, want = expected
    assert getattr(load_settings(env_file=None), name) == want


def test_the_first_bad_value_in_table_order_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FYERSTRADE_RISK_FREE", "bad")
    monkeypatch.setenv("FYERSTRADE_FYERS_URL", "ftp://x")
    with pytest.raises(ConfigError, match="FYERSTRADE_FYERS_URL"):
        load_settings(env_file=None)


def test_overrides_win_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FYERSTRADE_FYERS_URL", "http://env")
    s = load_settings(env_file=None, fyers_url="http://over/", risk_free_rate=0.065)
    assert (s.fyers_url, s.risk_free_rate) == ("http://over", 0.065)
    with pytest.raises(ConfigError, match="FYERSTRADE_FYERS_URL: must start"):
        load_settings(env_file=None, fyers_url="ftp://z")


def test_secrets_are_masked_and_compare_by_value() -> None:
    secret = SecretStr("pin-1234")
    assert "pin-1234" not in repr(secret) and str(secret) == "**********"
    assert secret == SecretStr("pin-1234") and secret != SecretStr("other")
    assert str(SecretStr("")) == ""
