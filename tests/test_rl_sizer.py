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
    assert np.allclose(again.act(rows["obs"][:50]), trained.act(rows["obs"][:50]))


def test_rl_sizer_rows_are_trend_longs_labelled_by_their_forward_return(inputs):
    r = rl_sizer.rows(inputs, inputs.sessions[300], inputs.sessions[-1], rl_sizer.default_recipe())
    assert len(r["ret"]) > 100 and r["obs"].shape[1] == len(rl_sizer.OBS_NAMES)
    assert r["dates"].max() <= np.datetime64(inputs.sessions[-1 - rl_sizer.HORIZON], "ns")   # labels are realised
    assert ((r["obs"][:, 0] >= 0.25) & (r["obs"][:, 0] <= 1)).all()                            # t > 2 → strength


def test_rl_sizer_is_promoted_only_if_it_beats_kelly_out_of_sample(inputs, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    out = train_one(registry, inputs, "rl_sizer", CUTOFF, TINY)
    v = out.validation
    assert set(v["baselines"]) == {"kelly", "fixed"}
    beats = v["value"] is not None and all(b is None or v["value"] > b for b in v["baselines"].values())
    assert (out.status == "promoted") == beats
    if not beats:
        assert "naive baseline" in out.reason
    usable = registry.snapshot().usable("rl_sizer", date(2012, 9, 4), inputs.sessions)
    assert usable.usable == (out.status == "promoted")


def test_an_unknown_observation_value_is_zero_never_a_guess():
    obs = rl_sizer.observation(0.5, 0.6, float("nan"), float("inf"), 0.2, 3.0)
    assert obs.tolist() == pytest.approx([0.5, 0.6, 0.0, 0.0, 0.2, 2.0])
