"""One trading spec: ``BacktestConfig`` and ``LiveConfig`` extend ``TradingSpec`` — the same
fields, types, defaults and strictness — and a sweep stores and restores a config whole."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.backtest.optimize.runner import config_from_json, config_to_json
from fyerstrade.domain import Resolution
from fyerstrade.errors import ConfigError, InputError
from fyerstrade.live.config import LiveConfig, live_config_from_dict
from fyerstrade.trading.defaults import RUN_DEFAULTS
from fyerstrade.trading.spec import RiskLimits, TradingSpec

BASE: dict[str, Any] = dict(
    strategy="sma_crossover",
    params={"fast": 5, "slow": 20},
    symbols=["NSE:SBIN-EQ"],
    resolution=Resolution.M5,
    start=date(2024, 1, 1),
    end=date(2024, 3, 31),
)


def test_both_configs_are_the_one_spec_with_the_one_set_of_defaults() -> None:
    shared = set(TradingSpec.model_fields)
    assert issubclass(BacktestConfig, TradingSpec) and issubclass(LiveConfig, TradingSpec)
    assert shared <= set(BacktestConfig.model_fields) and shared <= set(LiveConfig.model_fields)
    backtest, live = BacktestConfig(**BASE), LiveConfig()
    for name in shared - {"strategy", "params", "symbols", "resolution"}:
        assert getattr(backtest, name) == getattr(live, name), name
    assert live.mode == backtest.mode == RUN_DEFAULTS.mode == "positional"
    assert (live.entry_start, live.square_off) == (RUN_DEFAULTS.entry_start, time(15, 15))
    assert live.risk == backtest.risk == RiskLimits()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"capital": float("nan")}, "backtest config: capital must be a finite number, got nan"),
        ({"capital": -5}, "backtest config: capital: Input should be greater than 0"),
        ({"quantity": 0}, "backtest config: quantity: Input should be greater than or equal to 1"),
        ({"colour": "red"}, "backtest config: unknown key 'colour'"),
        ({"risk": {"max_daily_loss": float("inf")}}, "risk.max daily loss must be a finite number"),
        (
            {"entry_start": time(14), "entry_end": time(10)},
            "backtest config: entry_end 10:00 is before entry_start 14:00",
        ),
    ],
)
def test_a_bad_backtest_config_is_one_line(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as exc:
        BacktestConfig(**(BASE | change))
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_the_live_config_is_as_strict() -> None:
    with pytest.raises(ConfigError, match="live config: capital: Input should be a finite"):
        live_config_from_dict({"capital": float("nan")})
    with pytest.raises(ConfigError, match=r"live config: risk\.max_daily_loss: Input should be"):
        live_config_from_dict({"risk": {"max_daily_loss": float("inf")}})
    assert live_config_from_dict({"mode": "intraday"}).mode == "intraday"


def test_a_value_is_checked_when_assigned_too() -> None:
    config = BacktestConfig(**BASE)
    config.start = date(2024, 2, 1)
    with pytest.raises(ValueError, match="greater than 0"):
        config.capital = 0


def test_positional_values_keep_their_old_order() -> None:
    config = BacktestConfig("sma_crossover", {}, ["X"], Resolution.M5, date(2024, 1, 1),
                            date(2024, 1, 31), "intraday", 5e5)  # fmt: skip
    assert (config.mode, config.capital, config.symbols) == ("intraday", 5e5, ["X"])


def test_a_sweep_restores_its_config_with_the_risk_limits() -> None:
    config = BacktestConfig(
        **BASE, mode="intraday", quantity=10, risk=RiskLimits(max_daily_loss=2500)
    )
    stored = config_to_json(config)
    assert stored["risk"] == {"max_daily_loss": 2500.0, "max_open_positions": None}
    back = config_from_json(stored, "sma_crossover")
    assert back == config.model_copy(update={"params": {}})
    # a sweep stored before risk limits existed (or with them as text) has none
    old = {k: v for k, v in stored.items() if k != "risk"}
    assert config_from_json(old, "sma_crossover").risk == RiskLimits()
    assert config_from_json(old | {"risk": "max_daily_loss=None"}, "x").risk == RiskLimits()
