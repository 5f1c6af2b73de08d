"""Settings from the environment and ``.env``, and every path derived from them.

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

Names are matched case-insensitively; the environment wins over ``.env``. Values are read as
pydantic-settings read them before (this module replaced it: importing pydantic and building
the model was a third of a command's start): paths as given (an empty one is ``.``), a number
through ``float`` (surrounding blanks and ``_`` allowed, never NaN or infinite), a switch from
``true/false``, ``1/0``, ``yes/no``, ``on/off``, ``t/f``, ``y/n`` in any case. The first bad
value, in the order of the table, is one ``ConfigError`` naming its key (never a secret's value).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

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


class SecretStr:
    """A secret string: ``repr``/``str`` show ``**********``; ``get_secret_value()`` is the
    only way to the text."""

    __slots__ = ("_secret",)

    def __init__(self, value: str) -> None:
        self._secret = value

    def get_secret_value(self) -> str:
        return self._secret

    def __str__(self) -> str:
        return "**********" if self._secret else ""

    def __repr__(self) -> str:
        return f"SecretStr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._secret == self._secret

    def __hash__(self) -> int:
        return hash(self._secret)

    def __len__(self) -> int:
        return len(self._secret)


@dataclass(frozen=True)
class Settings:
    """All settings (frozen). Secrets are :class:`SecretStr`: ``repr``/``str`` show
    ``**********``. Built by :func:`load_settings`, which checks every value."""

    data_dir: Path = Path("data")
    log_dir: Path = Path("logs")
    fyers_url: str | None = None
    strategy_dir: Path | None = None
    log_level: str = "INFO"
    risk_free_rate: float = 0.0
    real_trading: bool = False
    app_id: str | None = None
    secret_key: SecretStr | None = None
    redirect_uri: str = "http://127.0.0.1:8766/fyers/callback"
    dashboard_password: SecretStr | None = None

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


#: The environment / ``.env`` key of each setting, in the order values are checked.
ENV_KEYS: dict[str, str] = {
    "data_dir": "FYERSTRADE_DATA_DIR",
    "log_dir": "FYERSTRADE_LOG_DIR",
    "fyers_url": "FYERSTRADE_FYERS_URL",
    "strategy_dir": "FYERSTRADE_STRATEGY_DIR",
    "log_level": "FYERSTRADE_LOG_LEVEL",
    "risk_free_rate": "FYERSTRADE_RISK_FREE",
    "real_trading": "FYERSTRADE_REAL_TRADING",
    "app_id": "FYERS_APP_ID",
    "secret_key": "FYERS_SECRET_KEY",
    "redirect_uri": "FYERS_REDIRECT_URI",
    "dashboard_password": "FYERSTRADE_DASHBOARD_PASSWORD",
}
_KNOWN_KEYS = set(ENV_KEYS.values())

_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _path(v: Any) -> Path:
    return Path(v)


def _optional_path(v: Any) -> Path | None:
    return None if _blank(v) else Path(v)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("Input should be a valid string")
    return v


def _optional_text(v: Any) -> str | None:
    return None if _blank(v) else _text(v)


def _url(v: Any) -> str | None:
    if _blank(v):
        return None
    url = _text(v)
    if not url.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return url.rstrip("/")


def _level(v: Any) -> str:
    level = _text(v).upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


def _rate(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("Input should be a valid number")
    try:
        rate = float(v)
    except (TypeError, ValueError):
        raise ValueError(
            "Input should be a valid number, unable to parse string as a number"
        ) from None
    if not math.isfinite(rate):
        raise ValueError("Input should be a finite number")
    if 1.0 <= rate <= 100.0:
        raise ValueError(
            f"{rate:g} looks like a percentage; write the annual rate as a fraction, "
            f"e.g. {rate / 100:g} for {rate:g} %"
        )
    if not MIN_RISK_FREE <= rate <= MAX_RISK_FREE:
        raise ValueError(
            f"must be an annual rate between {MIN_RISK_FREE:g} and {MAX_RISK_FREE:g} "
            f"(a fraction: 0.065 is 6.5 %), got {rate:g}"
        )
    return rate


def _switch(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in _TRUE | _FALSE:
        return v.lower() in _TRUE
    raise ValueError("Input should be a valid boolean, unable to interpret input")


def _secret(v: Any) -> SecretStr:
    return v if isinstance(v, SecretStr) else SecretStr(_text(v))


def _optional_secret(v: Any) -> SecretStr | None:
    return None if v is None else _secret(v)


def _password(v: Any) -> SecretStr | None:
    return None if v is None or v == "" else _secret(v)


_READ: dict[str, Callable[[Any], Any]] = {
    "data_dir": _path,
    "log_dir": _path,
    "fyers_url": _url,
    "strategy_dir": _optional_path,
    "log_level": _level,
    "risk_free_rate": _rate,
    "real_trading": _switch,
    "app_id": _optional_text,
    "secret_key": _optional_secret,
    "redirect_uri": _text,
    "dashboard_password": _password,
}


def _check_env_file_syntax(env_file: Path) -> str:
    """A ``.env`` that is not UTF-8 text, or has a line that cannot be parsed (an unterminated
    quote), is one ``ConfigError`` naming the line (python-dotenv would only warn and go on
    without the line's setting). Returns the text."""
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
    return text


def _env_file_values(env_file: Path) -> dict[str, str]:
    """The ``.env`` file's values by upper-cased key (a key without ``=`` has none); a
    misspelt FYERSTRADE_*/FYERS_* key is refused, naming it and the closest key."""
    from io import StringIO

    from dotenv import dotenv_values

    text = _check_env_file_syntax(env_file)
    values: dict[str, str] = {}
    for key, value in dotenv_values(stream=StringIO(text)).items():
        upper = key.upper()
        if upper.startswith(("FYERSTRADE_", "FYERS_")) and upper not in _KNOWN_KEYS:
            close = difflib.get_close_matches(upper, sorted(_KNOWN_KEYS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{env_file}: unknown setting {upper}{hint}")
        if value is not None:
            values[upper] = value
    return values


def load_settings(env_file: Path | None = Path(".env"), **overrides: Any) -> Settings:
    """Read settings: ``overrides`` (by field name) over the environment over ``env_file`` over
    the defaults. A bad value becomes one ``ConfigError`` line naming the key (never the value
    of a secret)."""
    unknown = set(overrides) - set(ENV_KEYS)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}")
    from_file = _env_file_values(env_file) if env_file is not None and env_file.is_file() else {}
    from_env = _upper(os.environ)
    values: dict[str, Any] = {}
    for name, key in ENV_KEYS.items():
        if name in overrides:
            raw = overrides[name]
        elif key in from_env:
            raw = from_env[key]
        elif key in from_file:
            raw = from_file[key]
        else:
            continue
        try:
            values[name] = _READ[name](raw)
        except ValueError as exc:
            raise ConfigError(f"invalid setting {key}: {exc}") from None
    return Settings(**values)


def _upper(environ: Mapping[str, str]) -> dict[str, str]:
    """Our keys of the environment by upper-cased name (names match in any case)."""
    return {
        k.upper(): v for k, v in environ.items() if k.upper().startswith(("FYERSTRADE_", "FYERS_"))
    }
