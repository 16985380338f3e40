"""Deep models (regime ensemble, health autoencoder, CfC direction) and the LightGBM model under one machinery:
labels, kernels, no look-ahead, purged windows, reproducibility, persistence, the walk-forward driver.
Tiny shapes and one epoch (tests/model_kit.TINY); data before 2013 only."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models import labels
from models.catalog import entry
from models.inputs import ModelInputs
from models.snapshot import gap_sessions
from models.train import summarise, train_one, walk_forward
from tests.model_kit import DECISION, TINY, market, model_inputs, trained  # noqa: F401  (fixtures)

NAMES = ("regime", "health", "direction", "mean_reversion")
DEEP = ("regime", "health", "direction")
SYMBOLS = ["AAPL", "XOM", "JPM", "KO"]


def _predict(model, inputs: ModelInputs, day: date):
    if model.name == "regime":
        return model.predict_at(inputs, day)
    return model.predict_at(inputs, day, SYMBOLS)


def _same(a, b) -> None:
    """Predictions identical, bit for bit (dicts of arrays, floats or None)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


# labels


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 25), st.integers(0, 2**31 - 1))
def test_a_forward_label_is_the_trailing_statistic_h_sessions_later(h, seed):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, (80, 2)), axis=0))
    fwd_ret = labels.forward(labels.trailing_return(close, h), h)
    np.testing.assert_allclose(fwd_ret[:-h], close[h:] / close[:-h] - 1)
    assert np.isnan(fwd_ret[-h:]).all()
    fwd_vol = labels.forward(labels.trailing_vol(close, h), h)
    t = 10
    np.testing.assert_allclose(fwd_vol[t], np.diff(np.log(close[t:t + h + 1]), axis=0).std(axis=0, ddof=1) * np.sqrt(252))
    # truncating after t + h leaves the label at t unchanged: it reads nothing later
    cut = labels.forward(labels.trailing_return(close[:t + h + 1], h), h)
    np.testing.assert_array_equal(cut[t], fwd_ret[t])


def test_the_regime_rule_applies_panic_then_risk_off_then_calm_then_risk_on_else_choppy():
    ret = np.array([0.05, -0.05, 0.02, 0.02, 0.02, -0.01, 0.01, np.nan])
    vol = np.array([0.35, 0.25, 0.10, 0.15, 0.25, 0.10, 0.40, 0.10])
    fall = np.array([-0.12, -0.06, 0.0, 0.0, -0.02, -0.02, -0.05, 0.0])
    names = ["high_vol_panic", "risk_off_trend", "calm_uptrend", "risk_on_trend", "choppy", "choppy", "choppy"]
    from vocab.terms import REGIME_ORDER

    codes = labels.regime_codes(ret, vol, fall)
    assert [REGIME_ORDER[c] for c in codes[:-1]] == names and codes[-1] == -1


def test_vol_buckets_and_behaviour_follow_their_documented_edges():
    assert labels.vol_codes(np.array([0.10, 0.19, 0.25, 0.31, 0.50, np.nan])).tolist() == [0, 1, 1, 2, 2, -1]
    band = 1 / np.sqrt(63)
    assert labels.behaviour_codes(np.array([band + 1e-3, -band - 1e-3, 0.0, np.nan])).tolist() == [0, 1, 2, -1]


# numpy kernels against torch


def test_numpy_kernels_compute_what_the_torch_layers_compute():
    from ncps.torch import CfC
    from ncps.wirings import AutoNCP

    from models.kernels import GRU, WiredCfC, transformer_layer
    from models.nn import state_arrays

    torch.manual_seed(0)
    x = torch.randn(5, 21, 3)
    g = torch.nn.GRU(3, 8, 2, batch_first=True).eval()
    layer = torch.nn.TransformerEncoderLayer(8, 4, 16, 0.0, batch_first=True).eval()
    cfc = CfC(3, AutoNCP(8, 2, seed=3), return_sequences=False, batch_first=True)
    with torch.inference_mode():
        gru_params = {"g." + k: v for k, v in state_arrays(g).items()}
        np.testing.assert_allclose(GRU(gru_params, "g", 2)(x.numpy().astype(float)), g(x)[0].numpy(), atol=1e-5)
        z = torch.randn(5, 22, 8)
        layer_params = {"l." + k: v for k, v in state_arrays(layer).items()}
        np.testing.assert_allclose(transformer_layer(z.numpy().astype(float), layer_params, "l", 4),
                                   layer(z).numpy(), atol=1e-5)
        np.testing.assert_allclose(WiredCfC(state_arrays(cfc), "rnn_cell")(x.numpy().astype(float)), cfc(x)[0].numpy(),
                                   atol=1e-5)


def test_each_trained_model_predicts_what_its_torch_networks_predict(trained, model_inputs):
    from models import direction, regime
    from models.health import FEATURES

    _, outcomes, _ = trained
    reg, hl, dr = (outcomes[n].model for n in DEEP)
    rows = regime.rows(model_inputs, pd.Timestamp("2011-01-03"), pd.Timestamp("2011-03-01"), reg.params)
    gru, tf = reg.probabilities(rows.data["x"])
    scaled = torch.from_numpy(regime.Standardizer.from_dict(reg.state["scaler"]).transform(rows.data["x"]))
    with torch.inference_mode():
        np.testing.assert_allclose(gru, torch.softmax(reg.nets["gru"](scaled), -1).numpy(), atol=1e-5)
        np.testing.assert_allclose(tf, torch.softmax(reg.nets["transformer"](scaled), -1).numpy(), atol=1e-5)
        x = model_inputs.asset_cube(FEATURES)[5000, :5]
        out = hl.outputs(x)
        net = hl.nets["ae"](torch.from_numpy(regime.Standardizer.from_dict(hl.state["scaler"]).transform(x)))
        np.testing.assert_allclose(out["health"], torch.sigmoid(net["health"]).numpy(), atol=1e-5)
        np.testing.assert_allclose(out["vol"], torch.softmax(net["vol"], -1).numpy(), atol=1e-5)
        d = direction.rows(model_inputs, pd.Timestamp("2011-01-03"), pd.Timestamp("2011-01-31"), dr.params)
        static = torch.from_numpy(regime.Standardizer.from_dict(dr.state["static"]).transform(d.data["static"]))
        expect = torch.sigmoid(dr.nets["net"](static, torch.from_numpy(np.clip(d.data["seq"], -5, 5)))).numpy()
        np.testing.assert_allclose(dr.p_up(d.data["static"], d.data["seq"]), expect, atol=1e-5)


# no look-ahead


@pytest.mark.parametrize("name", NAMES)
def test_predictions_at_d_are_identical_whether_or_not_the_inputs_hold_later_data(name, trained, model_inputs):
    model = trained[1][name].model
    for day in (date(2012, 4, 2), date(2012, 6, 15), date(2012, 9, 29)):   # 2012-09-29 is a Saturday
        _same(_predict(model, model_inputs, day), _predict(model, model_inputs.until(day), day))


def test_predictions_from_a_store_truncated_at_d_match_the_full_store(trained, market, model_inputs):
    from tools.features import asset_features
    from tools.weather import compute_weather

    view, day = market["view"], date(2012, 6, 15)
    close = view.close.loc[:pd.Timestamp(day)]
    bench = close[view.benchmark].dropna()
    cut = ModelInputs.build(asset_features(close.loc[bench.index, list(view.tradable)], bench), close[list(view.tradable)],
                            compute_weather(close, market["volume"].loc[:pd.Timestamp(day)], view.tradable,
                                            view.benchmark), bench)
    for name in NAMES:
        model = trained[1][name].model
        full, truncated = _predict(model, model_inputs, day), _predict(model, cut, day)
        if name == "regime":
            np.testing.assert_allclose(full["mean"], truncated["mean"], rtol=1e-9)
        else:
            assert full["rows"].keys() == truncated["rows"].keys()
            for symbol, value in full["rows"].items():
                other = truncated["rows"][symbol]
                flat = lambda v: np.hstack(list(v.values())) if isinstance(v, dict) else np.asarray(v)
                np.testing.assert_allclose(flat(value), flat(other), rtol=1e-9)


@pytest.mark.parametrize("name", DEEP)
def test_training_ignores_everything_after_the_cutoff(name, trained, model_inputs):
    honest = trained[1][name].model
    cutoff = pd.Timestamp(honest.cutoff)
    after = model_inputs.sessions > cutoff
    close, weather, panel = model_inputs.close.copy(), model_inputs.weather.copy(), model_inputs.panel.copy()
    close.loc[after] = close.loc[after].to_numpy()[::-1]
    numeric = weather.select_dtypes("number").columns
    weather.loc[after, numeric] = 9.0
    panel.loc[panel.index.get_level_values("date") > cutoff] = 9.0
    tampered = ModelInputs.build(panel, close, weather, model_inputs.benchmark.where(~after, 1.0))
    again = entry(name).train(tampered, honest.cutoff, entry(name).recipe(TINY[name]))
    assert again.metrics == honest.metrics
    for key, net in honest.nets.items():
        for (k, a), b in zip(net.state_dict().items(), again.nets[key].state_dict().values(), strict=True):
            assert torch.equal(a, b), k


def test_every_training_window_ends_before_its_decision_minus_the_label_horizon(trained, model_inputs):
    sessions = model_inputs.sessions
    for outcome in trained[1].values():
        model = outcome.model
        last_row, cutoff = sessions.get_loc(pd.Timestamp(model.trained_on[1])), sessions.get_loc(pd.Timestamp(model.cutoff))
        # every label realised by the cutoff; the HMM learns from the observations themselves (no forward label), so
        # its rows may reach the cutoff, and its horizon is only the gap of its validation split
        purge = 0 if outcome.name == "vol_state" else model.horizon
        assert last_row + purge <= cutoff
        assert gap_sessions(model.cutoff, DECISION, sessions) >= model.horizon
        assert model.cutoff < DECISION


# reproducibility, persistence, driver


@pytest.mark.parametrize("name", DEEP)
def test_the_same_data_and_seed_give_the_same_metrics_and_predictions(name, trained, model_inputs):
    first = trained[1][name].model
    again = entry(name).train(model_inputs, first.cutoff, entry(name).recipe(TINY[name]))
    assert again.version == first.version and again.metrics == first.metrics
    _same(_predict(again, model_inputs, date(2012, 6, 1)), _predict(first, model_inputs, date(2012, 6, 1)))


def test_another_seed_gives_another_version_and_other_weights(trained, model_inputs):
    first = trained[1]["health"].model
    other = entry("health").train(model_inputs, first.cutoff, entry("health").recipe({**TINY["health"], "seed": 8}))
    assert other.version != first.version
    assert not torch.equal(other.nets["ae"].mu.weight, first.nets["ae"].mu.weight)


@pytest.mark.parametrize("name", NAMES)
def test_a_saved_model_loads_with_its_provenance_and_identical_predictions(name, trained, model_inputs):
    registry, outcomes, _ = trained
    model = outcomes[name].model
    fresh = type(registry)(registry.root).load(name, model.version)
    assert fresh is not model and fresh.metrics == model.metrics and fresh.trained_on == model.trained_on
    _same(_predict(fresh, model_inputs, date(2012, 6, 1)), _predict(model, model_inputs, date(2012, 6, 1)))
    [row] = [r for r in registry.list(name) if r["version"] == model.version]
    assert row["features"] == list(model.features) and row["seed"] == model.seed and row["code_version"]
    assert row["status"] in ("promoted", "rejected") and row["reason"]


def test_each_outcome_reports_validation_and_in_sample_beside_baselines(trained):
    _, outcomes, events = trained
    for outcome in outcomes.values():
        for part in (outcome.validation, outcome.in_sample):
            assert part["metric"] == entry(outcome.name).metric and part["baselines"] and part["n_rows"] > 0
        if outcome.status == "promoted":
            assert outcome.validation["beats_baseline"]
        else:
            assert "does not beat" in outcome.reason or "is not significant" in outcome.reason
    assert {e.model for e in events} == set(outcomes) >= set(NAMES)
    assert all(0 < e.step <= e.total for e in events if e.step)


def test_a_version_already_decided_is_not_trained_again(trained, model_inputs):
    registry, outcomes, _ = trained
    outcome = outcomes["direction"]
    again = train_one(registry, model_inputs, "direction", outcome.cutoff, TINY["direction"])
    assert again.reused and again.version == outcome.version and again.status == outcome.status


def test_walk_forward_scores_each_fold_beside_its_baselines_and_never_reads_the_holdout(market, tmp_path):
    from models.registry import ModelRegistry

    inputs = ModelInputs.from_view(market["view"])                    # holds 2019-2022: the driver must cut it
    results = walk_forward(inputs, "mean_reversion", date(2017, 1, 1), date(2020, 12, 31),
                           ModelRegistry(tmp_path), recipe=TINY["mean_reversion"])
    assert [r.fold.test_start.year for r in results] == [2017, 2018]
    assert all(r.era == "validation" and r.test["baselines"] and r.test["end"] <= "2018-12-21" for r in results)
    assert all(r.fold.cutoff < r.fold.test_start for r in results)
    summary = summarise(results)
    assert list(summary) == ["validation"] and summary["validation"]["folds"] == 2


def test_the_regime_frame_for_a_replay_matches_one_call_per_session(trained, model_inputs):
    from vocab.terms import REGIME_ORDER

    model = trained[1]["regime"].model
    frame = model.frame(model_inputs.until(date(2012, 7, 31)))
    for day in (date(2012, 6, 1), date(2012, 7, 31)):
        one = model.predict_at(model_inputs, day)
        row = frame.loc[pd.Timestamp(day)]
        np.testing.assert_allclose(row[list(REGIME_ORDER)].to_numpy(dtype=float), one["mean"], atol=1e-12)
        assert row["disagreement"] == pytest.approx(one["disagreement"])
        assert row["regime"] == REGIME_ORDER[int(one["mean"].argmax())]
    assert frame.loc[:"1991-01-31", "regime"].isna().all()          # warm-up: no window, no regime


def test_windows_are_expanding_or_rolling_and_validation_is_purged_by_the_horizon(trained, model_inputs):
    sessions = model_inputs.sessions
    for outcome in trained[1].values():
        model = outcome.model
        if model.params.get("window") == "expanding":
            assert model.trained_on[0] < date(1992, 1, 1)
        else:
            years = model.params["train_years"]
            assert pd.Timestamp(model.trained_on[0]) >= pd.Timestamp(model.cutoff) - pd.DateOffset(years=years)
        head_end = sessions.get_loc(pd.Timestamp(model.validation_model.trained_on[1]))
        val_start = sessions.get_loc(pd.Timestamp(model.metrics["validation"]["start"]))
        assert val_start - head_end > model.horizon          # no head label reaches into the validation rows


def test_the_variational_health_variant_trains_predicts_and_reloads(model_inputs, tmp_path):
    from models.health import HealthModel

    job, cutoff = entry("health"), date(2011, 12, 1)
    model = job.train(model_inputs, cutoff, job.recipe({**TINY["health"], "variational": True}))
    assert model.nets["ae"].logvar is not None
    assert model.version != job.version(cutoff, job.recipe(TINY["health"]))     # the flag is part of the recipe
    out = _predict(model, model_inputs, date(2012, 6, 1))
    assert all(0 < row["health"] < 1 and abs(row["vol"].sum() - 1) < 1e-9 for row in out["rows"].values())
    _same(out, _predict(model, model_inputs, date(2012, 6, 1)))       # inference uses the mean: no sampling
    model.save(tmp_path / "vae")
    _same(_predict(HealthModel.load(tmp_path / "vae"), model_inputs, date(2012, 6, 1)), out)


PREDICT_WITHOUT_TORCH = """
import sys
from datetime import date
from pathlib import Path
from models.api import AsOfArgs, ModelService, SymbolsArgs
from models.inputs import ModelInputs
from models.registry import ModelRegistry
from tests.model_kit import END, market_frames
inputs = ModelInputs.from_view(market_frames(Path(sys.argv[1]))["view"]).until(END)
registry = ModelRegistry(Path(sys.argv[2]))
for row in registry.list():
    model = registry.load(row["name"], row["version"])
    out = model.predict_at(inputs, date(2012, 6, 15)) if row["name"] in ("regime", "vol_state") else \
        model.predict_at(inputs, date(2012, 6, 15), ["AAPL", "XOM"])
    assert out["session"] == date(2012, 6, 15)
heavy = sorted(m for m in ("torch", "ncps") if m in sys.modules)
print("imported:", heavy)
sys.exit(1 if heavy else 0)
"""


def test_loading_and_predicting_every_model_never_imports_torch(trained, seeded_home):
    import subprocess
    import sys
    from pathlib import Path

    registry, _, _ = trained
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", PREDICT_WITHOUT_TORCH, str(seeded_home), str(registry.root)],
                          cwd=repo, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
