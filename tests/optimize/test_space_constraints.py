"""The search space and constraints: defaults from the declared params, overrides, exact counts
of huge grids without materialising them, and every refused input as one clear line."""

from __future__ import annotations

import numpy as np
import pytest

from fyerstrade.backtest.optimize.constraints import parse_constraint
from fyerstrade.backtest.optimize.methods import count_admissible, grid_proposals
from fyerstrade.backtest.optimize.space import build_space
from fyerstrade.errors import InputError
from fyerstrade.strategies.opening_price_crossover import OpeningPriceCrossover
from fyerstrade.strategies.sma_crossover import SmaCrossover

NAMES = [p.name for p in SmaCrossover.params]


def test_default_space_is_every_declared_range_counted_not_built() -> None:
    space = build_space(SmaCrossover)
    assert space.names == ("fast", "slow", "allow_short")
    assert space.size == 1000 * 4999 * 2
    opc = build_space(OpeningPriceCrossover)
    # floats search their declared step: exit_pct1 0..1 by 0.05 is 21 values
    assert len(opc.axes[2]) == 21 and opc.axes[2].value(20) == 1.0
    assert opc.size == 500 * 999 * 21 * 200 * 500  # ~1e13: an integer, nothing allocated


def test_overrides_ranges_lists_and_fixed_values() -> None:
    space = build_space(SmaCrossover, {"fast": "5:50:5", "slow": "20,40,80", "allow_short": "no"})
    assert [len(a) for a in space.axes] == [10, 3]
    assert space.fixed == {"allow_short": False}
    fast = space.axes[0]
    assert [fast.value(i) for i in range(len(fast))] == list(range(5, 55, 5))
    assert space.axes[1].choices == (20, 40, 80)
    assert build_space(SmaCrossover, {"fast": "5:12"}).axes[0].value(7) == 12  # declared step 1
    # a range whose step does not land on the maximum stops below it
    assert len(build_space(SmaCrossover, {"fast": "5:12:5"}).axes[0]) == 2
    rr = build_space(OpeningPriceCrossover, {"rr1": "0.5:2:0.5"}).axes[3]
    assert [rr.value(i) for i in range(len(rr))] == [0.5, 1.0, 1.5, 2.0]


def test_grid_decodes_lazily_in_index_order() -> None:
    space = build_space(SmaCrossover, {"fast": "5:15:5", "slow": "20,40", "allow_short": "false"})
    got = [p.params for p in grid_proposals(space, [], lambda n: False)]
    assert got == [
        {"allow_short": False, "fast": f, "slow": s} for f in (5, 10, 15) for s in (20, 40)
    ]
    done = {0, 3}
    again = list(grid_proposals(space, [], done.__contains__))
    assert [p.trial_no for p in again] == [1, 2, 4, 5]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fsat": "5:50"}, "unknown parameter 'fsat' for sma_crossover (did you mean 'fast'?)"),
        ({"fast": "50:5"}, "the minimum 50 is above the maximum 5"),
        ({"fast": "5:50:0"}, "the step must not be zero"),
        ({"fast": "5:50:-5"}, "the step must be positive"),
        ({"fast": "5:50:2.5"}, "the step must be whole"),
        ({"fast": "0:50"}, "must be between 1 and 1000, got 0"),
        ({"fast": "5:x"}, "must be an integer"),
        ({"fast": "5:6:7:8"}, "a range is lo:hi or lo:hi:step"),
        ({"allow_short": "1:2"}, "is not a number; list its values"),
        ({"fast": "5,,6"}, "an empty value"),
    ],
)
def test_bad_ranges_are_one_line_naming_the_parameter(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError) as err:
        build_space(SmaCrossover, overrides)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_parameter_without_bounds_is_not_optimizable_but_can_be_fixed() -> None:
    from typing import ClassVar

    from fyerstrade.strategies.base import Param, Strategy

    class Free(Strategy):
        name: ClassVar[str] = "free"
        params: ClassVar[tuple[Param, ...]] = (
            Param("n", int, 3, min=1, max=9),
            Param("k", float, 1.5),
            Param("tag", str, "a"),
        )

    space = build_space(Free)
    assert space.names == ("n",) and space.fixed == {"k": 1.5, "tag": "a"}
    with pytest.raises(InputError, match="'k' of free declares no bounds or choices, so it is not "
                       "optimizable; fix it with --param k=VALUE"):  # fmt: skip
        build_space(Free, {"k": "1:2:0.5"})
    with pytest.raises(InputError, match="not optimizable"):
        build_space(Free, {"tag": "a,b"})
    assert build_space(Free, {"k": "2.5"}).fixed["k"] == 2.5
    with pytest.raises(InputError, match="nothing to search"):
        build_space(Free, {"n": "4"})


def test_constraints_filter_blocks_of_parameter_sets() -> None:
    c = parse_constraint("fast < slow and not allow_short", NAMES, "sma_crossover")
    assert c.names == {"fast", "slow", "allow_short"}
    cols = {
        "fast": np.array([5, 50, 5]),
        "slow": np.array([20, 20, 20]),
        "allow_short": np.array([False, False, True]),
    }
    assert c.mask(cols).tolist() == [True, False, False]
    assert parse_constraint("fast * 2 <= slow < 100", NAMES).admits({"fast": 10, "slow": 20})
    assert not parse_constraint("fast * 2 <= slow < 100", NAMES).admits({"fast": 10, "slow": 100})
    assert parse_constraint("abs(fast - slow) >= 10", NAMES).admits({"fast": 5, "slow": 15})
    assert not parse_constraint("slow / (fast - 5) > 1", NAMES).admits({"fast": 5, "slow": 10})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast < solw", "names 'solw', which is not a parameter of sma_crossover (did you mean"),
        ("__import__('os').system('true') == 0", "only abs(), min() and max() may be called"),
        ("open('x') == 0", "open() is not allowed"),
        ("fast.real < slow", "'attribute' is not allowed"),
        ("fast ** 99 < slow", "'**' is not allowed"),
        ("fast in (1, 2)", "'in' is not allowed"),
        ("fast + slow", "must be a comparison"),
        ("fast <", "is not an expression"),
        ("(lambda: 1)() < 2", "only abs(), min() and max() may be called"),
        ("", "is empty"),
    ],
)
def test_constraints_are_parsed_safely(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_constraint(text, NAMES, "sma_crossover")
    assert message in str(err.value)


def test_admissible_count_is_exact_and_cheap_on_the_constrained_axes() -> None:
    space = build_space(SmaCrossover)  # 10 million combinations
    fast_lt_slow = parse_constraint("fast < slow", NAMES)
    count = count_admissible(space, [fast_lt_slow])
    # fast in 1..1000, slow in 2..5000: pairs with fast < slow, times both allow_short values
    pairs = sum(5000 - f for f in range(1, 1001))
    assert count.exact and count.count == pairs * 2
    never = parse_constraint("fast > slow + 5000", NAMES)
    assert count_admissible(space, [never]).count == 0
