"""Settings from the environment and ``.env`` (pydantic-settings), and every path derived from them.

Keys (documented in ``.env.example``):

======================== ============================================ =====================
key                      meaning                                      default
======================== ============================================ =====================
FYERSTRADE_DATA_DIR      databases, token file, live config, PID file ``./data``
FYERSTRADE_LOG_DIR       rotating log files (ours and the SDK's)      ``./logs``
FYERSTRADE_FYERS_URL     base URL of a Fyers-compatible server        unset = real Fyers
FYERSTRADE_STRATEGY_DIR  folder of user strategy ``.py`` files        unset
FYERSTRADE_LOG_LEVEL     console/file log level                       ``INFO``
FYERSTRADE_RISK_FREE     annual risk-free rate for Sharpe/Sortino     ``0``
FYERSTRADE_REAL_TRADING  allow real orders (``true`` to switch on)    ``false``
FYERS_APP_ID             Fyers app id, e.g. ``ABCD1234-100``          unset
FYERS_SECRET_KEY         Fyers app secret (never printed)             unset
FYERS_REDIRECT_URI       redirect URI registered on the app           ``http://127.0.0.1:8766/fyers/callback``
FYERSTRADE_DASHBOARD_    password of the dashboard's login page;      unset (no login)
PASSWORD                 needed to bind beyond 127.0.0.1 (never
                         printed)
======================== ============================================ =====================
"""

from __future__ import annotations

import difflib
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, DotEnvSettingsSource, SettingsConfigDict

from fyerstrade.errors import ConfigError

HISTORICAL_DB = "historical_market_data.sqlite"
LIVE_DB = "live_market_data.sqlite"
TRADING_DB = "trading_log.sqlite"
TOKEN_FILE = "fyers_tokens.json"  # noqa: S105 (a file name, not a secret)
LIVE_CONFIG_FILE = "live_config.yaml"
LIVE_PID_FILE = "live_engine.pid"
LIVE_STATUS_FILE = "live_status.json"
#: Sane bounds of FYERSTRADE_RISK_FREE (an annual rate as a fraction).
MIN_RISK_FREE = -0.05
MAX_RISK_FREE = 0.5


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """All settings. Secrets are ``SecretStr``: ``repr``/``str`` show ``**********``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        allow_inf_nan=False,
    )

    data_dir: Path = Field(default=Path("data"), validation_alias=_env("FYERSTRADE_DATA_DIR"))
    log_dir: Path = Field(default=Path("logs"), validation_alias=_env("FYERSTRADE_LOG_DIR"))
    fyers_url: str | None = Field(default=None, validation_alias=_env("FYERSTRADE_FYERS_URL"))
    strategy_dir: Path | None = Field(
        default=None, validation_alias=_env("FYERSTRADE_STRATEGY_DIR")
    )
    log_level: str = Field(default="INFO", validation_alias=_env("FYERSTRADE_LOG_LEVEL"))
    risk_free_rate: float = Field(default=0.0, validation_alias=_env("FYERSTRADE_RISK_FREE"))
    real_trading: bool = Field(default=False, validation_alias=_env("FYERSTRADE_REAL_TRADING"))
    app_id: str | None = Field(default=None, validation_alias=_env("FYERS_APP_ID"))
    secret_key: SecretStr | None = Field(default=None, validation_alias=_env("FYERS_SECRET_KEY"))
    redirect_uri: str = Field(
        default="http://127.0.0.1:8766/fyers/callback",
        validation_alias=_env("FYERS_REDIRECT_URI"),
    )
    dashboard_password: SecretStr | None = Field(
        default=None, validation_alias=_env("FYERSTRADE_DASHBOARD_PASSWORD")
    )

    @field_validator("dashboard_password", mode="before")
    @classmethod
    def _no_empty_password(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v else v

    @field_validator("fyers_url", "strategy_dir", "app_id", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("fyers_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("risk_free_rate")
    @classmethod
    def _rate(cls, v: float) -> float:
        if 1.0 <= v <= 100.0:
            raise ValueError(
                f"{v:g} looks like a percentage; write the annual rate as a fraction, "
                f"e.g. {v / 100:g} for {v:g} %"
            )
        if not MIN_RISK_FREE <= v <= MAX_RISK_FREE:
            raise ValueError(
                f"must be an annual rate between {MIN_RISK_FREE:g} and {MAX_RISK_FREE:g} "
                f"(a fraction: 0.065 is 6.5 %), got {v:g}"
            )
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        level = v.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    # ---- derived paths -------------------------------------------------------------------
    @cached_property
    def historical_db(self) -> Path:
        return self.data_dir / HISTORICAL_DB

    @cached_property
    def live_db(self) -> Path:
        return self.data_dir / LIVE_DB

    @cached_property
    def trading_db(self) -> Path:
        return self.data_dir / TRADING_DB

    @cached_property
    def token_file(self) -> Path:
        return self.data_dir / TOKEN_FILE

    @cached_property
    def live_config_file(self) -> Path:
        return self.data_dir / LIVE_CONFIG_FILE

    @cached_property
    def live_pid_file(self) -> Path:
        return self.data_dir / LIVE_PID_FILE

    @cached_property
    def live_status_file(self) -> Path:
        return self.data_dir / LIVE_STATUS_FILE

    @property
    def uses_simulator(self) -> bool:
        return self.fyers_url is not None

    def secret_values(self) -> list[str]:
        """Every secret string, for the log redaction filter."""
        return [
            secret.get_secret_value()
            for secret in (self.secret_key, self.dashboard_password)
            if secret is not None
        ]


_KNOWN_KEYS = {
    "FYERSTRADE_DATA_DIR",
    "FYERSTRADE_LOG_DIR",
    "FYERSTRADE_FYERS_URL",
    "FYERSTRADE_STRATEGY_DIR",
    "FYERSTRADE_LOG_LEVEL",
    "FYERSTRADE_RISK_FREE",
    "FYERSTRADE_REAL_TRADING",
    "FYERS_APP_ID",
    "FYERS_SECRET_KEY",
    "FYERS_REDIRECT_URI",
    "FYERSTRADE_DASHBOARD_PASSWORD",
}


def _check_env_file_syntax(env_file: Path) -> None:
    """A ``.env`` that is not UTF-8 text, or has a line that cannot be parsed (an unterminated
    quote), is one ``ConfigError`` naming the line (python-dotenv would only warn and go on
    without the line's setting)."""
    from io import StringIO

    from dotenv.parser import parse_stream

    try:
        text = env_file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{env_file} is not UTF-8 text (undecodable byte at offset {exc.start}); "
            "rewrite it as KEY=VALUE lines"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {env_file}: {exc.strerror}") from None
    if "\x00" in text:
        raise ConfigError(
            f"{env_file} is not a text file (NUL bytes); rewrite it as KEY=VALUE lines"
        )
    for binding in parse_stream(StringIO(text)):
        if binding.error:
            line = binding.original.line
            hint = (
                " (an unterminated quote?)"
                if any(q in binding.original.string for q in "'\"")
                else ""
            )
            raise ConfigError(
                f"{env_file} line {line}: cannot read this line{hint}; write it as KEY=VALUE"
            )


def _check_env_file_keys(env_file: Path) -> None:
    """Reject a misspelt FYERSTRADE_*/FYERS_* key in ``.env``, naming it and the closest key."""
    if not env_file.is_file():
        return
    _check_env_file_syntax(env_file)
    source = DotEnvSettingsSource(Settings, env_file=env_file)
    for key in source.env_vars:
        upper = key.upper()
        if upper.startswith(("FYERSTRADE_", "FYERS_")) and upper not in _KNOWN_KEYS:
            close = difflib.get_close_matches(upper, sorted(_KNOWN_KEYS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{env_file}: unknown setting {upper}{hint}")


def load_settings(env_file: Path | None = Path(".env"), **overrides: Any) -> Settings:
    """Read settings; a bad value becomes one ``ConfigError`` line naming the key (never the value
    of a secret)."""
    if env_file is not None:
        _check_env_file_keys(env_file)
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ("?",)
        key = str(loc[0])
        field = Settings.model_fields.get(key)
        if field is not None and isinstance(field.validation_alias, AliasChoices):
            key = str(field.validation_alias.choices[0])
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {key}: {msg}") from None
