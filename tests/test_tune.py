"""`desk tune`: folds never reach the hold-out, a parameter set is adopted only if it beats the incumbent on the
validation years, every trial is recorded, the same trial function runs locally and on Ray."""

from __future__ import annotations

import json
from datetime import date

import pytest

from desk.config import load_settings
from desk.errors import DeskError
from evals import tune as engine
from graph.config import DeskConfig
from tests import kit
from tests.kit import run_cli

SMALL = ["--folds", "2014-03-03:2014-03-07", "--validation", "2015-03-02:2015-03-06"]


def test_a_fold_or_a_validation_span_in_the_hold_out_is_refused_before_anything_runs(home, capsys):
    before = kit.open_store(home).trial_count()
    code, _, err = run_cli(capsys, "tune", "--trials", "1", "--folds", "2018-06-01:2019-02-01")
    assert code == 2 and "hold-out" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "tune", "--trials", "1", "--validation", "2019")
    assert code == 2 and "hold-out" in err
    assert kit.open_store(home).trial_count() == before


def test_a_tuned_set_that_does_not_beat_the_incumbent_is_refused():
    tie, why = engine.adopt(0.80, 0.80)
    assert not tie and "refused" in why                     # a tie keeps the incumbent
    assert not engine.adopt(0.79, 0.80)[0] and "refused" in engine.adopt(0.79, 0.80)[1]
    assert engine.adopt(0.81, 0.80)[0]


def test_a_trials_parameters_are_laid_over_the_configuration_and_kelly_stays_at_most_full():
    base = DeskConfig(home="/tmp/x")
    out = engine.apply(base, {"base_threshold": 120.0, "kelly_scale": 1.5, "max_positions": 5})
    assert out.picks.base_threshold == 120.0 and out.risk.max_positions == 5
    assert all(v <= 1.0 for v in out.sizing.kelly_fractions.values())
    assert out.sizing.kelly_fractions["neutral"] == pytest.approx(0.75)
    assert engine.incumbent(base)["kelly_scale"] == 1.0 and engine.incumbent(base)["base_threshold"] == 150.0


def test_an_adopted_set_is_read_below_desk_toml_and_above_the_defaults(home, monkeypatch):
    (home / "tuned.toml").write_text("[picks]\nbase_threshold = 123.0\n")
    assert load_settings(home=home).picks.base_threshold == 123.0
    monkeypatch.setenv("DESK_PICKS__BASE_THRESHOLD", "140")
    assert load_settings(home=home).picks.base_threshold == 140.0


def _small_tune(capsys, *extra):
    code, out, err = run_cli(capsys, "tune", "--trials", "3", *SMALL, "--json", *extra)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.slow
def test_a_small_tune_runs_three_trials_in_a_local_pool_and_records_every_one(home, capsys):
    result = _small_tune(capsys, "--workers", "2")
    assert len(result["trials"]) == 3 and "process pool" in result["executor"]
    store = kit.open_store(home)
    rows = store.trials("tune")
    assert len(rows) == 3 and {json.dumps(r.config, sort_keys=True) for r in rows} == \
        {json.dumps(t["params"], sort_keys=True) for t in result["trials"]}
    assert all(r.end < date(2019, 1, 1) for r in store.trials())
    assert len(store.trials("tune-validation")) == 2
    assert result["adopted"] == (result["best_validation_sharpe"] > result["incumbent_validation_sharpe"])
    assert (home / "tuned.toml").exists() == result["adopted"]


@pytest.mark.slow
def test_a_small_tune_runs_the_same_trials_on_local_ray(home, capsys):
    pytest.importorskip("ray")
    result = _small_tune(capsys, "--workers", "2", "--ray", "local")
    assert len(result["trials"]) == 3 and result["executor"].startswith("ray local")
    assert "Ray Tune" in result["executor"]
    assert kit.open_store(home).trial_count("tune") == 3
    runs = list((home / "ray_tune").glob("tune-*"))      # the search ran as a Ray Tune experiment under the home
    assert len(runs) == 1 and any(runs[0].iterdir())
    assert len({json.dumps(t["params"], sort_keys=True) for t in result["trials"]}) == 3


def test_the_ray_address_must_be_local_or_host_port():
    from desk.tuning import parse_ray

    assert parse_ray("local") == "local" and parse_ray("10.0.0.5:6379") == "10.0.0.5:6379"
    with pytest.raises(DeskError, match="HOST:PORT"):
        parse_ray("not an address")
