"""The volatility models: the HMM's filtered state and GARCH's forecasts read nothing after their date, their
training reads nothing after its cutoff, and each goes through the registry's gate like every model."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models import garch, vol_state
from models.inputs import ModelInputs
from models.registry import ModelRegistry
from models.train import train_one

END = date(2012, 12, 31)   # model tests never read the hold-out
CUTOFF = date(2009, 6, 30)


@pytest.fixture(scope="module")
def inputs() -> ModelInputs:
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    close = load_sp500_dataset().loc[:END].iloc[:, :6]
    bench = load_sp500_index().loc[:END].iloc[:, 0]
    panel = close.stack().to_frame("close")
    return ModelInputs.build(panel, close, pd.DataFrame(index=close.index), bench)


@pytest.fixture(scope="module")
def hmm(inputs) -> vol_state.VolStateModel:
    return vol_state.train(inputs, CUTOFF)


@pytest.fixture(scope="module")
def g11(inputs) -> garch.GarchModel:
    return garch.train(inputs, CUTOFF, {"train_years": 6})


def test_vol_state_on_a_date_is_the_same_with_every_later_session_removed(inputs, hmm):
    for day in (date(2010, 5, 20), date(2011, 8, 8), date(2012, 3, 1)):
        full = hmm.predict_at(inputs, day)
        cut = hmm.predict_at(inputs.until(day), day)
        assert np.allclose(full["probabilities"], cut["probabilities"])
        assert full["session"] == cut["session"] <= day


def test_vol_state_names_are_ordered_from_calm_to_crisis(hmm):
    out = hmm.state
    vols = [m[1] for m in out["means"]]
    assert vols == sorted(vols) and tuple(out["names"]) == vol_state.VOL_STATES


def test_vol_state_reads_crisis_in_the_autumn_of_2008_and_calm_before_it(inputs, hmm):
    calm = hmm.predict_at(inputs, date(2006, 11, 15))
    crash = hmm.predict_at(inputs, date(2008, 10, 15))
    names = hmm.names
    assert names[int(np.argmax(crash["probabilities"]))] == "crisis"
    assert names[int(np.argmax(calm["probabilities"]))] in ("bull", "neutral")


def test_vol_state_training_reads_nothing_after_its_cutoff(inputs, hmm):
    again = vol_state.train(inputs.until(CUTOFF), CUTOFF)
    assert again.version == hmm.version and np.allclose(again.state["means"], hmm.state["means"])


def test_garch_forecast_on_a_date_is_the_same_with_every_later_session_removed(inputs, g11):
    symbols = list(inputs.symbols)
    for day in (date(2010, 5, 20), date(2012, 3, 1)):
        full = g11.predict_at(inputs, day, symbols)["rows"]
        cut = g11.predict_at(inputs.until(day), day, symbols)["rows"]
        assert full == pytest.approx(cut) and all(v is None or 0.02 < v < 3 for v in full.values())


def test_garch_training_reads_nothing_after_its_cutoff(inputs, g11):
    again = garch.train(inputs.until(CUTOFF), CUTOFF, {"train_years": 6})
    assert again.version == g11.version and set(again.state["params"]) == set(g11.state["params"])
    for symbol, params in g11.state["params"].items():
        assert again.state["params"][symbol] == pytest.approx(params)


def test_garch_beats_its_naive_forecasts_out_of_sample_before_it_is_promoted(inputs, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    out = train_one(registry, inputs, "garch", CUTOFF, {"train_years": 6})
    v = out.validation
    assert out.status == ("promoted" if v["beats_baseline"] else "rejected")
    assert set(v["baselines"]) == {"persistence", "constant"}
    test = garch.evaluate_between(registry.load("garch", out.version), inputs, date(2010, 1, 1), date(2011, 12, 31))
    assert test.value is not None and test.best_baseline is not None   # scored beside both naive forecasts


def test_vol_state_is_promoted_only_through_the_registry_gate(inputs, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    out = train_one(registry, inputs, "vol_state", CUTOFF)
    assert out.status in ("promoted", "rejected") and out.reason
    snap = registry.snapshot()
    usable = snap.usable("vol_state", date(2009, 9, 1), inputs.sessions)
    assert usable.usable == (out.status == "promoted")
    assert not snap.usable("vol_state", CUTOFF, inputs.sessions).usable   # inside its purge gap: never on its cutoff


def test_vol_state_filter_agrees_with_hmmlearn_on_the_last_session(inputs, hmm):
    z = (vol_state.rows(inputs, inputs.sessions[0], inputs.sessions[400], hmm.params)["X"] - hmm.state["mu"]) \
        / hmm.state["sd"]
    ours = vol_state.filtered(hmm.state, z)
    assert np.allclose(ours[-1], vol_state._hmm(hmm.state).predict_proba(z)[-1], atol=1e-6)


def _forward_by_hand(s, z):
    """The forward recursion written out (the reference the compiled filter must match)."""
    logd = vol_state._log_density(s, z)
    dens = np.exp(logd - logd.max(axis=1, keepdims=True))
    out = np.empty_like(dens)
    a = np.asarray(s["startprob"]) * dens[0]
    out[0] = a / a.sum()
    for t in range(1, len(z)):
        a = (out[t - 1] @ np.asarray(s["transmat"])) * dens[t]
        out[t] = a / a.sum()
    return out


def test_vol_state_filter_is_the_forward_recursion_row_by_row(inputs, hmm):
    z = (vol_state.rows(inputs, inputs.sessions[0], inputs.sessions[400], hmm.params)["X"] - hmm.state["mu"]) \
        / hmm.state["sd"]
    ours = vol_state.filtered(hmm.state, z)
    assert np.allclose(ours, _forward_by_hand(hmm.state, z), rtol=0, atol=1e-12)
    assert np.allclose(ours.sum(axis=1), 1.0)


def _garch_by_hand(ret, p):
    mu, omega, alpha, beta, var0 = p.T
    out = np.full(ret.shape, np.nan)
    s2 = var0.copy()
    for t in range(len(ret)):
        e2 = (ret[t] - mu) ** 2
        s2 = omega + alpha * np.where(np.isfinite(e2), e2, s2) + beta * s2
        out[t] = s2
    return out


def test_garch_filter_is_the_recursion_exactly_with_and_without_missing_returns():
    rng = np.random.default_rng(1)
    ret = rng.normal(size=(150, 6)) * 1.5
    ret[10, 3] = np.nan
    ret[50:55, 4] = np.nan
    ret[0, 5] = np.nan
    p = np.column_stack([rng.normal(size=6) * 0.05, rng.random(6) * 0.1 + 0.01, rng.random(6) * 0.1,
                         rng.random(6) * 0.8, rng.random(6) + 0.5])
    assert np.array_equal(garch._filter(ret, p), _garch_by_hand(ret, p), equal_nan=True)
    assert garch._filter(ret[:0], p).shape == (0, 6)
    # a night's forecast takes the last row in closed form: the same value, to rounding
    assert np.allclose(garch._filter_last(ret, p), _garch_by_hand(ret, p)[-1], rtol=1e-12, atol=0)
    assert np.allclose(garch._filter_last(ret[:1], p), _garch_by_hand(ret[:1], p)[-1], rtol=1e-12, atol=0)


def test_the_hmms_margin_test_resamples_its_one_step_predictive_rows_never_a_rejoined_sequence(inputs, hmm):
    """The bootstrap of vol_state's margin resamples each date's one-step predictive log-likelihood (from one
    forward pass over the ordered tail): they sum to the HMM's own score, and its resampled margin stays centred on
    the point margin. Scoring each resampled sequence afresh would join unrelated blocks as if one followed the
    other, charge the HMM for jumps that never happened and reject a model that beats its baseline by a mile."""
    from models.significance import paired_test

    r = vol_state.rows(inputs, pd.Timestamp(CUTOFF), pd.Timestamp(END), hmm.params)
    z = (r["X"] - np.asarray(hmm.state["mu"])) / np.asarray(hmm.state["sd"])
    assert vol_state._hmm_rows(hmm.state, z).sum() == pytest.approx(vol_state._hmm(hmm.state).score(z), rel=1e-9)
    e = vol_state.evaluate(hmm, r, inputs)
    test = paired_test(e.scored["model"], e.scored["iid_gaussian"], "iid_gaussian")
    assert test.margin == pytest.approx(e.value - e.baselines["iid_gaussian"], abs=1e-5)
    assert test.low <= test.margin <= test.high
    if test.margin > 0.2:
        assert test.p_value < 0.05
