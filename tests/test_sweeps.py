"""Sweeps: a file of eval cases run as independent cases — in a local process pool by default, on a local Ray
instance with --ray local — the same function either way; every case lands in the store as a trial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datetime import date

from desk.errors import DeskError
from models.catalog import entry
from evals.sweep import load_sweep
from memory.store import Store
from tests import kit
from tests.kit import run_cli

SWEEP = """
[[case]]
name = "desk"

[[case]]
name = "ml only"
ablate = ["overlay"]

[[case]]
name = "models trained on 5 years"
ablate = ["candidate:mean_reversion"]
[case.settings.models]
train_years = 5
"""
SPAN = ("--from", "2018-03-01", "--to", "2018-03-09")


def _sweep(capsys, tmp_path: Path, *args: str) -> dict:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP)
    code, out, err = run_cli(capsys, "eval", "decisions", "--sweep", str(path), *SPAN, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def _versions(case: dict) -> set[str]:
    store = Store(case["replay"]["store"])
    return {json.loads(p.payload)["model_version"] for p in store.proposals() if p.agent == "mean_reversion"}


def test_a_sweep_file_names_its_cases_and_takes_the_range_from_the_command_line(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP)
    cases = load_sweep(path, "2018-03-01", "2018-03-09")
    assert [c.label for c in cases] == ["desk", "ml only", "models trained on 5 years"]
    assert cases[2].settings == {"models": {"train_years": 5}} and len({c.key for c in cases}) == 3
    assert cases[2].ablation.candidates == ("mean_reversion",)
    path.write_text("[[case]]\nablate = ['overlay', 'model:nope']\n")
    with pytest.raises(DeskError, match="unknown model 'nope'"):
        load_sweep(path, "2018-03-01", "2018-03-09")


@pytest.mark.slow
def test_a_sweep_runs_in_a_process_pool_and_every_case_lands_in_the_store(home, capsys, tmp_path):
    result = _sweep(capsys, tmp_path, "--workers", "2")
    cases = {c["label"]: c for c in result["cases"]}
    assert list(cases) == ["desk", "ml only", "models trained on 5 years"]
    assert len({c["replay"]["store"] for c in cases.values()}) == 3  # each case replays in a store of its own
    assert {o["decision"]: o["entries"] for o in cases["ml only"]["overlay"]}["adjust"] == 0
    five = _versions(cases["models trained on 5 years"])  # the candidate recipe decides, promoted or not
    recipe = entry("mean_reversion").recipe({"train_years": 5, "horizon": 5})
    digest = entry("mean_reversion").version(date(2018, 1, 1), recipe).rsplit("-", 1)[1]
    assert five and {v.rsplit("-", 1)[1] for v in five} == {digest}
    trials = kit.open_store(home).trials("decision_eval")
    assert [t.metrics["label"] for t in trials] == list(cases)
    assert trials[2].config["settings"]["models"]["train_years"] == 5


@pytest.mark.slow
def test_on_local_ray_the_same_cases_give_the_same_results_as_here(home, capsys, tmp_path):
    on_ray = {c["label"]: c for c in _sweep(capsys, tmp_path, "--ray", "local", "--workers", "2")["cases"]}
    here = {c["label"]: c for c in _sweep(capsys, tmp_path, "--workers", "1")["cases"]}
    for label, case in here.items():
        assert on_ray[label]["series"] == case["series"] and on_ray[label]["agents"] == case["agents"], label


def _ticking(config: dict, case: dict, tick=None) -> dict:
    """A stub case: ten nights, each ticked; its result names it."""
    for i in range(1, 11):
        if tick:
            tick(i, 10)
    return {"case": case["name"]}


def test_a_long_sweep_says_how_many_nights_and_cases_are_done_and_what_is_left(monkeypatch):
    import evals.sweep as sweep
    from evals.case import EvalCase

    monkeypatch.setattr(sweep, "REPORT_EVERY", 0.0)
    cases = [EvalCase(name=n, start=date(2018, 1, 2), end=date(2018, 1, 31)) for n in ("a", "b")]
    said: list[str] = []
    out = sweep.run_cases({}, cases, pool=False, runner=_ticking, progress=said.append)
    assert out == [{"case": "a"}, {"case": "b"}]
    assert any("0/2 case(s) done, 5/20 nights replayed (25%)" in m and "left" in m for m in said)
    assert any(m.startswith("case a done: 1/2 case(s) done, 10/20 nights") for m in said)
    assert said[-1].startswith("case b done: 2/2 case(s) done, 20/20 nights replayed (100%)")


def test_a_pool_sweep_relays_its_workers_progress(monkeypatch):
    from evals.case import EvalCase
    from evals.sweep import run_cases

    cases = [EvalCase(name=n, start=date(2018, 1, 2), end=date(2018, 1, 31)) for n in ("a", "b")]
    said: list[str] = []
    out = run_cases({}, cases, workers=2, runner=_ticking, progress=said.append)
    assert out == [{"case": "a"}, {"case": "b"}]
    assert {m.split(":")[0] for m in said if m.startswith("case ")} == {"case a done", "case b done"}
    assert "2/2 case(s) done, 20/20 nights replayed (100%)" in said[-1]
