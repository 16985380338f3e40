"""Performance metrics agree with empyrical-reloaded; split and passive benchmarks behave."""

from __future__ import annotations

import math
from datetime import date

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from skfolio.datasets import load_sp500_index

from evals.benchmarks_passive import buy_and_hold, equal_weight
from evals.metrics import Metrics, performance, split_periods


def _random_curve(seed: int, n: int = 600, start: str = "2011-01-03") -> pd.Series:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0004, 0.012, n)
    index = pd.bdate_range(start, periods=n + 1)
    return pd.Series(100_000 * np.cumprod(np.r_[1.0, 1 + returns]), index=index)


def _sp500_2010_2012() -> pd.Series:
    close = load_sp500_index()["SP500"]
    return close.loc["2010-01-01":"2012-12-31"]


CURVES = {
    "random_seed_7": lambda: _random_curve(7),
    "random_seed_42": lambda: _random_curve(42, n=300),
    "sp500_2010_2012": _sp500_2010_2012,
}


@pytest.mark.parametrize("name", CURVES)
def test_performance_matches_empyrical_on_curve(name):
    equity = CURVES[name]()
    returns = equity.pct_change().dropna()
    m = performance(equity)
    expected = {
        "cagr": ep.cagr(returns),
        "volatility": ep.annual_volatility(returns),
        "sharpe": ep.sharpe_ratio(returns),
        "sortino": ep.sortino_ratio(returns),
        "max_drawdown": ep.max_drawdown(returns),
    }
    for field, value in expected.items():
        assert getattr(m, field) == pytest.approx(value, rel=1e-9, abs=0), field
    assert m.calmar == pytest.approx(ep.calmar_ratio(returns), rel=1e-9)
    assert m.total_return == pytest.approx(equity.iloc[-1] / equity.iloc[0] - 1, rel=1e-12)
    assert (m.start, m.end, m.days) == (equity.index[0].date(), equity.index[-1].date(), len(returns))
    assert m.max_drawdown < 0


def test_performance_reports_trades_turnover_and_win_rate():
    equity = pd.Series([100.0, 110.0, 90.0, 100.0, 100.0], index=pd.bdate_range("2020-01-06", periods=5))
    m = performance(equity, trades=8, traded_notional=400.0, wins=6)
    years = 4 / 252
    assert m.trades == 8
    assert m.win_rate == 0.75
    assert m.turnover == pytest.approx(400.0 / 100.0 / years)


def test_performance_without_trade_inputs_leaves_them_none():
    m = performance(_random_curve(1, n=20))
    assert (m.trades, m.turnover, m.win_rate) == (None, None, None)


def test_performance_with_zero_trades_has_no_win_rate():
    m = performance(_random_curve(1, n=20), trades=0, wins=0)
    assert m.win_rate is None


def test_performance_known_drawdown_of_hand_built_curve():
    equity = pd.Series([100.0, 120.0, 90.0, 130.0, 117.0], index=pd.bdate_range("2020-01-06", periods=5))
    assert performance(equity).max_drawdown == pytest.approx(90.0 / 120.0 - 1)


def test_performance_of_flat_curve_reports_zero_ratios_not_nan():
    equity = pd.Series(100.0, index=pd.bdate_range("2020-01-06", periods=30))
    m = performance(equity)
    assert (m.total_return, m.cagr, m.volatility, m.sharpe, m.sortino, m.max_drawdown, m.calmar) == (
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    )


def test_performance_of_constant_growth_has_zero_volatility_and_zero_sharpe():
    equity = pd.Series(100.0 * 1.001 ** np.arange(50), index=pd.bdate_range("2020-01-06", periods=50))
    m = performance(equity)
    assert m.volatility == 0.0
    assert (m.sharpe, m.sortino, m.calmar) == (0.0, 0.0, 0.0)
    assert m.cagr == pytest.approx(1.001**252 - 1)


def test_performance_with_no_losing_day_reports_sortino_zero_not_inf():
    equity = pd.Series([100.0, 101.0, 103.0, 103.5], index=pd.bdate_range("2020-01-06", periods=4))
    m = performance(equity)
    assert m.sharpe > 0
    assert m.sortino == 0.0
    assert all(math.isfinite(v) for v in m.model_dump().values() if isinstance(v, float))


def test_performance_of_two_points_has_one_return_and_zero_volatility():
    equity = pd.Series([100.0, 101.0], index=pd.bdate_range("2020-01-06", periods=2))
    m = performance(equity)
    assert m.days == 1
    assert m.total_return == pytest.approx(0.01)
    assert (m.volatility, m.sharpe, m.sortino) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([100.0], "at least 2 points"),
        ([], "at least 2 points"),
        ([100.0, 0.0, 50.0], "must be positive"),
        ([100.0, -5.0], "must be positive"),
        ([100.0, float("nan"), 50.0], "NaN"),
    ],
)
def test_performance_rejects_bad_curve_with_one_line_error(values, message):
    equity = pd.Series(values, index=pd.bdate_range("2020-01-06", periods=len(values)), dtype=float)
    with pytest.raises(ValueError, match=message) as info:
        performance(equity)
    assert "\n" not in str(info.value)


def test_performance_rejects_curve_without_dates():
    with pytest.raises(ValueError, match="DatetimeIndex"):
        performance(pd.Series([100.0, 101.0]))


def test_performance_rejects_unsorted_dates():
    equity = pd.Series([100.0, 101.0], index=pd.to_datetime(["2020-01-07", "2020-01-06"]))
    with pytest.raises(ValueError, match="increasing"):
        performance(equity)


def test_performance_rejects_more_wins_than_trades():
    with pytest.raises(ValueError, match="wins"):
        performance(_random_curve(1, n=10), trades=2, wins=3)


def test_metrics_are_frozen():
    m = performance(_random_curve(1, n=10))
    with pytest.raises(ValidationError):
        m.sharpe = 9.0


def _curve_2013_to_2020() -> pd.Series:
    close = load_sp500_index()["SP500"]
    return close.loc["2013-01-01":"2020-12-31"]


def test_split_periods_keeps_2019_onwards_in_holdout_only():
    equity = _curve_2013_to_2020()
    parts = split_periods(equity)
    assert list(parts) == ["in_sample", "validation", "holdout"]
    assert parts["in_sample"].end <= date(2014, 12, 31)
    assert parts["validation"].end <= date(2018, 12, 31)
    assert parts["holdout"].start <= date(2018, 12, 31) < date(2019, 1, 1) <= parts["holdout"].end
    # the hold-out's opening equity is the last 2018 close; every 2019+ return is counted there
    holdout_returns = equity.pct_change().loc["2019-01-01":].dropna()
    assert parts["holdout"].days == len(holdout_returns)
    assert parts["holdout"].sharpe == pytest.approx(ep.sharpe_ratio(holdout_returns), rel=1e-9)


def test_split_periods_counts_every_return_exactly_once():
    equity = _curve_2013_to_2020()
    parts = split_periods(equity)
    assert sum(p.days for p in parts.values()) == len(equity) - 1
    growth = np.prod([1 + p.total_return for p in parts.values()])
    assert growth == pytest.approx(equity.iloc[-1] / equity.iloc[0], rel=1e-12)


def test_split_periods_validation_does_not_change_when_holdout_is_removed():
    equity = _curve_2013_to_2020()
    with_holdout = split_periods(equity)
    without = split_periods(equity.loc[:"2018-12-31"])
    assert "holdout" not in without
    assert without["validation"] == with_holdout["validation"]


def test_split_periods_skips_parts_the_curve_does_not_cover():
    equity = _random_curve(3, n=100, start="2020-03-02")
    parts = split_periods(equity)
    assert list(parts) == ["holdout"]
    assert parts["holdout"] == performance(equity)


def test_split_periods_rejects_boundaries_out_of_order():
    with pytest.raises(ValueError, match="before validation_end"):
        split_periods(_random_curve(3), in_sample_end=date(2019, 1, 1), validation_end=date(2018, 1, 1))


def test_buy_and_hold_equals_close_ratio_times_capital():
    close = load_sp500_index()["SP500"]
    equity = buy_and_hold(close, date(2010, 1, 1), date(2012, 12, 31), 50_000.0)
    window = close.loc["2010-01-01":"2012-12-31"]
    assert equity.index.equals(window.index)
    np.testing.assert_allclose(equity.to_numpy(), 50_000.0 * window.to_numpy() / window.iloc[0], rtol=1e-12)
    assert equity.iloc[0] == 50_000.0


def test_buy_and_hold_with_no_close_in_range_raises():
    close = pd.Series([10.0, 11.0], index=pd.bdate_range("2020-01-06", periods=2), name="XOM")
    with pytest.raises(ValueError, match="no close for XOM"):
        buy_and_hold(close, date(2021, 1, 1), date(2021, 12, 31), 1000.0)


def _two_symbols() -> pd.DataFrame:
    index = pd.to_datetime(["2021-01-27", "2021-01-28", "2021-01-29", "2021-02-01", "2021-02-02"])
    return pd.DataFrame(
        {"A": [9.0, 10.0, 11.0, 12.0, 12.0], "B": [30.0, 20.0, 20.0, 10.0, 12.0]}, index=index
    )


def test_equal_weight_on_two_symbols_matches_hand_computation():
    # start 01-28: buy 50/10 = 5 A and 50/20 = 2.5 B.
    # 01-29 (month end): 5*11 + 2.5*20 = 105, rebalanced to 52.5/11 A and 52.5/20 B.
    # 02-01: 52.5*12/11 + 52.5*10/20; 02-02: 52.5*12/11 + 52.5*12/20.
    equity = equal_weight(_two_symbols(), date(2021, 1, 28), date(2021, 2, 2), 100.0)
    expected = [100.0, 105.0, 52.5 * 12 / 11 + 26.25, 52.5 * 12 / 11 + 31.5]
    days = [date(2021, 1, 28), date(2021, 1, 29), date(2021, 2, 1), date(2021, 2, 2)]
    assert list(equity.index.date) == days
    np.testing.assert_allclose(equity.to_numpy(), expected, rtol=1e-12)


def test_equal_weight_ignores_symbols_without_data_in_range():
    closes = _two_symbols().assign(C=np.nan)
    closes.loc["2021-01-27", "C"] = 5.0  # before the range
    equity = equal_weight(closes, date(2021, 1, 28), date(2021, 2, 2), 100.0)
    without_c = equal_weight(_two_symbols(), date(2021, 1, 28), date(2021, 2, 2), 100.0)
    pd.testing.assert_series_equal(equity, without_c)


def test_equal_weight_adds_a_late_symbol_only_at_the_next_rebalance():
    closes = _two_symbols().assign(C=[np.nan, np.nan, 7.0, 14.0, 14.0])
    equity = equal_weight(closes, date(2021, 1, 28), date(2021, 2, 2), 90.0)
    # 01-28: 45/10 A, 45/20 B (C has no price). 01-29: 4.5*11 + 2.25*20 = 94.5, split in three.
    third = 94.5 / 3
    expected = [90.0, 94.5, third * 12 / 11 + third * 10 / 20 + third * 14 / 7,
                third * 12 / 11 + third * 12 / 20 + third * 14 / 7]
    np.testing.assert_allclose(equity.to_numpy(), expected, rtol=1e-12)


def test_equal_weight_up_to_a_date_does_not_change_when_later_data_is_removed():
    rng = np.random.default_rng(11)
    index = pd.bdate_range("2015-01-01", periods=300)
    paths = 50 * np.cumprod(1 + rng.normal(0, 0.01, (300, 3)), axis=0)
    closes = pd.DataFrame(paths, index=index, columns=list("XYZ"))
    full = equal_weight(closes, date(2015, 1, 1), date(2016, 3, 1), 1_000.0)
    for cut in ("2015-03-17", "2015-06-30", "2015-11-02"):
        partial = equal_weight(closes.loc[:cut], date(2015, 1, 1), date(2016, 3, 1), 1_000.0)
        pd.testing.assert_series_equal(partial, full.loc[:cut])


def test_equal_weight_rejects_unknown_rebalance_frequency():
    with pytest.raises(ValueError, match="unknown rebalance frequency"):
        equal_weight(_two_symbols(), date(2021, 1, 28), date(2021, 2, 2), 100.0, rebalance="fortnightly")


def test_equal_weight_rejects_non_positive_prices():
    closes = _two_symbols()
    closes.loc["2021-02-01", "B"] = 0.0
    with pytest.raises(ValueError, match="positive"):
        equal_weight(closes, date(2021, 1, 28), date(2021, 2, 2), 100.0)


def test_benchmark_curves_feed_performance():
    equity = equal_weight(_two_symbols(), date(2021, 1, 28), date(2021, 2, 2), 100.0)
    assert isinstance(performance(equity), Metrics)
