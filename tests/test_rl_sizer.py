"""The RL sizer: its training reads nothing after its cutoff, it is promoted only if it beats Kelly (and the fixed
size) out of sample through the registry's gate, and only a promoted version is ever asked to size."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from models import rl_sizer
from models.inputs import ModelInputs
from models.registry import ModelRegistry
from models.train import train_one
from tests.model_kit import market_frames

CUTOFF = date(2012, 6, 29)
TINY = {"timesteps": 512, "n_steps": 256, "batch": 64, "train_years": 3, "net": [8, 8]}


@pytest.fixture(scope="module")
def inputs(seeded_home) -> ModelInputs:
    return ModelInputs.from_view(market_frames(seeded_home)["view"]).until(date(2013, 12, 31))


@pytest.fixture(scope="module")
def trained(inputs) -> rl_sizer.RLSizer:
    return rl_sizer.train(inputs, CUTOFF, TINY)


def test_rl_sizer_training_reads_nothing_after_its_cutoff(inputs, trained):
    again = rl_sizer.train(inputs.until(CUTOFF), CUTOFF, TINY)
    assert again.version == trained.version
    assert again.state["kelly_share"] == trained.state["kelly_share"]
    rows = rl_sizer.rows(inputs, inputs.sessions[-300], inputs.sessions[-30], trained.params)
    assert again.state["hmm"] == trained.state["hmm"]
    assert np.allclose(again.act(again.rows_obs(rows)[:50]), trained.act(trained.rows_obs(rows)[:50]))


def test_rl_sizer_rows_are_trend_longs_labelled_by_their_forward_return(inputs):
    r = rl_sizer.rows(inputs, inputs.sessions[300], inputs.sessions[-1], rl_sizer.default_recipe())
    assert len(r["ret"]) > 100 and r["obs"].shape[1] == len(rl_sizer.BASE_OBS)
    assert r["dates"].max() <= np.datetime64(inputs.sessions[-1 - rl_sizer.HORIZON], "ns")   # labels are realised
    assert ((r["obs"][:, 0] >= 0.25) & (r["obs"][:, 0] <= 1)).all()                            # t > 2 → strength


def test_rl_sizer_is_promoted_only_if_it_beats_kelly_out_of_sample(inputs, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    out = train_one(registry, inputs, "rl_sizer", CUTOFF, TINY)
    v = out.validation
    assert set(v["baselines"]) == {"kelly", "fixed"}
    beats = v["value"] is not None and all(b is None or v["value"] > b for b in v["baselines"].values())
    margin = v["extra"].get("margin")   # the paired bootstrap over its best baseline, run when it is ahead
    significant = beats and margin is not None and margin["p_value"] < 0.05
    assert (out.status == "promoted") == significant
    if not significant:
        assert "naive baseline" in out.reason
    usable = registry.snapshot().usable("rl_sizer", date(2012, 9, 4), inputs.sessions)
    assert usable.usable == (out.status == "promoted")


def test_an_unknown_observation_value_is_zero_never_a_guess():
    obs = rl_sizer.observation(0.5, 0.6, float("nan"), float("inf"), 0.2, 3.0)
    assert obs.tolist() == pytest.approx([0.5, 0.6, 0.0, 0.0, 0.2, 2.0])


class TamperedIndex:
    """``inputs`` with the index's closes from ``after`` on changed (every other input as it was)."""

    def __init__(self, inner: ModelInputs, after: date) -> None:
        self.inner, self.after = inner, after

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def until(self, day: date) -> TamperedIndex:
        return TamperedIndex(self.inner.until(day), self.after)

    def benchmark_array(self) -> np.ndarray:
        bench = self.inner.benchmark_array().copy()
        late = self.inner.session_array() >= np.datetime64(self.after, "ns")
        bench[late] *= np.exp(np.random.default_rng(0).normal(0, 0.03, late.sum()).cumsum())
        return bench


def test_rl_sizer_observes_volatility_states_of_its_own_hmm_fitted_on_its_training_rows_only(inputs, trained):
    assert rl_sizer.OBS_NAMES[-4:] == ("p_bull", "p_neutral", "p_bear", "p_crisis")
    rows = rl_sizer.rows(inputs, inputs.sessions[-400], inputs.sessions[-30], trained.params)
    states = trained.rows_obs(rows)[:, len(rl_sizer.BASE_OBS):]
    assert states.shape[1] == 4 and np.allclose(states.sum(axis=1), 1.0)
    # the validation fit's HMM never saw the index in the purged tail it is scored on; the final fit's did
    val_from = date.fromisoformat(trained.metrics["val_from"])
    tampered = rl_sizer.train(TamperedIndex(inputs, val_from), CUTOFF, TINY)
    assert tampered.validation_model.state["hmm"] == trained.validation_model.state["hmm"]
    assert tampered.state["hmm"] != trained.state["hmm"]


def test_rl_sizer_size_on_a_night_reads_nothing_after_it(inputs, trained):
    night = date(2013, 3, 1)
    base = rl_sizer.observation(0.6, 0.7, 0.25, 0.04, 0.15, 0.4)
    full = trained.size_at(inputs, night, base)
    assert 0.0 <= full <= 1.0 and full == trained.size_at(inputs.until(night), night, base)
    again = trained.vol_states(TamperedIndex(inputs, date(2013, 3, 4)), night)
    assert np.array_equal(again, trained.vol_states(inputs, night))


def test_rl_sizer_from_an_older_desk_is_no_model_with_the_reason(trained):
    from dataclasses import replace

    from models.errors import NoModel

    old = replace(trained, state={k: v for k, v in trained.state.items() if k != "hmm"})
    with pytest.raises(NoModel, match="older desk.*desk train --models rl_sizer"):
        old.size_at(None, date(2013, 3, 1), np.zeros(len(rl_sizer.BASE_OBS), dtype=np.float32))


def test_rl_sizer_acts_in_numpy_exactly_as_its_ppo_policy(inputs, trained):
    rows = rl_sizer.rows(inputs, inputs.sessions[-400], inputs.sessions[-30], trained.params)
    obs = trained.rows_obs(rows)[:200]
    ppo, _ = trained.policy().predict(obs, deterministic=True)
    assert np.allclose(rl_sizer.actor_action(trained.state["actor"], obs), ppo, atol=1e-5)
    from dataclasses import replace

    without = replace(trained, state={k: v for k, v in trained.state.items() if k != "actor"})
    assert np.allclose(without.act(obs), trained.act(obs), atol=1e-5)   # a sizer saved before: the PPO policy


def test_a_night_sizes_without_importing_torch_or_stable_baselines3(inputs, trained, tmp_path):
    import subprocess
    import sys

    trained.save(tmp_path / "sizer")
    code = ("import sys, numpy as np; from models.rl_sizer import RLSizer, BASE_OBS; "
            f"m = RLSizer.load({str(tmp_path / 'sizer')!r}); "
            "obs = np.zeros((3, len(BASE_OBS) + 4), dtype=np.float32); s = m.act(obs); "
            "assert s.shape == (3,) and ((s >= 0) & (s <= 1)).all(); "
            "print(sorted(n for n in ('torch', 'stable_baselines3') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_rl_sizer_training_leaves_no_folder_in_the_temp_directory(inputs, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    rl_sizer.train(inputs.until(CUTOFF), CUTOFF, {**TINY, "timesteps": 256})
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("SB3-")] == []


def test_a_nights_entries_read_the_volatility_states_once_and_other_inputs_read_their_own(inputs, trained, monkeypatch):
    calls = []
    real = rl_sizer.posteriors_at
    monkeypatch.setattr(rl_sizer, "posteriors_at", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(trained, "_night", None)  # the module's sizer may hold a night an earlier test asked about
    night = date(2013, 3, 1)
    base = np.zeros(len(rl_sizer.BASE_OBS), dtype=np.float32)
    sizes = [trained.size_at(inputs, night, base + k / 10) for k in range(4)]
    assert len(calls) == 1 and all(0.0 <= s <= 1.0 for s in sizes)
    first = trained.vol_states(inputs, night)
    first[:] = -1.0  # a caller's copy: the next entry still reads the night's states
    assert (trained.vol_states(inputs, night) >= 0).all()
    trained.vol_states(inputs.until(night), night)   # another inputs object: its own read
    trained.vol_states(inputs, date(2013, 3, 4))      # another night: its own read
    assert len(calls) == 3
