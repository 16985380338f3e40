"""Walk-forward cutoffs, the mean-reversion model and the registry: no look-ahead, determinism, persistence."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import mean_reversion as mr
from models.registry import ModelRegistry
from models.walkforward import cutoff_for, cutoffs_between, purged_split, retrain_anchors

HORIZON = 5
IN_SAMPLE_END = pd.Timestamp("2018-12-31")  # tests stay off the hold-out


def _rsi(close: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    change = close.diff()
    gain = change.clip(lower=0).ewm(alpha=1 / window, adjust=False).mean()
    loss = (-change.clip(upper=0)).ewm(alpha=1 / window, adjust=False).mean()
    return 100 - 100 / (1 + gain / loss)


def _panel(close: pd.DataFrame, benchmark: pd.Series) -> pd.DataFrame:
    """A (date, symbol) panel of the model's features, computed simply and causally from closes."""
    log_ret = np.log(close).diff()
    sma20, std20 = close.rolling(20).mean(), close.rolling(20).std()
    wide = {
        "close": close,
        "bb_z_20": (close - sma20) / std20,
        "rsi_14": _rsi(close),
        "ret_1d": close.pct_change(1),
        "ret_5d": close.pct_change(5),
        "ret_21d": close.pct_change(21),
        "vol_21d": log_ret.rolling(21).std() * np.sqrt(252),
        "dist_sma200": close / close.rolling(200).mean() - 1,
        "drawdown_252d": close / close.rolling(252, min_periods=1).max() - 1,
        "rs_63d": close.pct_change(63).sub(benchmark.pct_change(63), axis=0),
    }
    panel = pd.concat({name: frame.stack() for name, frame in wide.items()}, axis=1)
    panel.index = panel.index.set_names(["date", "symbol"])
    return panel


@pytest.fixture(scope="module")
def market() -> tuple[pd.DataFrame, pd.DataFrame]:
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    close = load_sp500_dataset().loc[:IN_SAMPLE_END]
    benchmark = load_sp500_index().loc[:IN_SAMPLE_END].iloc[:, 0]
    close.index = pd.DatetimeIndex(close.index).normalize().as_unit("ns")
    benchmark.index = close.index
    return _panel(close, benchmark), close


@pytest.fixture(scope="module")
def model(market) -> mr.TrainedModel:
    panel, close = market
    return mr.train(panel, close, date(2012, 3, 22), train_years=4)


def _sessions(start: str = "2000-01-01", end: str = "2003-12-31") -> pd.DatetimeIndex:
    holidays = pd.to_datetime(["2001-01-01", "2002-01-01", "2003-01-01", "2001-09-11"])
    return pd.bdate_range(start, end).difference(holidays)


# walk-forward schedule


def test_retrain_anchors_are_first_sessions_of_each_quarter():
    anchors = retrain_anchors(_sessions("2002-01-01", "2002-12-31"))
    assert [day.date() for day in anchors] == [date(2002, 1, 2), date(2002, 4, 1), date(2002, 7, 1), date(2002, 10, 1)]


def test_cutoff_for_is_horizon_plus_one_sessions_before_the_quarter_anchor():
    sessions = _sessions()
    cutoff = cutoff_for(date(2002, 5, 17), sessions)
    anchor = sessions.get_loc(pd.Timestamp("2002-04-01"))
    assert sessions.get_loc(pd.Timestamp(cutoff)) == anchor - (HORIZON + 1)


def test_cutoff_for_a_decision_on_a_weekend_uses_the_last_session_before_it():
    sessions = _sessions()
    assert cutoff_for(date(2002, 3, 30), sessions) == cutoff_for(date(2002, 3, 29), sessions)


@settings(max_examples=200, deadline=None)
@given(offset=st.integers(min_value=40, max_value=1000), horizon=st.integers(min_value=0, max_value=21), months=st.sampled_from([1, 3, 6, 12]))
def test_cutoff_for_is_the_same_on_a_store_truncated_at_the_decision(offset, horizon, months):
    sessions = _sessions()
    decision = sessions[offset].date()
    truncated = sessions[sessions <= pd.Timestamp(decision)]
    try:
        expected = cutoff_for(decision, sessions, months, horizon)
    except ValueError:
        with pytest.raises(ValueError):
            cutoff_for(decision, truncated, months, horizon)
        return
    assert cutoff_for(decision, truncated, months, horizon) == expected


@settings(max_examples=200, deadline=None)
@given(offset=st.integers(min_value=130, max_value=1000), horizon=st.integers(min_value=1, max_value=21))
def test_cutoff_for_leaves_every_label_realised_strictly_before_the_decision(offset, horizon):
    sessions = _sessions()
    decision = sessions[offset]
    cutoff = sessions.get_loc(pd.Timestamp(cutoff_for(decision.date(), sessions, horizon_days=horizon)))
    # the last trainable row is `horizon` sessions before the cutoff; its label ends at the cutoff
    assert cutoff < offset
    assert offset - cutoff >= horizon + 1


def test_cutoff_for_without_enough_history_says_so():
    sessions = _sessions()
    with pytest.raises(ValueError, match="too little history"):
        cutoff_for(sessions[2].date(), sessions)


def test_cutoffs_between_lists_one_cutoff_per_quarter_touched():
    sessions = _sessions()
    cutoffs = cutoffs_between(date(2002, 2, 15), date(2002, 12, 31), sessions)
    by_day = {cutoff_for(day.date(), sessions) for day in sessions if date(2002, 2, 15) <= day.date() <= date(2002, 12, 31)}
    assert cutoffs == sorted(by_day)
    assert len(cutoffs) == 4


def test_purged_split_leaves_a_gap_of_horizon_dates_between_train_and_validation():
    days = _sessions("2010-01-01", "2010-12-31")
    rows = days.repeat(3)  # three symbols per date
    train, val = purged_split(rows, val_fraction=0.2, gap=HORIZON)
    assert not (train & val).any()
    unique = days.sort_values()
    last_train, first_val = rows[train].max(), rows[val].min()
    assert unique.get_loc(first_val) - unique.get_loc(last_train) == HORIZON + 1
    assert val.sum() == 3 * round(len(unique) * 0.2)


# mean-reversion model


def test_no_training_row_has_a_label_window_crossing_the_cutoff(market):
    panel, close = market
    cutoff = date(2010, 6, 23)
    _, _, dates = mr.training_rows(panel, close, cutoff, train_years=3, horizon=HORIZON)
    sessions = close.index
    label_ends = sessions[sessions.get_indexer(dates) + HORIZON]
    assert label_ends.max() <= pd.Timestamp(cutoff)
    assert dates.min() > pd.Timestamp(cutoff) - pd.DateOffset(years=3)


def test_model_used_on_a_decision_learnt_only_labels_realised_before_it(market):
    panel, close = market
    sessions = close.index
    for decision in (date(2011, 1, 3), date(2011, 2, 14), date(2011, 3, 31)):
        cutoff = cutoff_for(decision, sessions[sessions <= pd.Timestamp(decision)])
        _, _, dates = mr.training_rows(panel, close, cutoff, train_years=2)
        last_label_end = sessions[sessions.get_loc(dates.max()) + HORIZON]
        gap = sessions.get_loc(sessions[sessions <= pd.Timestamp(decision)][-1]) - sessions.get_loc(last_label_end)
        assert last_label_end < pd.Timestamp(decision) and gap > HORIZON


def test_train_ignores_every_price_after_the_cutoff(market):
    panel, close = market
    cutoff = date(2010, 6, 23)
    scrambled = close.copy()
    after = scrambled.index > pd.Timestamp(cutoff)
    scrambled.loc[after] = scrambled.loc[after].to_numpy()[::-1]  # rewrite the future
    scrambled_panel = panel.copy()
    scrambled_panel.loc[scrambled_panel.index.get_level_values("date") > pd.Timestamp(cutoff), "bb_z_20"] = 9.0
    honest = mr.train(panel, close, cutoff, train_years=3)
    tampered = mr.train(scrambled_panel, scrambled, cutoff, train_years=3)
    assert honest.booster.model_to_string() == tampered.booster.model_to_string()


def test_train_on_identical_inputs_gives_identical_models_and_predictions(market, model):
    panel, close = market
    again = mr.train(panel, close, model.cutoff, train_years=4)
    X = panel.loc[pd.Timestamp("2012-06-01"):pd.Timestamp("2012-06-30")]
    assert again.version == model.version
    assert again.booster.model_to_string() == model.booster.model_to_string()
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))


def test_trained_model_records_its_provenance_and_out_of_sample_metrics(model):
    assert model.name == "mean_reversion"
    assert model.version.startswith("mr-lgbm-2012-03-22-") and len(model.version.rsplit("-", 1)[1]) == 8
    assert model.trained_on[1] < model.cutoff and model.trained_on[0] > date(2008, 3, 22)
    assert model.n_rows == model.metrics["n_train"] + model.metrics["n_val"] + 20 * HORIZON
    assert 0.0 < model.metrics["val_auc"] < 1.0
    assert 0.0 < model.metrics["val_hit_rate"] < 1.0


def test_a_different_seed_gives_a_different_version(market, model):
    assert mr.version_for(model.cutoff, mr.recipe(4, HORIZON, seed=8)) != model.version


def test_predict_proba_returns_nan_for_a_row_missing_a_feature(market, model):
    panel, _ = market
    X = panel.loc[pd.Timestamp("2012-06-01")].copy()
    X.iloc[0, X.columns.get_loc("rsi_14")] = np.nan
    prob = model.predict_proba(X)
    assert np.isnan(prob[0]) and np.all((prob[1:] > 0) & (prob[1:] < 1))


def test_predict_proba_without_a_feature_column_names_it(model, market):
    panel, _ = market
    with pytest.raises(KeyError, match="rs_63d"):
        model.predict_proba(panel.drop(columns="rs_63d").head())


def test_save_then_load_gives_identical_predictions(model, market, tmp_path):
    panel, _ = market
    model.save(tmp_path / "m")
    loaded = mr.TrainedModel.load(tmp_path / "m")
    X = panel.loc[pd.Timestamp("2012-04-01"):pd.Timestamp("2012-12-31")]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert (loaded.version, loaded.cutoff, loaded.trained_on, loaded.n_rows) == (model.version, model.cutoff, model.trained_on, model.n_rows)
    assert loaded.metrics == model.metrics and loaded.params == model.params


def test_ten_years_of_twenty_stocks_train_on_labels_realised_by_the_cutoff_only(market):
    panel, close = market
    cutoff = date(2018, 9, 21)
    trained = mr.train(panel, close, cutoff, train_years=10)
    first, last = trained.trained_on
    assert last <= cutoff and first >= date(2008, 9, 21)
    assert trained.n_rows > 10 * 200 * 15  # ten years of most of the twenty stocks' sessions
    assert 0.0 <= trained.metrics["val_auc"] <= 1.0 and trained.metrics["train_seconds"] > 0


# registry


def test_registry_trains_once_then_a_new_registry_loads_from_disk(model, market, tmp_path):
    panel, _ = market
    calls: list[int] = []

    def trainer() -> mr.TrainedModel:
        calls.append(1)
        return model

    first = ModelRegistry(tmp_path)
    assert first.get_or_train("mean_reversion", model.cutoff, trainer) is model
    assert first.get_or_train("mean_reversion", model.cutoff, trainer) is model
    assert len(calls) == 1

    def must_not_train() -> mr.TrainedModel:
        raise AssertionError("the saved model should have been loaded")

    fresh = ModelRegistry(tmp_path)
    loaded = fresh.get_or_train("mean_reversion", model.cutoff, must_not_train)
    X = panel.loc[pd.Timestamp("2012-06-01")]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert not [p for p in (tmp_path / "mean_reversion").iterdir() if p.name.startswith(".")]


def test_registry_lists_saved_versions_and_finds_the_latest_on_or_before_a_date(model, tmp_path):
    registry = ModelRegistry(tmp_path)
    registry.get_or_train("mean_reversion", model.cutoff, lambda: model)
    [row] = registry.list()
    assert row["version"] == model.version and row["metrics"]["val_auc"] == model.metrics["val_auc"]
    assert registry.list("direction") == []
    assert ModelRegistry(tmp_path).latest("mean_reversion", date(2013, 1, 1)).version == model.version
    assert registry.latest("mean_reversion", date(2012, 3, 21)) is None


def test_registry_retrains_a_saved_model_of_another_version(model, market, tmp_path):
    panel, close = market
    registry = ModelRegistry(tmp_path)
    registry.get_or_train("mean_reversion", model.cutoff, lambda: model)
    wanted = mr.version_for(model.cutoff, mr.recipe(4, HORIZON, seed=8))
    retrained = ModelRegistry(tmp_path).get_or_train(
        "mean_reversion", model.cutoff, lambda: mr.train(panel, close, model.cutoff, train_years=4, seed=8), version=wanted
    )
    assert retrained.version == wanted
    assert [row["version"] for row in registry.list("mean_reversion")] == [wanted]


def test_registry_refuses_a_trainer_that_returns_another_cutoff(model, tmp_path):
    with pytest.raises(ValueError, match="expected 'mean_reversion' for 2012-03-23"):
        ModelRegistry(tmp_path).get_or_train("mean_reversion", date(2012, 3, 23), lambda: model)
    assert not (tmp_path / "mean_reversion").exists()


def test_every_decision_in_a_retrain_block_shares_one_cutoff():
    from models.walkforward import retrain_block

    sessions = pd.DatetimeIndex(pd.bdate_range("2010-01-01", "2011-12-31"))
    by_block: dict = {}
    for ts in sessions[300:]:
        by_block.setdefault(retrain_block(ts.date(), 3), set()).add(cutoff_for(ts.date(), sessions, 3, 5))
    assert all(len(cutoffs) == 1 for cutoffs in by_block.values())
