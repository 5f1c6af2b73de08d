"""The registry: built-ins, user strategies from FYERSTRADE_STRATEGY_DIR, broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from fyerstrade.config import load_settings
from fyerstrade.errors import UnknownStrategyError
from fyerstrade.strategies.registry import available_strategies, get_strategy, load_errors

GOOD = """
from fyerstrade.strategies.base import Param, Strategy

class Momentum(Strategy):
    name = "momentum"
    description = "buys strength"
    params = (Param("lookback", int, 20, min=2, help="bars"),)
"""


def test_builtins_are_registered() -> None:
    names = set(available_strategies())
    assert {"sma_crossover", "opening_price_crossover"} <= names


def test_unknown_strategy_suggests_a_name() -> None:
    with pytest.raises(UnknownStrategyError) as err:
        get_strategy("sma_crosover")
    assert str(err.value).startswith(
        "unknown strategy 'sma_crosover' (did you mean 'sma_crossover'?); available:"
    )


def test_user_folder_loads_good_files_and_reports_the_broken_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "momentum.py").write_text(GOOD)
    (folder / "broken.py").write_text("import nonexistent_module_xyz\n")
    (folder / "clash.py").write_text(GOOD.replace('"momentum"', '"sma_crossover"'))
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(folder))
    settings = load_settings(env_file=None)
    cls = get_strategy("momentum", settings)
    assert cls(lookback="5").lookback == 5  # type: ignore[attr-defined]
    errors = load_errors()
    assert any(e.startswith("broken.py: ModuleNotFoundError") for e in errors)
    assert "clash.py: strategy name 'sma_crossover' is already taken" in errors
    assert get_strategy("sma_crossover", settings).__module__.startswith("fyerstrade.")
    with pytest.raises(UnknownStrategyError, match=r"failed to load: .*broken\.py"):
        get_strategy("nothing_like_it", settings)
