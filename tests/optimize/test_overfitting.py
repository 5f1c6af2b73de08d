"""PBO (CSCV) and the Deflated Sharpe Ratio against known answers on constructed returns."""

from __future__ import annotations

import math

import numpy as np

from fyerstrade.backtest.optimize.overfitting import (
    deflated_sharpe,
    expected_max_sharpe,
    pbo_cscv,
    selection_dsr,
)


def test_dsr_matches_the_papers_worked_example() -> None:
    # Bailey & López de Prado (2014): N = 100 trials, V = 1/2 (annual), SR = 2.5 (annual),
    # T = 1,250 daily returns, skew -3, kurtosis 10: SR0 ≈ 0.1132 a day, DSR ≈ 0.9004
    sr, var = 2.5 / math.sqrt(250), 0.5 / 250
    assert math.isclose(expected_max_sharpe(100, var), 0.1132, abs_tol=5e-5)
    dsr = deflated_sharpe(sr, 1250, -3.0, 10.0, 100, var)
    assert dsr is not None and math.isclose(dsr, 0.9004, abs_tol=5e-4)
    # one trial is not deflated: the probabilistic Sharpe ratio against zero
    psr = deflated_sharpe(sr, 1250, 0.0, 3.0, 1, var)
    assert psr is not None and psr > 0.99
    assert deflated_sharpe(sr, 1, 0.0, 3.0, 100, var) is None


def test_pbo_of_pure_noise_is_about_one_half() -> None:
    values = []
    for seed in range(6):
        m = np.random.default_rng(seed).normal(0, 0.01, (500, 40))
        result = pbo_cscv(m, blocks=10)
        assert result is not None and result.trials == 40 and result.blocks == 10
        values.append(result.pbo)
    assert 0.35 <= float(np.mean(values)) <= 0.65


def test_pbo_of_a_planted_edge_is_low_and_its_dsr_high() -> None:
    rng = np.random.default_rng(11)
    m = rng.normal(0, 0.01, (500, 40))
    m[:, 17] += 0.004  # one configuration with a real, persistent edge
    result = pbo_cscv(m, blocks=10)
    assert result is not None and result.pbo < 0.05
    dsr = selection_dsr(m, 17)
    assert dsr is not None and dsr.dsr > 0.95 and dsr.trials == 40
    noise_best = int(np.argmax(m[:, :17].mean(axis=0) / m[:, :17].std(axis=0)))
    lucky = selection_dsr(m[:, :17], noise_best)
    assert lucky is not None and lucky.dsr < 0.95  # the best of noise is not convincing


def test_overfit_selection_gives_a_high_pbo() -> None:
    # every configuration's good half is followed by its bad half: whatever wins in-sample was
    # good by construction in the blocks that are then missing out-of-sample
    rng = np.random.default_rng(5)
    t, n = 400, 30
    m = rng.normal(0, 0.01, (t, n))
    for j in range(n):
        sign = np.where((np.arange(t) // 40 + j) % 2 == 0, 1.0, -1.0)
        m[:, j] += 0.004 * sign * rng.uniform(0.5, 1.5)
    result = pbo_cscv(m, blocks=10)
    assert result is not None and result.pbo > 0.5


def test_too_little_data_is_undefined() -> None:
    assert pbo_cscv(np.zeros((100, 1))) is None
    assert pbo_cscv(np.zeros((3, 5))) is None
    flat = pbo_cscv(np.zeros((40, 3)), blocks=16)
    assert flat is not None and flat.blocks == 16 and flat.days == 32
