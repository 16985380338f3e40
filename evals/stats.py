"""How much a Sharpe ratio can be trusted: a bootstrap confidence interval, and the deflated Sharpe ratio.

- ``sharpe_interval``: the stationary bootstrap (Politis & Romano 1994) of the daily returns — blocks of random
  length, mean ``block`` sessions, so volatility clusters survive the resampling — and the percentile interval of
  the annualised Sharpe (rf = 0, as ``evals.metrics``). Seeded: the same curve gives the same interval.
- ``deflated_sharpe``: Bailey & López de Prado (2014), the probability that the true Sharpe is above the best one
  would expect from ``trials`` unskilled tries, given the returns' length, skew and kurtosis. The expected maximum
  is SR0 = √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))), with V the variance of the trials' (per-session)
  Sharpe ratios; with fewer than two trial Sharpes to measure V, V is the estimator's own asymptotic variance.
  With N = 1 there is nothing to deflate: it is the probabilistic Sharpe ratio against 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import kurtosis, norm, skew

TRADING_DAYS = 252
EULER_GAMMA = 0.5772156649015329


class SharpeStats(BaseModel):
    """A Sharpe ratio with its bootstrap interval and its deflation by the trials behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sharpe: float = Field(description="annualised, rf = 0")
    ci_low: float
    ci_high: float
    ci_level: float
    resamples: int
    block: int = Field(description="mean block length of the stationary bootstrap, sessions")
    trials: int = Field(description="distinct configurations tried (the store's trials), this one included")
    expected_max_sharpe: float = Field(description="annualised SR0: the best Sharpe that many unskilled trials "
                                                   "would show by luck")
    deflated_sharpe: float = Field(ge=0, le=1, description="P(true Sharpe > SR0)")


def _sharpe(returns: np.ndarray, axis: int = -1) -> np.ndarray:
    mean = returns.mean(axis=axis)
    std = returns.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(std > 0, mean / std, 0.0)
    return out * math.sqrt(TRADING_DAYS)


def stationary_indices(n: int, resamples: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` × ``n`` indices of the stationary bootstrap with mean block length ``block``."""
    idx = np.empty((resamples, n), dtype=np.int64)
    idx[:, 0] = rng.integers(0, n, resamples)
    starts = rng.integers(0, n, (resamples, n))
    new_block = rng.random((resamples, n)) < 1.0 / block
    for t in range(1, n):
        idx[:, t] = np.where(new_block[:, t], starts[:, t], (idx[:, t - 1] + 1) % n)
    return idx


def sharpe_interval(returns: np.ndarray, *, level: float = 0.95, resamples: int = 1000, block: int = 21,
                    seed: int = 0) -> tuple[float, float]:
    """The percentile interval of the annualised Sharpe under the stationary bootstrap."""
    r = np.asarray(returns, dtype=float)
    if len(r) < 3:
        raise ValueError(f"a Sharpe interval needs at least 3 daily returns, got {len(r)}")
    idx = stationary_indices(len(r), resamples, max(1, block), np.random.default_rng(seed))
    draws = _sharpe(r[idx], axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR0 (per session) for ``trials`` tries whose Sharpe ratios vary by ``variance`` (per session²)."""
    if trials <= 1:
        return 0.0
    a = norm.ppf(1 - 1 / trials)
    b = norm.ppf(1 - 1 / (trials * math.e))
    return math.sqrt(max(variance, 0.0)) * ((1 - EULER_GAMMA) * a + EULER_GAMMA * b)


def deflated_sharpe(returns: np.ndarray, trials: int, trial_sharpes: Sequence[float] = ()) -> tuple[float, float]:
    """(deflated Sharpe probability, annualised SR0). ``trial_sharpes`` are the trials' annualised Sharpes."""
    r = np.asarray(returns, dtype=float)
    n = len(r)
    if n < 3:
        raise ValueError(f"a deflated Sharpe needs at least 3 daily returns, got {n}")
    sr = float(_sharpe(r)) / math.sqrt(TRADING_DAYS)  # per session
    g3 = float(skew(r)) if r.std() > 0 else 0.0
    g4 = float(kurtosis(r, fisher=False)) if r.std() > 0 else 3.0
    spread = 1 - g3 * sr + (g4 - 1) / 4 * sr ** 2
    spread = max(spread, 1e-12)
    per_session = [s / math.sqrt(TRADING_DAYS) for s in trial_sharpes if math.isfinite(s)]
    variance = float(np.var(per_session, ddof=1)) if len(per_session) >= 2 else spread / (n - 1)
    sr0 = expected_max_sharpe(max(1, trials), variance)
    z = (sr - sr0) * math.sqrt(n - 1) / math.sqrt(spread)
    return float(norm.cdf(z)), sr0 * math.sqrt(TRADING_DAYS)


def sharpe_stats(returns: np.ndarray, *, trials: int, trial_sharpes: Sequence[float] = (), level: float = 0.95,
                 resamples: int = 1000, block: int = 21, seed: int = 0,
                 interval: tuple[float, float] | None = None) -> SharpeStats:
    """``interval``: the bootstrap interval when already computed with these parameters (not drawn again)."""
    r = np.asarray(returns, dtype=float)
    low, high = interval or sharpe_interval(r, level=level, resamples=resamples, block=block, seed=seed)
    dsr, sr0 = deflated_sharpe(r, trials, trial_sharpes)
    return SharpeStats(sharpe=float(_sharpe(r)), ci_low=low, ci_high=high, ci_level=level, resamples=resamples,
                       block=block, trials=max(1, trials), expected_max_sharpe=sr0, deflated_sharpe=dsr)
