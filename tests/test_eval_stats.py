"""The Sharpe's bootstrap interval and the deflated Sharpe ratio (Bailey & López de Prado 2014)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from evals.stats import deflated_sharpe, expected_max_sharpe, sharpe_interval, sharpe_stats


def _returns(n: int = 750, mean: float = 0.0005, sd: float = 0.01, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, n)


def test_the_interval_holds_the_estimate_is_seeded_and_narrows_with_more_history():
    r = _returns(2000)
    short = sharpe_interval(r[:250])
    long = sharpe_interval(r)
    point = r.mean() / r.std(ddof=1) * math.sqrt(252)
    assert long[0] < point < long[1]
    assert sharpe_interval(r) == long  # same curve, same interval
    assert long[1] - long[0] < short[1] - short[0]


def test_with_one_trial_the_deflated_sharpe_is_the_probabilistic_sharpe_against_zero():
    r = _returns()
    sr = r.mean() / r.std(ddof=1)
    from scipy.stats import kurtosis, skew

    g3, g4 = skew(r), kurtosis(r, fisher=False)
    psr = norm.cdf(sr * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr ** 2))
    dsr, sr0 = deflated_sharpe(r, trials=1)
    assert sr0 == 0.0 and dsr == pytest.approx(psr)


def test_more_trials_deflate_more():
    r = _returns()
    tried = [0.2, 0.9, -0.3, 1.4, 0.5]
    few = deflated_sharpe(r, trials=2, trial_sharpes=tried)[0]
    many = deflated_sharpe(r, trials=200, trial_sharpes=tried)[0]
    assert many < few


def test_the_expected_best_of_unskilled_trials_grows_with_their_number_and_spread():
    assert expected_max_sharpe(1, 0.01) == 0.0
    assert expected_max_sharpe(10, 0.01) < expected_max_sharpe(100, 0.01)
    assert expected_max_sharpe(10, 0.01) < expected_max_sharpe(10, 0.04)


def test_a_curve_too_short_to_judge_is_refused():
    with pytest.raises(ValueError, match="at least 3"):
        sharpe_stats(np.array([0.01, 0.02]), trials=1)
