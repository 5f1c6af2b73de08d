"""How much of the best trial is luck: PBO (CSCV) and the Deflated Sharpe Ratio.

Both are computed from the trials' daily returns (a days × trials matrix, as the trial store
keeps them), never from the metrics alone.

**Probability of Backtest Overfitting** (Bailey, Borwein, López de Prado and Zhu, "The
Probability of Backtest Overfitting", 2015), by combinatorially symmetric cross-validation:
the days are cut into ``S`` (even) consecutive blocks; for each of the C(S, S/2) ways of taking
half the blocks as in-sample and the rest as out-of-sample, the trial with the best in-sample
Sharpe ratio is located in the out-of-sample ranking, ``ω = rank / (N + 1)`` (rank 1 = worst of
``N``), and its logit ``λ = ln(ω / (1 − ω))`` recorded. PBO is the share of splits with
``λ ≤ 0``: how often the in-sample winner does no better than the out-of-sample median. Noise
gives about 0.5; a real, persistent edge gives close to 0.

**Deflated Sharpe Ratio** (Bailey and López de Prado, "The Deflated Sharpe Ratio", 2014): the
probability that the selected trial's true Sharpe ratio is above zero, once the benchmark is
raised to the Sharpe ratio the best of ``N`` unskilled trials would be expected to reach,

    SR0 = √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))      (γ: Euler–Mascheroni)
    DSR = Φ( (SR − SR0) √(T − 1) / √(1 − skew·SR + (kurtosis − 1)/4 · SR²) )

with ``SR`` the selected trial's per-day Sharpe ratio over ``T`` days, ``V`` the variance of the
trials' per-day Sharpe ratios, and the skewness and (non-excess) kurtosis of its returns. Above
0.95 is the usual bar; the paper's example (N = 100, V = 1/2 a year, SR = 2.5 a year over
1,250 days, skew −3, kurtosis 10) gives 0.90.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

__all__ = [
    "DsrResult",
    "PboResult",
    "chosen_dsr",
    "daily_sharpe",
    "deflated_sharpe",
    "expected_max_sharpe",
    "pbo_cscv",
    "selection_dsr",
]

FloatArray = npt.NDArray[np.float64]
EULER_GAMMA = 0.5772156649015329
_N = NormalDist()
#: CSCV splits evaluated at once (combinations × trials floats each, for IS and OOS)
_SPLIT_CHUNK = 512


@dataclass(frozen=True)
class PboResult:
    """PBO and what it was computed from."""

    pbo: float
    logits: FloatArray  # λ of every split
    blocks: int
    trials: int
    days: int

    def as_json(self) -> dict[str, float | int]:
        return {"pbo": self.pbo, "blocks": self.blocks, "trials": self.trials, "days": self.days}


@dataclass(frozen=True)
class DsrResult:
    """The Deflated Sharpe Ratio and its inputs (Sharpe ratios per day, not annualised)."""

    dsr: float
    sharpe: float
    benchmark: float  # SR0
    trials: int
    days: int
    skew: float
    kurtosis: float

    def as_json(self) -> dict[str, float | int]:
        return {
            "deflated_sharpe": self.dsr,
            "sharpe_daily": self.sharpe,
            "benchmark_sharpe_daily": self.benchmark,
            "trials": self.trials,
            "days": self.days,
            "skew": self.skew,
            "kurtosis": self.kurtosis,
        }


def _sharpe(total: FloatArray, total_sq: FloatArray, n: int) -> FloatArray:
    mean = total / n
    var = total_sq / n
    var -= mean * mean
    var *= n / max(n - 1, 1)
    std = np.sqrt(np.maximum(var, 0.0, out=var), out=var)
    flat = std <= 1e-12
    std[flat] = 1.0
    out = mean / std
    if flat.any():
        # a flat series: 0, or with a drift (std 0, mean ≠ 0) above every noisy one of its sign
        out[flat] = np.where(np.abs(mean[flat]) > 1e-12, np.sign(mean[flat]) * 1e6, 0.0)
    return np.asarray(out, dtype=np.float64)


def pbo_cscv(returns: npt.ArrayLike, blocks: int = 16) -> PboResult | None:
    """PBO of choosing the best-Sharpe column of ``returns`` (days × trials); ``None`` with
    fewer than 2 trials or 4 days. ``blocks`` is lowered (kept even) until each block has at
    least 2 days; the earliest days that do not fill a block are left out."""
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError("returns must be a days × trials matrix")
    t, n = m.shape
    if n < 2 or t < 4:
        return None
    s = min(blocks, t // 2)
    s -= s % 2
    if s < 2:
        return None
    length = t // s
    m = m[t - s * length :]
    cube = m.reshape(s, length, n)
    s1 = cube.sum(axis=1)  # s × n
    s2 = (cube * cube).sum(axis=1)
    all1, all2 = s1.sum(axis=0), s2.sum(axis=0)
    half = s // 2
    n_half = half * length
    combos = np.array(list(itertools.combinations(range(s), half)), dtype=np.int64)
    logits = np.empty(len(combos), dtype=np.float64)
    for lo in range(0, len(combos), _SPLIT_CHUNK):
        part = combos[lo : lo + _SPLIT_CHUNK]
        is1, is2 = s1[part].sum(axis=1), s2[part].sum(axis=1)
        perf_is = _sharpe(is1, is2, n_half)
        perf_oos = _sharpe(all1 - is1, all2 - is2, n_half)
        best = np.argmax(perf_is, axis=1)
        chosen = perf_oos[np.arange(len(part)), best][:, None]
        below = (perf_oos < chosen).sum(axis=1)
        ties = (perf_oos == chosen).sum(axis=1) - 1
        rank = below + 1 + ties / 2.0  # 1 = worst; ties share their mean rank
        omega = rank / (n + 1)
        logits[lo : lo + len(part)] = np.log(omega / (1 - omega))
    return PboResult(float(np.mean(logits <= 0)), logits, s, n, s * length)


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR0: the Sharpe ratio the best of ``trials`` skill-less trials is expected to reach,
    given the variance of the trials' Sharpe ratios (same units)."""
    if trials <= 1 or variance <= 0:
        return 0.0
    a = _N.inv_cdf(1 - 1 / trials)
    b = _N.inv_cdf(1 - 1 / (trials * math.e))
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * a + EULER_GAMMA * b)


def deflated_sharpe(
    sharpe: float, days: int, skew: float, kurtosis: float, trials: int, variance: float
) -> float | None:
    """DSR of a per-period Sharpe ratio measured over ``days`` periods, selected as the best of
    ``trials`` whose Sharpe ratios have ``variance``; ``kurtosis`` is not in excess (normal: 3).
    ``None`` when undefined (fewer than 2 periods)."""
    if days < 2:
        return None
    sr0 = expected_max_sharpe(trials, variance)
    denom = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe * sharpe
    if denom <= 0:
        return None
    return _N.cdf((sharpe - sr0) * math.sqrt(days - 1) / math.sqrt(denom))


def _moments(r: FloatArray) -> tuple[float, float, float]:
    """(Sharpe per period, skewness, non-excess kurtosis); Sharpe 0 for a flat series."""
    mean = float(r.mean())
    std = float(r.std(ddof=1)) if r.size > 1 else 0.0
    sr = mean / std if std > 0 else 0.0
    c = r - mean
    m2 = float(np.mean(c * c))
    if m2 <= 0:
        return sr, 0.0, 3.0
    skew = float(np.mean(c**3)) / m2**1.5
    kurt = float(np.mean(c**4)) / m2**2
    return sr, skew, kurt


def daily_sharpe(returns: npt.ArrayLike) -> float | None:
    """Mean over standard deviation of one return series (not annualised); None when flat."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return None
    std = float(r.std(ddof=1))
    return float(r.mean()) / std if std > 0 else None


def chosen_dsr(returns: npt.ArrayLike, sharpes: Sequence[float | None]) -> DsrResult | None:
    """DSR of the chosen trial's ``returns`` as the best of all the trials whose per-day Sharpe
    ratios are ``sharpes`` (one per trial, the chosen one included; None for a flat one)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2 or not sharpes:
        return None
    defined = np.asarray([x for x in sharpes if x is not None], dtype=np.float64)
    variance = float(np.var(defined, ddof=1)) if defined.size > 1 else 0.0
    sr, skew, kurt = _moments(r)
    n = len(sharpes)
    dsr = deflated_sharpe(sr, r.size, skew, kurt, n, variance)
    if dsr is None:
        return None
    return DsrResult(dsr, sr, expected_max_sharpe(n, variance), n, r.size, skew, kurt)


def selection_dsr(returns: npt.ArrayLike, chosen: int) -> DsrResult | None:
    """DSR of column ``chosen`` of ``returns`` (days × trials) as the pick of all the columns."""
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 2 or m.shape[1] < 1:
        return None
    return chosen_dsr(m[:, chosen], [daily_sharpe(m[:, j]) for j in range(m.shape[1])])
