"""Overlay providers: the rules provider's named rules, the fallback wrapper's bounds, the factory, the prompts."""

from __future__ import annotations

import threading
from datetime import date
from string import Template
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import prompts
from graph.providers import (
    PROMPT_FIELDS,
    BookEntry,
    BookSummary,
    OverlayProvider,
    RulesPolicy,
    RulesProvider,
    factory,
    make_provider,
    render_prompt,
    with_fallback,
)
from prompts.catalog import PROMPTS
from tests import kit
from vocab.contracts import (WEATHER_LAYERS, BookReview, LayerReading, Proposal, Provenance, Verdict, WeatherSnapshot,
                             WeatherView)
from vocab.terms import REGIME_ORDER, Action, AgentStyle

AS_OF = date(2015, 3, 2)

# ---------------------------------------------------------------- the kit, bound to this module's case:
# a direction model's long entry in XOM at close 100, reviewed on AS_OF


def layer(score: float | None = 0.0, *, state: str = "neutral", available: bool = True,
          source: str = "bundled") -> LayerReading:
    return kit.layer(score if available else None, state=state, source=source)


def snapshot(regime: str = "calm_uptrend", **kw: Any) -> WeatherSnapshot:
    return kit.snapshot(regime, as_of=AS_OF, **kw)


def proposal(action: Action = Action.BUY_LONG, **kw: Any) -> Proposal:
    fields = dict(as_of=AS_OF, action=action, agent="direction_cfc", style=AgentStyle.DIRECTION, strength=0.6,
                  confidence=0.7, model_version="v3", rationale="model says up")
    return kit.proposal(**{**fields, **kw})


def features(**overrides: float) -> dict[str, float]:
    return {"close": 100.0, "rsi_14": 55.0, "vol_21d": 0.20, **overrides}


def entry(symbol: str, *, score: float = 200.0, sector: str | None = None, weight: float = 0.05) -> BookEntry:
    return BookEntry(symbol=symbol, weight=weight, score=score, agents=("direction_cfc",), vol_21d=0.2,
                     ret_21d=0.01, sector=sector)


def book(regime: str = "calm_uptrend") -> BookSummary:
    return BookSummary(equity=100_000.0, cash=40_000.0, held={"MSFT": 0.1}, regime=regime)


def provenance(provider: str = "llm") -> Provenance:
    return kit.provenance(provider=provider, model="llm-1", latency_ms=5.0, tokens=120)


class Scripted:
    """A primary provider that answers (or raises) whatever the test scripts; built at answer time."""

    name = "llm"

    def __init__(self, weather: Any = None, review: Any = None, book: Any = None) -> None:
        self.scripts = {"weather": weather, "review": review, "book": book}

    def _answer(self, kind: str, *args: Any) -> Any:
        script = self.scripts[kind]
        if isinstance(script, BaseException):
            raise script
        return script(*args) if callable(script) else script

    def weather(self, snapshot: WeatherSnapshot) -> Any:
        return self._answer("weather", snapshot)

    def review(self, proposal: Proposal, snapshot: WeatherSnapshot, features: Any) -> Any:
        return self._answer("review", proposal, snapshot, features)

    def review_book(self, entries: Any, snapshot: WeatherSnapshot, book: BookSummary) -> Any:
        return self._answer("book", entries, snapshot, book)


def verdict_from_llm(**fields: Any):
    """A scripted review answer: a valid Verdict built by the primary with ``fields``."""
    def answer(proposal: Proposal, *_: Any) -> Verdict:
        return Verdict(**{"proposal_key": proposal.key, "decision": "confirm", "reason": "llm view",
                          "provenance": provenance(), **fields})
    return answer


rules = RulesProvider()
old = RulesProvider(RulesPolicy.before_issue_18())   # the rules that voiced the regime, fragility and volatility

# ---------------------------------------------------------------- weather


def test_weather_narrative_lists_regime_available_layer_states_experts_and_notes():
    snap = snapshot(layers={"macro": layer(0.4, state="expansion")},
                    experts={"fragility": 0.35, "credit_stress": False, "vix_term": None},
                    notes=("ensemble disagrees: sizes cut",))
    text = rules.weather(snap).narrative
    assert "calm_uptrend" in text
    assert "macro: expansion (+0.40)" in text
    assert "fragility 0.35" in text and "credit_stress no" in text and "vix_term unavailable" in text
    assert "ensemble disagrees: sizes cut" in text


def test_weather_narrative_names_unavailable_layers_as_unavailable_with_their_source():
    snap = snapshot(layers={"sentiment": layer(available=False, source="aaii survey"),
                            "liquidity": layer(available=False, source="fred")})
    text = rules.weather(snap).narrative
    assert "sentiment unavailable (source: aaii survey)" in text
    assert "liquidity unavailable (source: fred)" in text
    assert "sentiment:" not in text and "liquidity:" not in text


def test_weather_nudges_one_level_more_defensive_when_three_layers_hostile_in_calm_uptrend():
    view = rules.weather(snapshot("calm_uptrend", scores={"macro": -0.3, "volatility": -0.5, "correlation": -0.8}))
    assert view.regime_nudge == 1
    assert "macro -0.30" in view.reason and "volatility -0.50" in view.reason and "correlation -0.80" in view.reason


def test_weather_does_not_nudge_with_only_two_hostile_layers():
    view = rules.weather(snapshot("risk_on_trend", scores={"macro": -0.9, "volatility": -0.9, "rotation": -0.29}))
    assert view.regime_nudge == 0
    assert view.reason.startswith("no nudge")


def test_weather_does_not_count_unavailable_layers_toward_a_nudge():
    snap = snapshot("calm_uptrend", scores={"macro": -0.6, "volatility": -0.6},
                    layers={"sentiment": LayerReading(state="fear", score=-0.9, available=False, source="aaii")})
    assert rules.weather(snap).regime_nudge == 0


def test_weather_nudges_one_level_less_defensive_when_four_layers_supportive_in_risk_off():
    view = rules.weather(snapshot("risk_off_trend", scores=dict.fromkeys(("macro", "volatility", "rotation",
                                                                          "liquidity"), 0.5)))
    assert view.regime_nudge == -1
    assert "4 available layers" in view.reason


def test_weather_does_not_nudge_less_defensive_with_three_supportive_layers_in_choppy():
    assert rules.weather(snapshot("choppy", scores=dict.fromkeys(("macro", "volatility", "rotation"), 0.9))
                         ).regime_nudge == 0


@pytest.mark.parametrize("regime", REGIME_ORDER)
@pytest.mark.parametrize("score", [-1.0, 1.0])
def test_weather_nudge_is_at_most_one_level_even_when_every_layer_is_extreme(regime, score):
    view = rules.weather(snapshot(regime, scores=dict.fromkeys(WEATHER_LAYERS, score)))
    expected = {(-1.0, "calm_uptrend"): 1, (-1.0, "risk_on_trend"): 1,
                (1.0, "risk_off_trend"): -1, (1.0, "choppy"): -1}.get((score, regime), 0)
    assert view.regime_nudge == expected


@settings(max_examples=150, deadline=None)
@given(regime=st.sampled_from(REGIME_ORDER),
       readings=st.dictionaries(st.sampled_from(WEATHER_LAYERS),
                                st.tuples(st.floats(-1, 1), st.booleans()), min_size=0, max_size=7))
def test_weather_nudge_only_moves_toward_the_layers_and_only_from_the_matching_regimes(regime, readings):
    snap = snapshot(regime, layers={n: LayerReading(state="s", score=s, available=a, source="x")
                                    for n, (s, a) in readings.items()})
    nudge = rules.weather(snap).regime_nudge
    assert nudge in (-1, 0, 1)
    if nudge == 1:
        assert regime in ("calm_uptrend", "risk_on_trend")
    if nudge == -1:
        assert regime in ("risk_off_trend", "choppy")


# ---------------------------------------------------------------- review: one proposal


def test_review_by_default_leaves_the_regime_to_the_sizing_and_says_so():
    for regime in ("high_vol_panic", "risk_off_trend", "choppy"):
        verdict = rules.review(proposal(style=AgentStyle.TREND), snapshot(regime), features())
        assert verdict.decision == "confirm" and verdict.size_multiplier == 1
        assert f"regime {regime}: left to the sizing's regime factor" in verdict.reason


def test_review_by_default_leaves_a_high_volatility_to_the_sizing_but_still_tightens_the_stop():
    verdict = rules.review(proposal(stop=85.0), snapshot(), features(vol_21d=0.60))
    assert verdict.decision == "adjust" and verdict.size_multiplier == 1 and verdict.stop is not None
    assert "stop tightened" in verdict.reason and "x0.7" not in verdict.reason
    calm = rules.review(proposal(stop=97.0), snapshot(), features(vol_21d=0.60))
    assert calm.decision == "confirm" and "left to the sizing's volatility step" in calm.reason


def test_review_book_by_default_neither_vetoes_for_the_regime_nor_shrinks_for_fragility():
    entries = [entry("A", score=300), entry("B", score=120), entry("C", score=250), entry("D", score=90)]
    review = rules.review_book(entries, snapshot("risk_off_trend", experts={"fragility": 0.9}),
                               book("risk_off_trend"))
    assert review.veto == {} and review.shrink == {}
    assert "left to the sizing's regime factor" in review.summary


def test_review_vetoes_long_entry_in_high_vol_panic():
    verdict = old.review(proposal(), snapshot("high_vol_panic"), features())
    assert verdict.decision == "veto" and verdict.size_multiplier == 0
    assert "high_vol_panic" in verdict.reason
    assert verdict.proposal_key == proposal().key


def test_review_does_not_veto_a_short_entry_in_high_vol_panic():
    verdict = rules.review(proposal(Action.SELL_SHORT, stop=110.0), snapshot("high_vol_panic"), features())
    assert verdict.decision == "confirm"


def test_review_by_default_notes_an_overextended_long_and_does_not_veto_it():
    verdict = rules.review(proposal(), snapshot(), features(rsi_14=88.0))
    assert verdict.decision == "confirm" and "rsi_14 88.0 > 85: over-extended, not vetoed" in verdict.reason


def test_review_vetoes_overextended_long_when_rsi_above_85():
    verdict = old.review(proposal(), snapshot(), features(rsi_14=88.0))
    assert verdict.decision == "veto"
    assert "rsi_14 88.0 > 85" in verdict.reason and "over-extended" in verdict.reason


def test_review_lets_a_mean_reversion_agent_buy_with_rsi_above_85():
    verdict = rules.review(proposal(style=AgentStyle.MEAN_REVERSION), snapshot(), features(rsi_14=92.0))
    assert verdict.decision == "confirm"
    assert "mean-reversion" in verdict.reason


def test_review_does_not_veto_at_rsi_exactly_85():
    assert rules.review(proposal(), snapshot(), features(rsi_14=85.0)).decision == "confirm"


@pytest.mark.parametrize("regime", ["risk_off_trend", "choppy"])
@pytest.mark.parametrize("agent", ["trend_following", "ema_cross"])
def test_review_halves_a_trend_or_ema_long_in_risk_off_or_choppy(regime, agent):
    verdict = old.review(proposal(agent=agent, style=AgentStyle.TREND), snapshot(regime), features())
    assert verdict.decision == "adjust" and verdict.size_multiplier == 0.5
    assert verdict.stop is None
    assert f"regime {regime} halves a trend long" in verdict.reason


def test_review_does_not_halve_a_non_trend_long_in_choppy():
    assert rules.review(proposal(), snapshot("choppy"), features()).decision == "confirm"


@pytest.mark.parametrize(("agent", "style", "halved"), [("trend_from_its_name", AgentStyle.MEAN_REVERSION, False),
                                                        ("anything", AgentStyle.TREND, True)])
def test_review_reads_the_agents_style_field_never_its_name(agent, style, halved):
    verdict = old.review(proposal(agent=agent, style=style), snapshot("choppy"), features())
    assert (verdict.size_multiplier == 0.5) is halved


def test_review_shrinks_to_0_7_and_tightens_long_stop_when_vol_above_0_45():
    verdict = old.review(proposal(stop=85.0), snapshot(), features(vol_21d=0.60))
    daily = 0.60 / 252 ** 0.5
    assert verdict.decision == "adjust" and verdict.size_multiplier == 0.7
    assert verdict.stop == pytest.approx(100.0 * (1 - 2 * daily), abs=1e-4)
    assert "vol_21d 0.60 > 0.45 (x0.7)" in verdict.reason and "stop tightened 85.00 -> 92.44" in verdict.reason


def test_review_keeps_the_proposal_stop_when_it_is_already_tighter_than_two_daily_vols():
    verdict = old.review(proposal(stop=97.0), snapshot(), features(vol_21d=0.60))
    assert verdict.decision == "adjust" and verdict.size_multiplier == 0.7
    assert verdict.stop is None
    assert "stop tightened" not in verdict.reason


def test_review_tightens_a_short_stop_downward_when_vol_is_high():
    verdict = rules.review(proposal(Action.SELL_SHORT, stop=115.0), snapshot(), features(vol_21d=0.60))
    assert verdict.stop == pytest.approx(100.0 * (1 + 2 * 0.60 / 252 ** 0.5), abs=1e-4)
    assert verdict.stop < 115.0


def test_review_multiplies_the_regime_and_vol_shrinks():
    verdict = old.review(proposal(style=AgentStyle.TREND, stop=50.0), snapshot("choppy"), features(vol_21d=0.5))
    assert verdict.size_multiplier == pytest.approx(0.35)
    assert "halves a trend long" in verdict.reason and "vol_21d 0.50 > 0.45" in verdict.reason


def test_review_veto_wins_over_adjustments():
    verdict = old.review(proposal(style=AgentStyle.TREND), snapshot("high_vol_panic"), features(vol_21d=0.9))
    assert verdict.decision == "veto"


def test_review_confirms_and_names_the_checks_passed_when_no_rule_objects():
    verdict = rules.review(proposal(style=AgentStyle.TREND), snapshot(), features())
    assert verdict.decision == "confirm" and verdict.size_multiplier == 1 and verdict.stop is None
    assert verdict.reason.startswith("no rule objects: ")
    for check in ("not high_vol_panic", "rsi_14 55.0 <= 85", "suits a trend long", "vol_21d 0.20 <= 0.45"):
        assert check in verdict.reason


@pytest.mark.parametrize("action", [Action.CLOSE_LONG, Action.CLOSE_SHORT, Action.HOLD])
def test_review_always_confirms_exits_and_holds_even_in_panic_with_extreme_features(action):
    verdict = rules.review(proposal(action, stop=None), snapshot("high_vol_panic"),
                           features(rsi_14=99.0, vol_21d=1.2))
    assert verdict.decision == "confirm" and verdict.size_multiplier == 1
    assert "never blocked" in verdict.reason


def test_review_reads_proposal_inputs_when_features_lack_a_value():
    verdict = old.review(proposal(inputs={"rsi_14": 90.0}), snapshot(), {"close": 100.0, "vol_21d": 0.2})
    assert verdict.decision == "veto"


def test_review_says_rsi_is_unavailable_when_it_is_nan_rather_than_guessing():
    verdict = rules.review(proposal(), snapshot(), features(rsi_14=float("nan")))
    assert verdict.decision == "confirm"
    assert "rsi_14 unavailable" in verdict.reason


def test_rules_provenance_names_rules_v1_with_zero_tokens():
    prov = rules.review(proposal(), snapshot(), features()).provenance
    assert (prov.provider, prov.model, prov.prompt_version, prov.tokens, prov.fallback) == \
        ("rules", "rules-v1", "v1", 0, False)
    assert prov.latency_ms >= 0


# ---------------------------------------------------------------- review_book


def test_review_book_accepts_a_calm_book_and_says_why():
    review = rules.review_book([entry("XOM"), entry("CVX"), entry("JPM")], snapshot(), book())
    assert review.shrink == {} and review.veto == {}
    assert review.summary.startswith("book accepted")


def test_review_book_shrinks_every_entry_in_a_fragile_market():
    review = old.review_book([entry("XOM"), entry("JPM")], snapshot(experts={"fragility": 0.7}), book())
    assert review.shrink == {"XOM": 0.75, "JPM": 0.75}
    assert "fragile market (fragility 0.70 > 0.6)" in review.summary


def test_review_book_vetoes_the_lowest_scored_entries_beyond_two_in_risk_off():
    entries = [entry("A", score=300), entry("B", score=120), entry("C", score=250), entry("D", score=90)]
    review = old.review_book(entries, snapshot("risk_off_trend"), book("risk_off_trend"))
    assert set(review.veto) == {"B", "D"}
    assert "rank 3" in review.veto["B"] and "rank 4" in review.veto["D"]
    assert "vetoed B, D" in review.summary


def test_review_book_shrinks_a_sector_with_more_than_three_new_entries_when_switched_on():
    entries = [entry(s, sector="Energy") for s in ("XOM", "CVX", "COP", "EOG")] + [entry("JPM", sector="Financials")]
    review = RulesProvider(RulesPolicy(review_sectors=True)).review_book(entries, snapshot(), book())
    assert review.shrink == dict.fromkeys(("XOM", "CVX", "COP", "EOG"), 0.75)
    assert "4 new entries in Energy" in review.summary


def test_the_default_reviewer_confirms_a_crowded_book_and_says_the_ledger_turned_its_check_off():
    entries = [entry(s, sector="Energy") for s in ("XOM", "CVX", "COP", "EOG")]
    review = rules.review_book(entries, snapshot(), book())
    assert review.shrink == {} and review.veto == {}
    assert "crowded-sector check is off (rules.review_sectors" in review.summary and "evals/edge/" in review.summary


def test_review_book_never_shrinks_a_vetoed_symbol():
    entries = [entry("A", score=300), entry("B", score=200), entry("C", score=100)]
    review = old.review_book(entries, snapshot(experts={"fragility": 0.9}), book("risk_off_trend"))
    assert review.veto.keys() == {"C"} and review.shrink == {"A": 0.75, "B": 0.75}


# ---------------------------------------------------------------- with_fallback


def test_overlay_when_llm_times_out_falls_back_to_rules_and_says_so():
    wrapped = with_fallback(Scripted(review=TimeoutError("read timed out")), old)
    verdict = wrapped.review(proposal(), snapshot("high_vol_panic"), features())
    assert verdict.decision == "veto"  # the rules' own answer
    assert verdict.provenance.provider == "rules" and verdict.provenance.fallback is True
    assert verdict.provenance.fallback_reason == "llm timed out (read timed out)"
    assert verdict.reason.startswith("fallback to rules (llm timed out")


def test_overlay_when_llm_hangs_past_the_deadline_falls_back_to_rules():
    release = threading.Event()
    wrapped = with_fallback(Scripted(review=lambda *_: release.wait(5)), rules, timeout_s=0.05)
    try:
        verdict = wrapped.review(proposal(), snapshot(), features())
    finally:
        release.set()
    assert verdict.provenance.fallback is True
    assert "timed out (no answer within 0.05s)" in verdict.provenance.fallback_reason


def test_overlay_when_llm_returns_size_multiplier_above_one_falls_back_to_rules():
    def grow(p: Proposal, *_: Any) -> dict[str, Any]:
        return {"proposal_key": p.key, "decision": "adjust", "size_multiplier": 3.0, "reason": "go big",
                "provenance": provenance().model_dump()}

    verdict = with_fallback(Scripted(review=grow), rules).review(proposal(), snapshot(), features())
    assert verdict.size_multiplier <= 1 and verdict.provenance.fallback is True
    assert "invalid output" in verdict.provenance.fallback_reason
    assert "size_multiplier" in verdict.provenance.fallback_reason


def test_overlay_when_llm_answers_buy_raises_validation_error_and_falls_back_to_rules():
    wrapped = with_fallback(Scripted(review=verdict_from_llm(decision="buy")), rules)
    verdict = wrapped.review(proposal(), snapshot(), features())
    assert verdict.decision == "confirm" and verdict.provenance.fallback is True
    assert "decision" in verdict.provenance.fallback_reason


def test_overlay_when_llm_returns_an_unvalidated_model_it_is_revalidated_and_falls_back():
    bogus = Verdict.model_construct(proposal_key=proposal().key, decision="adjust", size_multiplier=3.0,
                                    stop=None, reason="trust me", provenance=provenance())
    verdict = with_fallback(Scripted(review=bogus), rules).review(proposal(), snapshot(), features())
    assert verdict.provenance.fallback is True and verdict.size_multiplier == 1


def test_overlay_when_llm_answers_for_another_proposal_falls_back_to_rules():
    other = proposal(symbol="CVX")
    wrapped = with_fallback(Scripted(review=lambda *_: verdict_from_llm()(other)), rules)
    verdict = wrapped.review(proposal(), snapshot(), features())
    assert verdict.provenance.fallback is True and verdict.proposal_key == proposal().key
    assert "not '2015-03-02:direction_cfc:XOM'" in verdict.provenance.fallback_reason


def test_overlay_when_llm_loosens_a_long_stop_keeps_the_proposal_stop_and_says_so():
    wrapped = with_fallback(Scripted(review=verdict_from_llm(decision="adjust", stop=80.0)), rules)
    verdict = wrapped.review(proposal(stop=90.0), snapshot(), features())
    assert verdict.stop == 90.0 and verdict.decision == "confirm"
    assert verdict.provenance.provider == "llm" and verdict.provenance.fallback is False
    assert "overlay stop 80.00 is looser than the proposal's 90.00 for a long" in verdict.reason


def test_overlay_when_llm_loosens_a_short_stop_keeps_the_proposal_stop_but_keeps_its_shrink():
    wrapped = with_fallback(Scripted(review=verdict_from_llm(decision="adjust", size_multiplier=0.5,
                                                             stop=120.0)), rules)
    verdict = wrapped.review(proposal(Action.SELL_SHORT, stop=110.0), snapshot(), features())
    assert verdict.stop == 110.0 and verdict.decision == "adjust" and verdict.size_multiplier == 0.5
    assert "looser than the proposal's 110.00 for a short" in verdict.reason


def test_overlay_when_llm_puts_a_long_stop_above_the_close_keeps_the_proposal_stop():
    wrapped = with_fallback(Scripted(review=verdict_from_llm(decision="adjust", stop=101.0)), rules)
    verdict = wrapped.review(proposal(stop=90.0), snapshot(), features(close=100.0))
    assert verdict.stop == 90.0
    assert "wrong side of close 100.00" in verdict.reason


def test_overlay_keeps_a_tighter_llm_stop_and_records_a_stop_only_confirm_as_adjust():
    wrapped = with_fallback(Scripted(review=verdict_from_llm(decision="confirm", stop=95.0)), rules)
    verdict = wrapped.review(proposal(stop=90.0), snapshot(), features())
    assert verdict.stop == 95.0 and verdict.decision == "adjust"
    assert "recorded as adjust" in verdict.reason


def test_overlay_passes_a_valid_bounded_llm_verdict_through_unchanged():
    answer = verdict_from_llm(decision="adjust", size_multiplier=0.6, stop=93.0, reason="earnings next week")
    verdict = with_fallback(Scripted(review=answer), rules).review(proposal(stop=90.0), snapshot(), features())
    assert verdict == answer(proposal(stop=90.0))


@pytest.mark.parametrize("action", [Action.CLOSE_LONG, Action.CLOSE_SHORT])
def test_overlay_when_llm_vetoes_an_exit_the_exit_is_confirmed_and_says_so(action):
    wrapped = with_fallback(Scripted(review=verdict_from_llm(decision="veto", reason="hold on")), rules)
    verdict = wrapped.review(proposal(action, stop=None), snapshot(), features())
    assert verdict.decision == "confirm" and verdict.size_multiplier == 1
    assert "never blocked" in verdict.reason and "hold on" in verdict.reason


def test_weather_when_llm_raises_connection_error_falls_back_to_the_rules_narrative():
    view = with_fallback(Scripted(weather=ConnectionError("refused")), rules).weather(snapshot())
    assert view.provenance.fallback is True
    assert view.provenance.fallback_reason == "llm failed (ConnectionError: refused)"
    assert "calm_uptrend" in view.narrative and view.reason.startswith("fallback to rules")


def test_weather_when_llm_nudges_two_levels_the_answer_is_invalid_and_falls_back():
    two_levels = {"narrative": "panic!", "regime_nudge": 2, "reason": "vibes", "provenance": provenance().model_dump()}
    view = with_fallback(Scripted(weather=two_levels), rules).weather(snapshot())
    assert view.regime_nudge == 0 and view.provenance.fallback is True
    assert "regime_nudge" in view.provenance.fallback_reason


def test_weather_when_llm_returns_prose_instead_of_the_schema_falls_back():
    view = with_fallback(Scripted(weather="I would not buy"), rules).weather(snapshot())
    assert view.provenance.fallback is True
    assert view.provenance.fallback_reason == "llm returned invalid output (expected a WeatherView, got str)"


def test_review_book_when_llm_shrink_grows_an_entry_falls_back_to_rules():
    grow = BookReview(shrink={"XOM": 2.0}, summary="double it", provenance=provenance())
    review = with_fallback(Scripted(book=grow), rules).review_book([entry("XOM")], snapshot(), book())
    assert review.shrink == {} and review.provenance.fallback is True
    assert "shrink for XOM is 2.0, outside [0, 1]" in review.provenance.fallback_reason


def test_review_book_drops_llm_actions_on_symbols_that_are_not_new_entries():
    answer = BookReview(shrink={"XOM": 0.5, "MSFT": 0.1}, veto={"AAPL": "too hot"}, summary="trimmed",
                        provenance=provenance())
    review = with_fallback(Scripted(book=answer), rules).review_book([entry("XOM")], snapshot(), book())
    assert review.shrink == {"XOM": 0.5} and review.veto == {}
    assert "ignored symbols that are not new entries: AAPL, MSFT" in review.summary


def test_fallback_reason_is_one_line_even_for_a_multiline_error():
    wrapped = with_fallback(Scripted(review=RuntimeError("502 Bad Gateway\n<html>\n  oops</html>")), rules)
    reason = wrapped.review(proposal(), snapshot(), features()).provenance.fallback_reason
    assert "\n" not in reason and reason.startswith("llm failed (RuntimeError: 502 Bad Gateway")


# ---------------------------------------------------------------- factory


def test_make_provider_rules_returns_the_rules_provider():
    provider = make_provider("rules")
    assert isinstance(provider, RulesProvider) and isinstance(provider, OverlayProvider)


@pytest.mark.parametrize("name", ["anthropic", "openai"])
def test_make_provider_by_name_alone_points_an_llm_to_the_settings(name):
    with pytest.raises(ValueError) as error:
        make_provider(name)
    assert str(error.value) == (f"provider '{name}' is built from the desk's settings: set llm.provider = '{name}' "
                                f"(or DESK_LLM__PROVIDER={name})")


def test_make_provider_for_an_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"unknown provider 'rulez' \(did you mean 'rules'\?\)"):
        make_provider("rulez")


def test_make_provider_wraps_a_registered_llm_with_the_rules_fallback(monkeypatch):
    monkeypatch.setitem(factory.LLM_PROVIDERS, "llm", lambda: Scripted(review=TimeoutError("slow")))
    provider = make_provider("llm")
    verdict = provider.review(proposal(), snapshot(), features())
    assert provider.name == "llm" and verdict.provenance.fallback is True


# ---------------------------------------------------------------- determinism


def _without_latency(answer: WeatherView | Verdict | BookReview) -> dict[str, Any]:
    dump = answer.model_dump()
    dump["provenance"].pop("latency_ms")
    return dump


def test_rules_provider_gives_the_same_answer_to_the_same_input():
    snap = snapshot("choppy", scores={"macro": 0.5}, experts={"fragility": 0.8})
    entries = [entry("A", score=300, sector="Tech"), entry("B", score=100)]
    for _ in range(2):
        a, b = RulesProvider(), RulesProvider()
        assert _without_latency(a.weather(snap)) == _without_latency(b.weather(snap))
        args = (proposal(style=AgentStyle.TREND), snap, features(vol_21d=0.6))
        assert _without_latency(a.review(*args)) == _without_latency(b.review(*args))
        assert _without_latency(a.review_book(entries, snap, book("choppy"))) == \
            _without_latency(b.review_book(entries, snap, book("choppy")))


# ---------------------------------------------------------------- prompts


@pytest.mark.parametrize(("name", "version"), sorted(PROMPTS))
def test_every_prompt_loads_and_takes_exactly_its_declared_fields(name, version):
    text = prompts.load(name, version)
    assert set(Template(text).get_identifiers()) == PROMPTS[(name, version)].fields


@pytest.mark.parametrize(("name", "version"), sorted(PROMPTS))
def test_every_prompt_renders_with_every_placeholder_filled(name, version):
    fields = {f: f"<<{f}>>" for f in PROMPTS[(name, version)].fields}
    text = render_prompt(name, fields, version)
    assert "$" not in text.replace("$$", "")
    assert all(f"<<{f}>>" in text for f in fields)


@pytest.mark.parametrize(("name", "version"), [k for k, s in sorted(PROMPTS.items()) if s.schema is not None])
def test_llm_prompts_have_system_and_instructions_and_ask_for_their_schema(name, version):
    text = prompts.load(name, version)
    schema = PROMPTS[(name, version)].schema
    assert "## System" in text and "## Instructions" in text and "## Input" in text
    assert f"`{schema.__name__}`" in text
    assert all(f"`{field}`" in text for field in _leaf_fields(schema))
    assert "<data>" in text  # every LLM prompt says where data begins and that it is never an instruction


def _leaf_fields(schema) -> list[str]:
    out = []
    for name, info in schema.model_fields.items():
        inner = getattr(info.annotation, "__args__", (info.annotation,))
        nested = [t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)]
        out += _leaf_fields(nested[0]) if nested else [name]
    return out


def test_every_role_has_a_prompt_with_an_output_schema_kept_apart_from_the_recorded_contract():
    roles = {s.role for s in PROMPTS.values() if s.role}
    assert roles == {"weather", "overlay", "risk", "chat"}
    recorded = {WeatherView, Verdict, BookReview}
    assert not {s.schema for s in PROMPTS.values()} & recorded


def test_render_prompt_with_a_missing_field_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"missing fields \['as_of'"):
        render_prompt("overlay", dict.fromkeys(PROMPT_FIELDS["overlay"] - {"as_of"}, "x"))


def test_render_prompt_of_an_unknown_version_names_the_versions_there_are():
    with pytest.raises(ValueError, match=r"no prompt overlay.v7: versions are v1"):
        render_prompt("overlay", {}, "v7")
