"""``live_config.yaml``: what the live engine trades and how (strategy, parameters, symbols,
resolution, mode, capital, risk limits, schedule).

The file lives in the data directory (``Settings.live_config_file``); the dashboard writes it,
``fyerstrade live start|run`` reads it. Every mistake becomes one :class:`ConfigError` line that
names the key (``risk.max_daily_loss``) and, for a misspelt key, the closest valid one.

Example::

    strategy: sma_crossover
    params: {fast: 10, slow: 30}
    symbols: [NSE:SBIN-EQ, NSE:RELIANCE-EQ]
    resolution: "1"            # minutes of the strategy's bars (1 to 240), built from 1-minute bars
    mode: intraday             # intraday (square-off) or positional
    capital: 100000
    quantity: null             # fixed quantity per entry; null sizes by free margin
    costs: true
    slippage_ticks: 0
    slippage_bps: 0
    entry_start: "09:20"
    entry_end: "14:30"
    square_off: "15:15"
    risk:
      max_daily_loss: 5000     # rupees; breached: square off everything, no new entries today
      max_open_positions: 3    # no new entry while this many positions are open
    on_stop: square_off        # what `live stop` does with open positions: square_off or keep
    warmup_bars: 300           # stored 1-minute bars handed to the strategy before it trades
    strategy_seconds: 10       # a strategy call running longer stops trading (the watchdog)
    broker: paper              # paper, or fyers for REAL orders (also needs
                               # FYERSTRADE_REAL_TRADING=true and `live start --real`)
    real:                      # only with broker: fyers
      market_protection_pct: 0.5  # a market order goes as a limit this far beyond the last price
      orders_per_second: 8     # place + modify + cancel together (SEBI's threshold is 10)
      reconcile_seconds: 5     # the orderbook is read this often (and after every reconnect)
      lag_grace_seconds: 10    # Fyers' books may trail its trades this long, then: kill switch
    notify: []                 # apprise URLs: fills, rejections, kill switch, errors, start/stop
    schedule:
      start_before_open: 5     # minutes before the session the engine connects
      stop_after_close: 5      # minutes after the close it stops
      archive: true            # run the tick archive after the close
"""

from __future__ import annotations

import difflib
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from fyerstrade.atomic_file import write_text_atomic
from fyerstrade.domain import Resolution
from fyerstrade.errors import ConfigError, FyersTradeError
from fyerstrade.trading.spec import RiskLimits, StrictModel, TradingSpec

if TYPE_CHECKING:
    from fyerstrade.config import Settings

__all__ = [
    "LiveConfig",
    "RealOrders",
    "RiskLimits",
    "Schedule",
    "dump_live_config",
    "live_config_from_dict",
    "load_live_config",
    "save_live_config",
]


_SESSION_CLOSE = time(15, 30)


class RealOrders(StrictModel):
    """How real orders are sent to Fyers (``broker: fyers`` only)."""

    market_protection_pct: float = Field(
        default=0.5,
        gt=0,
        le=5,
        description="A market order is sent as a limit this many percent beyond the last price.",
    )
    orders_per_second: int = Field(
        default=8, ge=1, le=10, description="Place, modify and cancel requests per second."
    )
    reconcile_seconds: float = Field(
        default=5.0, ge=1, le=300, description="Seconds between orderbook reconciliations."
    )
    lag_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description="Seconds Fyers' orderbook and positions may trail what its trades and "
        "order socket already said (re-read every second meanwhile); longer is a contradiction "
        "that pulls the kill switch.",
    )


class Schedule(StrictModel):
    """When the scheduler runs the engine around the NSE session."""

    start_before_open: int = Field(default=5, ge=0, le=120, description="Minutes before open.")
    stop_after_close: int = Field(default=5, ge=0, le=120, description="Minutes after close.")
    archive: bool = Field(default=True, description="Archive the day's ticks after the close.")


class LiveConfig(TradingSpec):
    """One paper-trading setup: the trading spec (``trading/spec.py``, shared with backtests,
    with the same defaults) and how the live engine runs it."""

    strategy: str = "sma_crossover"
    symbols: list[str] = Field(default_factory=lambda: ["NSE:SBIN-EQ"])
    resolution: Resolution = Resolution.M1
    on_stop: Literal["square_off", "keep"] = "square_off"
    warmup_bars: int = Field(default=300, ge=0, le=100_000)
    strategy_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds one strategy call (on_data, on_fill) may run before the watchdog "
        "stops trading with the strategy, symbol, bar and line it was stuck on.",
    )
    broker: Literal["paper", "fyers"] = "paper"
    real: RealOrders = Field(default_factory=RealOrders)
    notify: list[str] = Field(default_factory=list)
    schedule: Schedule = Field(default_factory=Schedule)

    @field_validator("resolution")
    @classmethod
    def _intraday_resolution(cls, v: Resolution) -> Resolution:
        if not v.is_intraday:
            raise ValueError("live trading needs intraday bars (1 to 240 minutes), not daily")
        return v

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, v: list[str]) -> list[str]:
        out = list(dict.fromkeys(s.strip().upper() for s in v if s.strip()))
        if not out:
            raise ValueError("give at least one symbol, e.g. NSE:SBIN-EQ")
        for s in out:
            exchange, sep, name = s.partition(":")
            if not sep or not exchange or not name:
                raise ValueError(f"{s!r} is not a Fyers symbol (EXCHANGE:NAME, e.g. NSE:SBIN-EQ)")
        return out

    @field_validator("notify")
    @classmethod
    def _notify(cls, v: list[str]) -> list[str]:
        from fyerstrade.live.notify import check_notify_urls

        urls = [u.strip() for u in v if u.strip()]
        try:
            check_notify_urls(urls)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return urls

    @model_validator(mode="after")
    def _square_off_in_session(self) -> LiveConfig:
        if self.square_off > _SESSION_CLOSE:  # (whatever the mode: no time a trader meant)
            raise ValueError(
                f"square_off: {self.square_off:%H:%M} is after the close "
                f"({_SESSION_CLOSE:%H:%M}): intraday positions would never be squared off"
            )
        return self

    def validated(self, settings: Any = None) -> LiveConfig:
        """This config with the strategy resolved and its parameters checked and completed
        (UnknownStrategyError / InputError name the strategy or the parameter)."""
        from fyerstrade.live.config_checks import check_strategy
        from fyerstrade.strategies.base import validate_params
        from fyerstrade.strategies.registry import get_strategy

        cls = get_strategy(self.strategy, settings)
        try:
            params = validate_params(cls, self.params)
        except FyersTradeError as exc:
            raise ConfigError(f"live config params: {exc}") from None
        check_strategy(cls, params)  # the strategy's own checks across parameters (fast < slow)
        return self.model_copy(update={"params": params})

    def checked(self, settings: Settings, day: date | None = None) -> LiveConfig:
        """:meth:`validated`, and the symbols checked against the symbol master as the engine
        will on ``day`` (default: today, IST): everything ``live start`` must know before it
        starts a process (see :mod:`fyerstrade.live.config_checks`)."""
        from fyerstrade.live.config_checks import check_symbols

        config = self.validated(settings)
        when = day if day is not None else datetime.now(ZoneInfo("Asia/Kolkata")).date()
        check_symbols(config.symbols, settings, when)
        return config

    def to_yaml_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        for key in ("entry_start", "entry_end", "square_off"):
            data[key] = getattr(self, key).strftime("%H:%M")
        return data


def _key_hint(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """ " (did you mean 'x'?)" for a misspelt key at ``loc``."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field is not None else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def live_config_from_dict(data: Any, source: str = "live config") -> LiveConfig:
    """Validate ``data`` (parsed YAML); ConfigError names the first bad key or value."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys (strategy, symbols, ...)")
    try:
        return LiveConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc") or ("?",))
        key = ".".join(str(p) for p in loc) or "?"
        if err.get("type") == "extra_forbidden":
            hint = _key_hint(LiveConfig, loc)
            raise ConfigError(f"{source}: unknown key '{key}'{hint}") from None
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if key.startswith(("symbols", "__root__")) or not loc or loc == ("?",):
            raise ConfigError(f"{source}: {msg}") from None
        raise ConfigError(f"{source}: {key}: {msg}") from None


def load_live_config(path: Path, settings: Any = None) -> LiveConfig:
    """Read and validate ``path`` (strategy and parameters included). An empty file, a key
    given twice or a binary file is a :class:`ConfigError`, never a silent default."""
    from fyerstrade.live.config_checks import load_yaml_strictly

    if not path.is_file():
        raise ConfigError(
            f"no live config at {path}; write one with `fyerstrade live config --init` "
            "or from the dashboard's Paper trading page"
        )
    data = load_yaml_strictly(path)
    return live_config_from_dict(data, str(path)).validated(settings)


def dump_live_config(config: LiveConfig) -> str:
    return yaml.safe_dump(config.to_yaml_dict(), sort_keys=False, allow_unicode=True)


def save_live_config(path: Path, config: LiveConfig) -> None:
    """Write ``config`` atomically (a reader never sees half a file)."""
    write_text_atomic(path, dump_live_config(config))
