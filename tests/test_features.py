"""Per-asset features: exact columns, hand-checked values, and no look-ahead."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tools.features import asset_features, feature_row, trend_t_stat, wilder_rsi
from vocab.contracts import ASSET_FEATURES


@pytest.fixture(scope="module")
def real() -> tuple[pd.DataFrame, pd.Series]:
    """20 bundled stock closes and the S&P 500, before the 2019 hold-out."""
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    close = load_sp500_dataset().loc[:"2018-12-31"]
    bench = load_sp500_index()["SP500"].loc[:"2018-12-31"]
    return close, bench


@pytest.fixture(scope="module")
def panel(real) -> pd.DataFrame:
    return asset_features(*real)


def _series(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"X": values}, index=pd.bdate_range("2000-01-03", periods=len(values)))


def test_asset_features_has_exactly_the_contract_columns_on_a_sorted_date_symbol_index(panel, real):
    close, _ = real
    assert tuple(panel.columns) == ASSET_FEATURES
    assert list(panel.index.names) == ["date", "symbol"]
    assert panel.index.is_monotonic_increasing
    assert len(panel) == close.notna().sum().sum()
    assert (panel.dtypes == "float64").all()


def test_asset_features_are_nan_during_warm_up_and_present_after(panel, real):
    close, _ = real
    aapl = panel.xs("AAPL", level="symbol")
    assert aapl["ret_252d"].iloc[:252].isna().all() and aapl["ret_252d"].iloc[252:].notna().all()
    assert aapl["dist_sma200"].iloc[:199].isna().all() and aapl["dist_sma200"].iloc[199:].notna().all()
    assert aapl["rsi_14"].iloc[:14].isna().all() and aapl["rsi_14"].iloc[14:].notna().all()
    assert aapl["ema_cross"].iloc[:25].isna().all() and aapl["ema_cross"].iloc[25:].notna().all()
    assert (aapl["drawdown_252d"].dropna() <= 0).all()
    assert aapl["close"].equals(close["AAPL"].rename("close").rename_axis("date"))


def test_rsi_matches_a_hand_run_wilder_recursion():
    px = [44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28,
          46.28, 46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.45, 45.78, 45.35, 44.03, 44.18]
    changes = [b - a for a, b in zip(px, px[1:], strict=False)]
    gain = sum(max(c, 0) for c in changes[:14]) / 14
    loss = sum(max(-c, 0) for c in changes[:14]) / 14
    expected = [100 - 100 / (1 + gain / loss)]
    for c in changes[14:]:
        gain = (gain * 13 + max(c, 0)) / 14
        loss = (loss * 13 + max(-c, 0)) / 14
        expected.append(100 - 100 / (1 + gain / loss))
    rsi = wilder_rsi(_series(px))["X"]
    assert rsi.iloc[:14].isna().all()
    np.testing.assert_allclose(rsi.iloc[14:].to_numpy(), expected, rtol=1e-12)
    assert rsi.iloc[14] == pytest.approx(70.46, abs=0.01)   # StockCharts' worked example, unrounded


def test_rsi_is_100_without_losses_and_50_without_moves():
    rising = wilder_rsi(_series([float(i) for i in range(1, 30)]))["X"]
    flat = wilder_rsi(_series([5.0] * 30))["X"]
    assert (rising.dropna() == 100).all() and (flat.dropna() == 50).all()


def test_bb_z_and_ema_features_match_hand_computations(real):
    px = [10.0, 10.5, 10.2, 10.8, 11.1, 10.9, 11.4, 11.8, 11.5, 12.0, 12.3, 12.1, 12.6, 12.4, 12.9, 13.2,
          13.0, 13.5, 13.1, 13.7, 14.0, 13.8, 14.3, 14.1, 14.6, 14.9, 14.5, 15.0, 15.3, 15.1]
    frame = _series(px)
    panel = asset_features(frame, frame["X"])
    row = panel.xs("X", level="symbol")
    window = px[-20:]
    bb = (px[-1] - statistics.mean(window)) / statistics.stdev(window)
    assert row["bb_z_20"].iloc[-1] == pytest.approx(bb, rel=1e-12)
    assert row["bb_z_20"].iloc[:19].isna().all()

    def ema(span: int) -> list[float]:
        a, out = 2 / (span + 1), [px[0]]
        for p in px[1:]:
            out.append(a * p + (1 - a) * out[-1])
        return out

    cross = [(f - s) / p for f, s, p in zip(ema(12), ema(26), px, strict=True)]
    assert row["ema_cross"].iloc[-1] == pytest.approx(cross[-1], rel=1e-12)
    assert row["ema_cross_prev"].iloc[-1] == pytest.approx(cross[-2], rel=1e-12)
    assert row["ret_5d"].iloc[-1] == pytest.approx(px[-1] / px[-6] - 1, rel=1e-12)
    logs = np.diff(np.log(px[-22:]))
    assert row["vol_21d"].iloc[-1] == pytest.approx(statistics.stdev(logs) * math.sqrt(252), rel=1e-12)
    assert row["rs_63d"].isna().all()  # 30 sessions: no 63-session return yet


def test_trend_strength_is_the_ols_slope_t_statistic():
    rng = np.random.default_rng(7)
    px = 100 * np.exp(np.cumsum(0.001 + 0.01 * rng.standard_normal(80)))
    t_stat = trend_t_stat(_series(list(px)))["X"]
    y, x = np.log(px[-63:]), np.arange(63.0)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    se = math.sqrt(resid @ resid / 61 / ((x - x.mean()) @ (x - x.mean())))
    assert t_stat.iloc[-1] == pytest.approx(slope / se, rel=1e-9)
    assert t_stat.iloc[:62].isna().all()


def test_rs_63d_is_the_asset_return_minus_the_benchmark_return(panel, real):
    close, bench = real
    day = pd.Timestamp("2010-06-30")
    row = feature_row(panel, day).loc["XOM"]
    i = bench.index.get_loc(day)
    assert row["rs_63d"] == pytest.approx(row["ret_63d"] - (bench.iloc[i] / bench.iloc[i - 63] - 1), rel=1e-12)


def test_feature_row_returns_one_dates_block_indexed_by_symbol(panel):
    day = pd.Timestamp("2017-06-30")
    block = feature_row(panel, day.date())
    assert list(block.columns) == list(ASSET_FEATURES) and len(block) == 20
    pd.testing.assert_frame_equal(block, panel.xs(day, level="date"), check_names=False)
    with pytest.raises(KeyError, match="no features on 2017-07-01"):
        feature_row(panel, pd.Timestamp("2017-07-01"))


def test_a_symbol_listed_later_starts_its_own_warm_up(real):
    close, bench = real
    frame = close[["AAPL", "KO"]].loc["2004":"2006"].copy()
    frame.loc[:"2005-06-30", "KO"] = np.nan
    rows = asset_features(frame, bench).xs("KO", level="symbol")
    assert rows.index[0] > pd.Timestamp("2005-06-30")
    assert rows["ret_21d"].iloc[:21].isna().all() and rows["ret_21d"].iloc[21:].notna().all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.one_of(st.integers(0, 320), st.integers(320, 7300)))
@example(pos=13)     # the session before the first RSI
@example(pos=199)    # the first SMA200
@example(pos=252)    # the first 252-session return
def test_features_at_t_do_not_change_when_later_data_is_removed(real, panel, pos):
    close, bench = real
    day = close.index[pos]
    cut = asset_features(close.loc[:day], bench.loc[:day])
    pd.testing.assert_frame_equal(feature_row(cut, day), feature_row(panel, day), rtol=1e-12, atol=1e-15)
    assert cut.index.get_level_values("date").max() == day


def test_asset_features_on_the_full_bundled_history_is_vectorised_not_slow():
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    close, bench = load_sp500_dataset(), load_sp500_index()["SP500"]
    panel = asset_features(close, bench)   # 20 symbols x 8,300 dates; a per-date loop would take minutes
    assert panel.shape == (close.notna().sum().sum(), len(ASSET_FEATURES))


def test_asset_features_with_no_symbols_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one symbol"):
        asset_features(pd.DataFrame(), pd.Series(dtype=float))
