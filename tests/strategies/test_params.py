"""Parameter declarations and validation messages."""

from __future__ import annotations

import pytest

from fyerstrade.errors import InputError
from fyerstrade.strategies.base import parse_param_pairs, validate_params
from fyerstrade.strategies.opening_price_crossover import OpeningPriceCrossover
from fyerstrade.strategies.sma_crossover import SmaCrossover


def test_cli_strings_are_converted_and_missing_names_get_defaults() -> None:
    values = validate_params(SmaCrossover, parse_param_pairs(["fast=5", "allow_short=yes"]))
    assert values == {"fast": 5, "slow": 30, "allow_short": True}
    assert validate_params(OpeningPriceCrossover, {"exit_pct1": "0.5"})["exit_pct1"] == 0.5


def test_unknown_parameter_suggests_the_closest_name() -> None:
    with pytest.raises(InputError) as err:
        validate_params(SmaCrossover, {"fsat": "5"})
    assert str(err.value) == "unknown parameter 'fsat' for sma_crossover (did you mean 'fast'?)"


def test_out_of_range_names_the_bounds() -> None:
    with pytest.raises(InputError) as err:
        validate_params(OpeningPriceCrossover, {"exit_pct1": "1.5"})
    assert str(err.value) == (
        "parameter 'exit_pct1' of opening_price_crossover must be between 0 and 1, got 1.5"
    )


def test_wrong_type_is_one_clear_line() -> None:
    with pytest.raises(InputError, match="parameter 'fast' of sma_crossover must be an integer"):
        validate_params(SmaCrossover, {"fast": "five"})
    with pytest.raises(InputError, match="must be true or false"):
        validate_params(SmaCrossover, {"allow_short": "maybe"})


def test_malformed_pair_and_fast_not_below_slow() -> None:
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_param_pairs(["fast5"])
    with pytest.raises(InputError, match="needs fast < slow"):
        SmaCrossover(fast=30, slow=10)


def test_every_builtin_declares_help_and_defaults_within_bounds() -> None:
    for cls in (SmaCrossover, OpeningPriceCrossover):
        assert cls.name and cls.description
        for p in cls.params:
            assert p.help
        assert validate_params(cls, {}) == cls.defaults()
