"""The exposure-matched benchmark: the equal-weight book held at the desk's own invested fraction, known a day
ahead, so the desk's excess over it is what its choice of stocks earned, not its timing."""

from __future__ import annotations

import pandas as pd
import pytest

from evals.benchmarks_passive import exposure_matched


def _curve(values):
    return pd.Series(values, index=pd.bdate_range("2017-01-02", periods=len(values)), dtype=float)


def test_half_invested_earns_half_of_each_days_return_and_uninvested_earns_nothing():
    ew = _curve([100, 110, 121, 121 * 0.9])
    invested = pd.Series([0.5, 0.5, 0.0, 0.0], index=ew.index)
    matched = exposure_matched(ew, invested, 1000.0)
    assert matched.tolist() == pytest.approx([1000, 1050, 1050 * 1.05, 1050 * 1.05])


def test_the_fraction_is_the_one_known_the_day_before():
    ew = _curve([100, 200])
    fully_in_on_the_day = pd.Series([0.0, 1.0], index=ew.index)
    assert exposure_matched(ew, fully_in_on_the_day, 1.0).iloc[-1] == pytest.approx(1.0)  # no look-ahead
