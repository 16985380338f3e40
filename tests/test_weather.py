"""Weather layers, expert signals and regime fusion on the bundled history: availability, episodes, no look-ahead.

Regime expectations are checked on episodes before 2019 only (the hold-out is never used to judge behaviour).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tools.calendar_effects import calendar_flags
from tools.experts import EXPERT_COLUMNS, window_entropy
from tools.fusion import CONTEXT_COLUMNS, FUSION_COLUMNS, fuse, nudge
from tools.weather import LAYER_COLUMNS, compute_weather, snapshot
from vocab.contracts import WEATHER_LAYERS, WeatherSnapshot
from vocab.terms import REGIME_ORDER


def _bundled() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Wide close / volume frames shaped like the store's (dates x symbols) from the packaged data sets."""
    import arch.data.default
    import arch.data.nasdaq
    import arch.data.sp500
    import arch.data.vix
    from skfolio.datasets import load_factors_dataset, load_sp500_dataset, load_sp500_index

    stocks, gspc, ixic = load_sp500_dataset(), arch.data.sp500.load(), arch.data.nasdaq.load()
    yields = arch.data.default.load()
    yields.index = yields.index + pd.offsets.MonthBegin(1)        # dated the first day of the month after
    columns = {**{c: stocks[c] for c in stocks}, "SP500": load_sp500_index()["SP500"],
               **dict(load_factors_dataset().items()), "GSPC": gspc["Close"], "IXIC": ixic["Close"],
               "VIX": arch.data.vix.load()["vix"].dropna(), "AAA": yields["AAA"], "BAA": yields["BAA"]}
    close = pd.DataFrame(columns).sort_index().loc["1990-01-01":].rename_axis("date")
    volume = pd.DataFrame({"GSPC": gspc["Volume"], "IXIC": ixic["Volume"]}).astype(float).reindex(close.index)
    return close, volume, list(stocks.columns)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    return _bundled()


@pytest.fixture(scope="module")
def weather(data) -> pd.DataFrame:
    return compute_weather(*data)   # the full range once: vectorised, about a second


def _row(weather: pd.DataFrame, day: str) -> pd.Series:
    return weather.loc[pd.Timestamp(day)]


def test_weather_has_one_row_per_benchmark_session_and_every_column(weather, data):
    close, _, _ = data
    assert weather.index.equals(pd.DatetimeIndex(close["SP500"].dropna().index))
    for col in (*LAYER_COLUMNS, *EXPERT_COLUMNS, *CONTEXT_COLUMNS, *FUSION_COLUMNS):
        assert col in weather.columns, col


def test_layer_states_exist_exactly_where_scores_do_and_scores_stay_in_range(weather):
    for layer in WEATHER_LAYERS:
        score, state = weather[f"{layer}_score"], weather[f"{layer}_state"]
        assert ((score >= -1) & (score <= 1) | score.isna()).all(), layer
        assert (state.isna() == score.isna()).all(), layer
        assert weather[f"{layer}_source"].map(lambda s: isinstance(s, str) and len(s) > 0).all(), layer


def test_rotation_is_unavailable_before_the_factor_etfs_have_a_quarter_of_history(weather):
    for day in ("2005-06-01", "2013-12-31", "2014-02-03"):
        row = _row(weather, day)
        assert row["rotation_state"] is None and np.isnan(row["rotation_score"])
        assert row["rotation_source"].startswith("unavailable")
    assert _row(weather, "2014-06-02")["rotation_state"] in ("cyclical_leadership", "balanced", "defensive_leadership")


def test_liquidity_and_sentiment_are_unavailable_outside_the_index_ohlcv_years(weather):
    for day in ("1995-06-01", "2019-01-02", "2019-06-03"):
        row = _row(weather, day)
        assert row["liquidity_state"] is None and row["liquidity_source"].startswith("unavailable")
        assert row["sentiment_state"] is None and row["sentiment_source"].startswith("unavailable")
    row = _row(weather, "2008-10-10")
    assert row["liquidity_state"] == "surge" and row["liquidity_score"] < 0
    assert row["sentiment_state"] is not None


def test_volatility_uses_vix_where_it_exists_and_says_when_it_falls_back_to_realised_vol(weather):
    assert _row(weather, "2016-06-01")["volatility_source"] == "VIX close"
    assert _row(weather, "2019-01-03")["volatility_source"] == "VIX close"
    for day in ("2010-06-01", "2019-01-04"):
        assert _row(weather, day)["volatility_source"] == "SP500 realised vol 21d (VIX unavailable)"
    assert _row(weather, "2008-10-10")["volatility_state"] == "crisis"
    assert _row(weather, "2017-06-30")["volatility_state"] == "low"


def test_macro_drops_the_credit_spread_once_moodys_yields_go_stale(weather):
    assert _row(weather, "2018-06-01")["macro_source"] == "SP500 vs SMA200 + BAA-AAA 3-month change"
    assert "BAA-AAA unavailable" in _row(weather, "2019-03-01")["macro_source"]
    assert np.isnan(_row(weather, "2019-03-01")["macro_credit"])
    assert _row(weather, "2008-11-20")["macro_credit"] < -0.5


def test_layers_without_their_series_say_the_series_is_not_in_the_data(data):
    close, _, universe = data
    bare = close[[*universe, "SP500"]].loc[:"2018-12-31"]
    w = compute_weather(bare, None, universe)
    row = w.loc["2016-06-01"]
    assert "SIZE, VLUE, USMV, QUAL not in data" in row["rotation_source"]
    assert row["volatility_source"] == "SP500 realised vol 21d (VIX unavailable)"
    assert row["liquidity_state"] is None and pd.isna(row["unstable_calm"])
    assert row["regime"] in REGIME_ORDER


def test_calendar_flags_known_sessions_from_the_exchange_calendar():
    days = pd.DatetimeIndex(["2018-11-21", "2018-12-31", "2018-03-16", "2018-03-12", "2018-07-03",
                             "2018-06-06", "2012-10-26", "2006-12-29"])
    f = calendar_flags(days)
    assert f.loc["2018-11-21", "pre_holiday"]                       # day before Thanksgiving
    assert f.loc["2018-12-31", ["turn_of_month", "quarter_end", "pre_holiday"]].all()
    assert f.loc["2018-03-16", "opex_week"] and f.loc["2018-03-12", "opex_week"]   # third Friday and its Monday
    assert f.loc["2018-07-03", "pre_holiday"]
    assert not f.loc["2018-06-06", ["turn_of_month", "opex_week", "quarter_end", "pre_holiday"]].any()
    assert not f.loc["2012-10-26", "pre_holiday"]   # Hurricane Sandy's closure was not known that Friday
    assert f.loc["2006-12-29", "pre_holiday"] and f.known.all()


def test_calendar_layer_scores_turn_of_month_and_pre_holiday(weather):
    row = _row(weather, "2017-06-30")
    assert row["calendar_state"] == "turn_of_month+quarter_end" and row["calendar_score"] == 0.5
    assert _row(weather, "2017-06-07")["calendar_state"] == "ordinary"


def test_regimes_on_known_episodes_before_2019(weather):
    assert _row(weather, "2008-10-10")["regime"] == "high_vol_panic"
    assert _row(weather, "2008-10-15")["regime"] == "high_vol_panic"
    assert _row(weather, "2017-06-30")["regime"] in ("calm_uptrend", "risk_on_trend")
    assert _row(weather, "2006-05-01")["regime"] in ("calm_uptrend", "risk_on_trend")
    assert _row(weather, "2002-07-23")["regime"] in ("high_vol_panic", "risk_off_trend")
    assert _row(weather, "2001-03-22")["regime"] in ("risk_off_trend", "high_vol_panic")
    assert _row(weather, "2011-08-10")["vol_panic"]


def test_expert_signals_stay_in_their_ranges(weather):
    pre = weather.loc[:"2018-12-31"]
    for col in ("vol_complexity", "fragility"):
        assert pre[col].dropna().between(0, 1).all()
    assert pre["macro_credit"].dropna().between(-1, 1).all()
    assert pre["fragility"].loc["2008-10-01":"2008-12-31"].mean() > pre["fragility"].loc["2017"].mean()
    assert pre["unstable_calm"].loc["2010"].isna().all()           # no VIX: no vol-of-vol, no verdict
    assert pre["unstable_calm"].loc["2016"].notna().all()
    assert pre["entropy_shift"].iloc[:311].isna().all()


def test_entropy_shift_needs_three_sessions_beyond_two_sigma(weather):
    z, shift = weather["entropy_z"], weather["entropy_shift"]
    beyond = z.abs() > 2
    three = beyond & beyond.shift(1, fill_value=False) & beyond.shift(2, fill_value=False)
    known = shift.notna()
    assert (shift[known].astype(bool) == three[known]).all()


def test_window_entropy_is_lower_for_a_fat_tailed_window_than_for_a_spread_one():
    spread = pd.Series(np.linspace(-1, 1, 60))
    spike = pd.Series([0.0] * 59 + [5.0])
    assert window_entropy(spread).iloc[-1] > window_entropy(spike).iloc[-1]
    assert window_entropy(spread).iloc[:59].isna().all()


def _frame(**cols) -> pd.DataFrame:
    base = {"bench_dist_sma200": 0.08, "bench_ret_63d": 0.05, "bench_vol_21d": 0.09, "bench_drawdown": -0.01,
            "vix": np.nan, "vol_panic": False, "macro_credit": 0.0, "fragility": 0.2, "entropy_shift": False,
            "vol_complexity": 0.1, "unstable_calm": pd.NA}
    base.update(cols)
    idx = pd.bdate_range("2010-01-04", periods=5)
    frame = pd.DataFrame({k: [v] * 5 for k, v in base.items()}, index=idx)
    for b in ("vol_panic", "entropy_shift", "unstable_calm"):
        frame[b] = frame[b].astype("boolean")
    return frame


def _noted(text: str, row) -> bool:
    """Whether one of the fusion's notes (a list of sentences) says ``text``."""
    return any(text in note for note in row["fusion_notes"])


def test_fuse_hard_overrides_to_panic_when_vol_panic_fires():
    out = fuse(_frame(vol_panic=True)).iloc[-1]
    assert out["base_regime"] == "calm_uptrend" and out["regime"] == "high_vol_panic"
    assert _noted("vol_panic", out) and out["risk_throttle"] == 0.25


def test_fuse_moves_the_regime_one_level_on_credit_but_never_into_panic():
    assert fuse(_frame(macro_credit=-0.8)).iloc[-1]["regime"] == "risk_on_trend"
    off = fuse(_frame(bench_dist_sma200=-0.05, bench_ret_63d=-0.04, macro_credit=-0.9)).iloc[-1]
    assert off["base_regime"] == "risk_off_trend" and off["regime"] == "risk_off_trend"
    up = fuse(_frame(bench_vol_21d=0.15, macro_credit=0.7)).iloc[-1]
    assert up["base_regime"] == "risk_on_trend" and up["regime"] == "calm_uptrend"
    assert _noted("benign credit", up)


def test_fuse_caution_gates_multiply_the_sizing_modifier_within_its_bounds():
    out = fuse(_frame(fragility=1.0, entropy_shift=True)).iloc[-1]
    assert out["sizing_modifier"] == pytest.approx(0.5 * 0.75)
    assert _noted("fragility 1.00 > 0.50", out) and _noted("entropy_shift", out)
    assert _noted("ensemble disagreement not yet available", out)
    assert fuse(_frame()).iloc[-1]["sizing_modifier"] == 1.0


def test_fused_columns_on_real_data_respect_their_bounds(weather):
    ready = weather[weather["regime"].notna()]
    assert ready["regime"].isin(REGIME_ORDER).all() and ready["base_regime"].isin(REGIME_ORDER).all()
    assert ready["sizing_modifier"].between(0.25, 1).all() and ready["risk_throttle"].between(0, 1).all()
    assert weather["regime"].iloc[:199].isna().all()


def test_nudge_moves_at_most_one_level_and_clips_at_the_ends():
    assert nudge("choppy", 3) == "risk_off_trend" and nudge("choppy", -2) == "risk_on_trend"
    assert nudge("choppy", 0) == "choppy"
    assert nudge("calm_uptrend", -1) == "calm_uptrend" and nudge("high_vol_panic", 1) == "high_vol_panic"
    with pytest.raises(ValueError, match="unknown regime 'sunny'"):
        nudge("sunny", 1)


def test_snapshot_builds_the_contract_for_the_last_session_on_or_before_a_day(weather):
    snap = snapshot(weather, pd.Timestamp("2017-07-01").date())       # a Saturday
    assert isinstance(snap, WeatherSnapshot) and str(snap.as_of) == "2017-06-30"
    assert set(snap.layers) == set(WEATHER_LAYERS) and set(snap.experts) == set(EXPERT_COLUMNS)
    assert snap.layers["rotation"].available and snap.experts["vol_panic"] is False
    old = snapshot(weather, pd.Timestamp("2005-06-01"))
    assert not old.layers["rotation"].available and old.layers["rotation"].state is None
    assert old.experts["unstable_calm"] is None
    with pytest.raises(ValueError, match="warm-up"):
        snapshot(weather, pd.Timestamp("1990-03-01"))
    with pytest.raises(KeyError):
        snapshot(weather, pd.Timestamp("1989-12-29"))


def test_unknown_universe_symbol_is_a_clear_error(data):
    close, volume, _ = data
    with pytest.raises(ValueError, match="unknown universe symbol 'APPL' \\(did you mean 'AAPL'\\?\\)"):
        compute_weather(close, volume, ["APPL", "MSFT"])


def _same(a: object, b: object) -> bool:
    if a is None or b is None or a is pd.NA or b is pd.NA:
        return (a is None or a is pd.NA) and (b is None or b is pd.NA)
    if isinstance(a, float | np.floating):
        return (np.isnan(a) and np.isnan(b)) or bool(np.isclose(a, b, rtol=1e-10, atol=1e-12))
    return a == b


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.one_of(st.integers(0, 330), st.integers(330, 8300)))
@example(pos=201)    # the first confirmed regime
@example(pos=6049)   # the factor ETFs' first session
@example(pos=6112)   # rotation's first reading
@example(pos=7308)   # the last VIX close
def test_weather_row_at_t_does_not_change_when_later_data_is_removed(data, weather, pos):
    close, volume, universe = data
    day = weather.index[min(pos, len(weather) - 1)]
    cut = compute_weather(close.loc[:day], volume.loc[:day], universe)
    assert cut.index[-1] == day
    full_row, cut_row = weather.loc[day], cut.loc[day]
    diffs = [c for c in weather.columns if not _same(full_row[c], cut_row[c])]
    assert not diffs, f"{day.date()}: {diffs}"
