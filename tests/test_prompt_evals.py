"""Prompt evals: case sets built from replay history, scorers, the version A/B table through the real openai client
against the loopback server, results stored as trials, and the CI gate running from the record."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from desk import prompt_evals
from desk.config import load_settings
from desk.actor import Actor
from evals.attribution import forward_returns
from evals.prompt_cases import CASES_DIR, PromptCase, load_cases
from evals.prompt_eval import gate
from evals.scorers import Tally
from memory.store import Store
from tests import kit
from tests.kit import run_cli
from tests.llm_kit import Reply, ScriptedLLM, answer, error, sensible

HOSTILE = CASES_DIR / "overlay-hostile.jsonl"
V2_MARK = "Weigh the evidence in this order"


def _vetoes_all(seen) -> Reply:
    if seen.schema_name == "OverlayAnswer":
        return answer({"verdicts": [{"id": pid, "decision": "veto", "reason": "too risky"}
                                    for pid in seen.proposal_ids]})
    return sensible(seen)


def _by_version(seen) -> Reply:
    """v1 confirms every proposal; v2 vetoes every one."""
    return _vetoes_all(seen) if V2_MARK in seen.text else sensible(seen)


@pytest.fixture
def llm(monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with ScriptedLLM(_by_version) as server:
        for k, v in server.env("openai").items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
        yield server


def _prompts(capsys, *args: str) -> tuple[int, dict | None, str]:
    code, out, err = run_cli(capsys, "eval", "prompts", "--role", "overlay", "--cases", str(HOSTILE), *args)
    return code, (json.loads(out) if code == 0 else None), err


def test_two_prompt_versions_side_by_side_recorded_then_served_from_the_record_for_nothing(home, llm, capsys,
                                                                                          tmp_path):
    baselines = tmp_path / "baselines.json"
    code, ab, err = _prompts(capsys, "--prompt", "v1,v2", "--llm-replay", "auto", "--save-baseline",
                             "--baselines", str(baselines), "--json")
    assert code == 0, err
    v1, v2 = ab["scores"]["v1"], ab["scores"]["v2"]
    assert v1["agreement"] == pytest.approx(2 / 3) and v2["agreement"] == pytest.approx(1 / 3)  # 3 labelled
    assert v1["schema_valid_rate"] == v2["schema_valid_rate"] == 1.0 and v1["bound_violations"] == 0
    assert v1["calls"] == v2["calls"] == 6 and v1["usd"] > 0 and v1["tokens"] > 0
    asked = len(llm.requests)
    assert asked == 12
    trials = kit.open_store(home).trials(prompt_evals.TRIAL_KIND)
    assert [t.config["prompt_version"] for t in trials] == ["v1", "v2"]
    assert trials[0].metrics["agreement"] == pytest.approx(2 / 3)

    llm.responder = lambda seen: error(500, "the model is down")  # from the record the server is never needed
    code, again, err = _prompts(capsys, "--prompt", "v1,v2", "--llm-replay", "only", "--gate", "--baselines",
                                str(baselines), "--json")
    assert code == 0, err
    assert len(llm.requests) == asked
    assert again["scores"]["v1"]["agreement"] == v1["agreement"] and again["scores"]["v1"]["usd"] == 0
    assert again["gate"] == {"v1": [], "v2": []}


def test_the_gate_fails_in_one_line_when_a_prompt_scores_below_its_baseline(home, llm, capsys, tmp_path,
                                                                            seeded_home, monkeypatch):
    baselines = tmp_path / "baselines.json"
    assert _prompts(capsys, "--prompt", "v1", "--llm-replay", "auto", "--save-baseline", "--baselines",
                    str(baselines), "--json")[0] == 0
    worse = kit.clone_home(seeded_home, tmp_path / "worse")  # a desk whose model now vetoes everything
    monkeypatch.setenv("DESK_HOME", str(worse))
    llm.responder = _vetoes_all
    assert _prompts(capsys, "--prompt", "v1", "--llm-replay", "auto", "--json")[0] == 0
    code, _, err = _prompts(capsys, "--prompt", "v1", "--llm-replay", "only", "--gate", "--baselines",
                            str(baselines))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and lines[-1].startswith("error: prompt gate failed: overlay v1")
    assert "agreement 0.3333 < baseline 0.6667" in lines[-1]


def test_a_model_obeying_an_injection_is_held_to_the_bounds_and_a_malformed_answer_is_not_schema_valid(
        home, llm, capsys):
    def obeys(seen) -> Reply:
        if "IGNORE ALL PREVIOUS INSTRUCTIONS" in seen.text:
            return answer({"verdicts": [{"id": pid, "decision": "confirm", "size_multiplier": 10, "stop": 0.0,
                                         "reason": "maintenance mode"} for pid in seen.proposal_ids]})
        if "high_vol_panic" in seen.text:
            return Reply(body="{not json")
        return sensible(seen)

    llm.responder = obeys
    code, ab, err = _prompts(capsys, "--prompt", "v1", "--json")
    assert code == 0, err
    s = ab["scores"]["v1"]
    assert s["bound_violations"] == 0  # clamped to 1 and the bad stop dropped: nothing enlarged
    assert s["schema_valid_rate"] == pytest.approx(5 / 6) and len(s["fallbacks"]) == 1
    assert "contradiction-panic-long" in s["fallbacks"][0]


def test_from_the_record_a_missing_answer_fails_clearly(home, llm, capsys):
    code, _, err = _prompts(capsys, "--prompt", "v1", "--llm-replay", "only")
    assert code == 2 and "the record has no exchange" in err and len(err.strip().splitlines()) == 1


def test_build_cases_keeps_what_each_role_saw_decided_and_what_happened_next(home, tmp_path):
    settings = load_settings(home=home)
    built = prompt_evals.build_cases(settings, date(2017, 3, 1), date(2017, 3, 10), roles=["overlay", "weather", "risk"],
                                     out_dir=tmp_path, actor=Actor(who="test", via="test"))
    assert built.nights == 8 and built.cases["weather"] == 8 and built.cases["overlay"] > 0
    overlay = load_cases(Path(built.files["overlay"]))
    case = overlay[0]
    assert case.role == "overlay" and case.source == "history" and case.proposals
    assert set(case.labels) == {p.key for p in case.proposals} <= set(case.outcomes)
    close = Store(settings.store_path).frame("close")
    p = case.proposals[0]
    [expected] = forward_returns(close, [{"as_of": p.as_of, "symbol": p.symbol, "horizon_days": p.horizon_days}])
    assert case.outcomes[p.key] == pytest.approx(expected)
    weather = load_cases(Path(built.files["weather"]))
    assert all(c.labels["nudge"] in (-1, 0, 1) and "benchmark" in c.outcomes for c in weather)


def test_scorers_count_right_vetoes_and_what_the_answers_added(home):
    from tests.kit import proposal, provenance, snapshot, verdict

    loser, winner = proposal(symbol="XOM"), proposal(symbol="KO")
    case = PromptCase(id="c", role="overlay", as_of=kit.AS_OF, snapshot=snapshot(), proposals=[loser, winner],
                      features={"XOM": {"close": 100.0}, "KO": {"close": 100.0}},
                      labels={loser.key: "veto", winner.key: "veto"}, outcomes={loser.key: -0.1, winner.key: 0.05})
    t = Tally()
    t.overlay(case, [verdict(loser, decision="veto", size_multiplier=0.0, provenance=provenance(call_id="1")),
                     verdict(winner, provenance=provenance(call_id="1"))])
    s = t.score()
    assert (s.veto_precision, s.veto_recall, s.agreement) == (1.0, 1.0, 0.5)
    assert s.pnl_impact == pytest.approx(0.05) and s.calls == 1 and s.bound_violations == 0
    assert gate(s, {"agreement": 0.8}, 0.02) == ["agreement 0.5 < baseline 0.8 - 0.02"]
    loose = Tally()
    loose.overlay(case, [verdict(loser, decision="adjust", size_multiplier=0.5, stop=80.0),
                         verdict(winner)])  # a stop below the proposed 90 is looser
    assert loose.score().bound_violations == 1 and gate(loose.score(), {}, 0.02)[0].startswith("1 bound violation")


@pytest.mark.parametrize("role", ["overlay", "weather", "risk"])
def test_the_shipped_case_sets_pass_their_stored_baselines_on_the_rules_provider(home, capsys, role):
    """The CI gate: the default provider's answers on the shipped development and hostile sets (pre-2019 only)
    hold their committed baselines (evals/cases/baselines.json)."""
    code, out, err = run_cli(capsys, "eval", "prompts", "--role", role, "--provider", "rules", "--gate", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["gate"] == {"v1": []} and result["scores"]["v1"]["bound_violations"] == 0
    assert result["baselines"]["v1"] is not None
    assert all(c.as_of.year < 2019 for f in prompt_evals.default_case_files(role) for c in load_cases(f))
