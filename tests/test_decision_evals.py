"""Decision evals: the real graphs over history with parts taken out, side by side; what the agents and the overlay
did; the Sharpe's interval and its deflation by the trials in the store; one case as a pure function."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from desk import evals
from desk.config import load_settings
from desk.errors import DeskError
from desk.actor import Actor
from evals.ablation import Ablation
from evals.case import EvalCase, run_case
from memory.store import Store
from tests import kit

START, END = date(2018, 1, 2), date(2018, 2, 28)
SPECS = ((), ("overlay",), ("weather",), ("model:mean_reversion",), ("only:ema",))


@pytest.fixture(scope="module")
def evaluated(seeded_home, tmp_path_factory):
    """One eval of the desk beside four ablations over two months of 2018, run here (no pool)."""
    home = kit.clone_home(seeded_home, tmp_path_factory.mktemp("eval") / "home")
    settings = load_settings(home=home)
    # any positive margin promotes here (the rule before issue 18), so the mean-reversion model decides in these two
    # months and its ablation has something to take out (its margin is not significant by the bootstrap's rule)
    settings = settings.model_copy(update={"models": settings.models.model_copy(update={"promotion_test": "point"})})
    cases = [EvalCase(start=START, end=END, ablate=s) for s in SPECS]
    result = evals.decisions(settings, cases, pool=False, actor=Actor(who="test", via="fixture"))
    return home, settings, {c.label: c for c in result.cases}, result


def _replay_store(case) -> Store:
    return Store(case.replay.store)


def test_the_overlay_ablation_confirms_every_entry_while_the_desk_reviews_each_by_its_rules(evaluated):
    """The rules overlay is regime-neutral by default (rules.*: it vetoes nothing the sizing already weighs), so
    the desk's verdicts name the rules they passed; the ablation's say it is ablated."""
    _, _, cases, _ = evaluated
    ml_only = {o.decision: o.entries for o in cases["overlay"].overlay}
    assert ml_only["veto"] == ml_only["adjust"] == 0 and ml_only["confirm"] > 0
    reasons = {v.reason for v in _replay_store(cases["overlay"]).verdicts()}
    assert all(r.startswith("overlay ablated") for r in reasons)
    mine = {v.reason for v in _replay_store(cases["desk"]).verdicts()}
    assert mine and not any(r.startswith("overlay ablated") for r in mine)
    assert any("regime" in r and "rsi_14" in r for r in mine)   # each entry reviewed by its named rules


def test_without_weather_the_regime_is_pinned_and_nothing_is_nudged(evaluated):
    _, _, cases, _ = evaluated
    assert {r for r in cases["weather"].series.regime if r} == {"calm_uptrend"}
    assert len({r for r in cases["desk"].series.regime if r}) > 1  # the real weather moved over these months


def test_an_ablated_model_never_decides_and_its_agent_stays_out(evaluated):
    _, _, cases, _ = evaluated
    assert "mean_reversion" in cases["desk"].agents
    assert "mean_reversion" not in cases["model:mean_reversion"].agents
    agents = {p.agent for p in _replay_store(cases["model:mean_reversion"]).proposals()}
    assert agents == {"trend", "ema"}


def test_one_agent_alone_is_the_only_one_proposing(evaluated):
    _, _, cases, _ = evaluated
    assert {p.agent for p in _replay_store(cases["only:ema"]).proposals()} == {"ema"}


def test_agent_contributions_add_up_to_the_books_profit(evaluated):
    _, settings, cases, _ = evaluated
    for case in cases.values():
        pnl = case.series.desk[-1] - settings.broker.initial_cash
        assert sum(a.contribution for a in case.agents.values()) == pytest.approx(pnl, abs=1.0), case.label


def test_exposure_level_timing_and_selection_add_up_to_the_desks_cagr(evaluated):
    _, _, cases, _ = evaluated
    for case in cases.values():
        d = case.decomposition
        assert d.exposure_level + d.timing + d.selection == pytest.approx(case.replay.desk.cagr, abs=1e-12)
        assert 0 < d.average_invested <= 1


def test_costs_are_commissions_plus_slippage_on_what_was_traded(evaluated):
    _, settings, cases, _ = evaluated
    c = cases["desk"].costs
    assert c.commissions > 0 and c.slippage == pytest.approx(c.traded_notional * settings.broker.slippage_bps / 1e4,
                                                             abs=0.02)
    assert c.total == pytest.approx(c.commissions + c.slippage, abs=0.02) and c.cost_drag > 0


def test_every_case_is_a_trial_in_the_store_and_its_sharpe_is_deflated_by_all_of_them(evaluated):
    home, settings, cases, result = evaluated
    store = Store(settings.store_path)
    assert result.trials == store.trial_count(evals.TRIAL_KIND) == len(SPECS)
    for case in cases.values():
        s = case.sharpe["all"]
        assert s.trials == len(SPECS) and s.ci_low <= s.sharpe <= s.ci_high and 0 <= s.deflated_sharpe <= 1
        assert s.expected_max_sharpe > 0  # five tries: luck alone would show a positive best Sharpe
    assert not result.touches_holdout
    saved = json.loads(Path(result.path).read_text())
    assert saved["eval_id"] == result.eval_id and len(saved["cases"]) == len(SPECS)


def test_the_benchmarks_state_their_basis_and_the_risk_free_rate(evaluated):
    _, _, cases, _ = evaluated
    case = cases["desk"]
    assert "price index" in case.bases["sp500_buy_hold"] and "dividend" in case.bases["equal_weight"]
    assert "risk-free rate of 0" in case.risk_free


def test_an_eval_case_is_a_pure_function_of_configuration_and_range(home):
    config = load_settings(home=home).model_dump(mode="json")
    case = {"from": "2018-03-01", "to": "2018-03-09", "ablate": ["overlay"]}
    first, second = run_case(config, case), run_case(config, case)
    for r in (first, second):
        r["replay"] = {k: v for k, v in r["replay"].items() if k not in ("seconds", "setup_seconds", "days_per_second")}
    assert first == second
    assert first["replay"]["nights"] == 7


def test_ablation_specs_parse_and_a_bad_one_says_what_to_use():
    a = Ablation.parse(["overlay", "agent:trend", "model:direction"])
    assert a.label == "overlay+agent:trend+model:direction" and a.agents_kept == ("ema", "mean_reversion")
    with pytest.raises(DeskError, match="did you mean 'overlay'"):
        Ablation.parse(["overlya"])
    with pytest.raises(DeskError, match="did you mean agent:trend"):
        Ablation.parse(["agent:trnd"])
    with pytest.raises(DeskError, match="leaves no agent"):
        Ablation.parse(["agent:trend", "agent:ema", "agent:mean_reversion"])


def test_an_eval_across_2019_reports_validation_and_hold_out_apart(home):
    settings = load_settings(home=home)
    result = evals.decisions(settings, [EvalCase(start=date(2018, 11, 1), end=date(2019, 2, 28))],
                             actor=Actor(who="test", via="test"))
    [case] = result.cases
    assert result.touches_holdout and set(case.replay.periods) == {"validation", "holdout"}
    assert set(case.sharpe) == {"all", "validation", "holdout"} == set(case.sharpe_ci)
    v, h = case.replay.periods["validation"], case.replay.periods["holdout"]
    assert v.end == h.start == date(2018, 12, 31) and v.days + h.days == case.replay.desk.days


def test_a_decision_eval_with_an_llm_records_its_answers_then_runs_from_the_record_for_nothing(home, capsys,
                                                                                               monkeypatch):
    from tests.kit import run_cli
    from tests.llm_kit import ScriptedLLM, error

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    span = ("eval", "decisions", "--from", "2017-03-01", "--to", "2017-03-07", "--json")
    with ScriptedLLM() as llm:
        for k, v in llm.env("openai").items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
        code, out, err = run_cli(capsys, *span, "--llm-replay", "auto")
        assert code == 0, err
        recorded = json.loads(out)["cases"][0]
        asked = len(llm.requests)
        assert asked > 0 and sum(recorded["series"]["llm_usd"]) > 0
        llm.responder = lambda seen: error(500, "the model is down")
        code, out, err = run_cli(capsys, *span, "--llm-replay", "only")
        assert code == 0, err
        served = json.loads(out)["cases"][0]
    assert len(llm.requests) == asked and sum(served["series"]["llm_usd"]) == 0
    assert served["series"]["desk"] == recorded["series"]["desk"] and served["agents"] == recorded["agents"]
