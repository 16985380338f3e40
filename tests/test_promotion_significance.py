"""Promotion needs a significant margin (issue 18): a paired block bootstrap over the purged tail's dates, against the
best naive baseline and against the incumbent, stated in the reason; ``models.promotion_test = point`` is the old
rule (any positive margin)."""

from __future__ import annotations

import numpy as np
import pytest

from models.metrics import Evaluation, auc, auc_rows, mean_rank_ic
from models.promotion import Evidence, Promotion, judge
from models.significance import Scored, paired_test


def classifier(signal: float, seed: int = 1, days: int = 250, names: int = 20, noise_seed: int | None = None
               ) -> Evaluation:
    """A model scored by AUC on ``days`` × ``names`` rows beside zero skill and a persistence that knows nothing;
    the labels come from ``seed``, the model's noise from ``noise_seed`` (default: the same generator)."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.datetime64("2016-01-04") + np.arange(days), names)
    truth = rng.integers(0, 2, len(dates))
    trailing = rng.normal(0, 1, len(dates))
    noise = (rng if noise_seed is None else np.random.default_rng(noise_seed)).normal(0, 1, len(dates))
    prob = signal * truth + noise
    scored = {"model": Scored(dates, lambda r, _: auc_rows(truth[r], prob[r])),
              "persistence": Scored(dates, lambda r, _: auc_rows(truth[r], trailing[r])),
              "zero_skill": Scored.constant(dates, 0.5)}
    return Evaluation("auc", auc(truth, prob), {"zero_skill": 0.5, "persistence": auc(truth, trailing)}, len(truth),
                      days, "2016-01-04", "2016-12-30", scored=scored).with_margin()


def test_the_rank_auc_is_sklearns():
    rng = np.random.default_rng(0)
    truth, score = rng.integers(0, 2, 500), np.round(rng.normal(size=500), 1)   # ties on purpose
    assert auc_rows(truth, score) == pytest.approx(auc(truth, score), abs=1e-6)


def test_a_margin_within_the_noise_is_not_promoted_and_the_reason_states_the_test():
    weak = classifier(signal=0.02)
    assert weak.beats_baseline or weak.value <= 0.5
    decision = judge(Evidence("auc", weak), None)
    assert decision.status == "rejected"
    if weak.beats_baseline:
        assert "not significant" in decision.reason and "paired block bootstrap" in decision.reason
        assert "p " in decision.reason and "90% interval" in decision.reason


def test_a_clear_margin_is_promoted_with_its_interval_and_p_value_in_the_reason():
    strong = classifier(signal=0.5)
    decision = judge(Evidence("auc", strong), None)
    assert decision.status == "promoted" and "beats its naive baseline significantly" in decision.reason
    assert strong.extra["margin"]["p_value"] < 0.05 and strong.extra["margin"]["low"] > 0


def test_the_old_rule_promotes_any_positive_margin():
    weak = next(e for e in (classifier(0.02, seed=s) for s in range(1, 30))
                if e.beats_baseline and e.extra["margin"]["p_value"] >= 0.05)
    assert judge(Evidence("auc", weak), None).status == "rejected"
    assert judge(Evidence("auc", weak), None, Promotion(test="point")).status == "promoted"


def test_a_candidate_must_beat_the_incumbent_significantly_on_the_shared_rows():
    strong = classifier(signal=0.5)
    theirs = classifier(signal=0.5, seed=7, noise_seed=100)
    mine = next(m for m in (classifier(signal=0.5, seed=7, noise_seed=k) for k in range(101, 130))
                if m.value > theirs.value)              # the same skill, a luckier draw: ahead on the point
    test = paired_test(mine.scored["model"], theirs.scored["model"], "the incumbent m-1")
    decision = judge(Evidence("auc", strong, "m-1", (mine, theirs), test), {"validation": theirs.to_dict()})
    assert decision.status == "rejected" and "margin over the incumbent m-1 is not significant" in decision.reason
    assert judge(Evidence("auc", strong, "m-1", (mine, theirs), test), {"validation": theirs.to_dict()},
                 Promotion(test="point")).status == "promoted"
    better = classifier(signal=1.0, seed=7, noise_seed=100)
    evidence = Evidence("auc", strong, "m-1", (better, theirs),
                        paired_test(better.scored["model"], theirs.scored["model"], "the incumbent m-1"))
    decision = judge(evidence, {"validation": theirs.to_dict()})
    assert decision.status == "promoted" and "beats the incumbent m-1 significantly" in decision.reason


def test_the_bootstrap_is_reproducible_and_counts_a_date_drawn_twice_twice():
    strong = classifier(signal=0.3)
    a = paired_test(strong.scored["model"], strong.scored["persistence"], "persistence")
    b = paired_test(strong.scored["model"], strong.scored["persistence"], "persistence")
    assert a == b
    dates = np.array(["2016-01-04", "2016-01-04", "2016-01-05", "2016-01-05"], dtype="datetime64[D]")
    x, y = np.array([1.0, 2.0, 1.0, 2.0]), np.array([1.0, 2.0, 2.0, 1.0])
    twice = np.array([0, 1, 0, 1])          # the first date drawn twice, relabelled as two dates
    assert mean_rank_ic(np.array([0, 0, 1, 1]).astype("datetime64[D]"), x[twice], y[twice]) is None   # < 5 names
    scored = Scored(dates, lambda r, days: float(len(np.unique(days))))
    assert scored.score(twice, np.array([0, 0, 1, 1]).astype("datetime64[D]")) == 2.0


def test_the_evaluation_json_carries_the_test_and_not_the_rows():
    d = classifier(signal=0.5).to_dict()
    assert "scored" not in d and d["extra"]["margin"]["method"] == "paired stationary block bootstrap"
    assert Evaluation.from_dict(d).extra["margin"] == d["extra"]["margin"]


def test_the_registry_records_a_rejected_candidate_whose_margin_is_not_significant(tmp_path):
    from datetime import date

    from models.registry import ModelRegistry
    from tests.model_kit import TOY_LOADERS, toy

    weak = next(e for e in (classifier(0.02, seed=s) for s in range(1, 30))
                if e.beats_baseline and e.extra["margin"]["p_value"] >= 0.05)
    registry = ModelRegistry(tmp_path / "models", loaders=TOY_LOADERS)
    model = toy(date(2001, 3, 1))
    registry.register(model)
    decision = registry.decide("toy", model.version, Evidence("auc", weak))
    assert decision.status == "rejected" and "not significant" in decision.reason
    [row] = registry.list("toy")
    assert row["status"] == "rejected" and "paired block bootstrap" in row["reason"]
