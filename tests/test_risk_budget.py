"""One risk budget, each concern applied once (issue 18): the book's forecast volatility is scaled to
``sizing.target_vol`` times the weather's one factor; the regime, the fusion gates and the throttle shape a size once;
the overlay and the reviewer no longer repeat them by default; every factor is still in the chain, and the hard rules
keep the last word. The old behaviour stays reachable by settings."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.nodes import intents, overlay, picks, review, risk, sizing, weather
from memory.why import NotFound, reason_chain
from tests import kit
from tests.test_cascade_node import DAY, Models, desk_with
from tools.budget import book_scale, correlation
from tools.closes import close_arrays
from tools.sizing import weather_share
from tools.trust import AgentRecord
from vocab.terms import AgentStyle, Regime

SYMBOLS = ["A", "B", "C"]
IDENTITY = np.eye(3)


def book_vol(weights: dict[str, float], vols: dict[str, float], corr: np.ndarray) -> float:
    w = np.array([weights.get(s, 0.0) for s in SYMBOLS])
    sig = np.array([vols[s] for s in SYMBOLS])
    return math.sqrt(w @ (corr * np.outer(sig, sig)) @ w)


# ---------------------------------------------------------------------- the book's budget, pure
def test_the_entries_are_scaled_so_the_book_meets_its_budget_times_the_weathers_share():
    vols = {"A": 0.20, "B": 0.30, "C": 0.25}
    entries = {"A": 0.05, "B": 0.05}
    r = book_scale({}, entries, vols, IDENTITY, SYMBOLS, target=0.12, regime_share=0.5, mode="scale")
    assert r.budget == pytest.approx(0.06) and r.scale > 1
    assert book_vol({k: v * r.scale for k, v in entries.items()}, vols, IDENTITY) == pytest.approx(0.06)
    assert "tonight's budget 6.0% = target 12% × regime 0.50" in r.reason and "enlarged" in r.reason


def test_the_held_book_counts_and_a_full_book_takes_no_new_entry_and_says_so():
    vols = {"A": 0.20, "B": 0.30, "C": 0.25}
    r = book_scale({"C": 0.60}, {"A": 0.10}, vols, IDENTITY, SYMBOLS, target=0.12, regime_share=1.0, mode="scale")
    assert r.scale == 0.0 and "the held book fills the budget" in r.reason
    part = book_scale({"C": 0.20}, {"A": 0.10}, vols, IDENTITY, SYMBOLS, target=0.12, regime_share=1.0, mode="scale")
    assert book_vol({"C": 0.20, "A": 0.10 * part.scale}, vols, IDENTITY) == pytest.approx(0.12)


def test_cap_mode_only_shrinks_and_off_leaves_the_entries_alone():
    vols = {"A": 0.20, "B": 0.30, "C": 0.25}
    small = book_scale({}, {"A": 0.05}, vols, IDENTITY, SYMBOLS, target=0.12, regime_share=1.0, mode="cap")
    assert small.scale == 1.0 and "never enlarged" in small.reason
    big = book_scale({}, {"A": 0.9, "B": 0.9}, vols, IDENTITY, SYMBOLS, target=0.12, regime_share=1.0, mode="cap")
    assert big.scale < 1.0
    off = book_scale({}, {"A": 0.9}, vols, IDENTITY, SYMBOLS, target=0.12, regime_share=1.0, mode="off")
    assert off.scale == 1.0 and "off" in off.reason


def test_enlarging_stops_where_the_largest_entry_reaches_the_per_position_cap():
    vols = {"A": 0.05, "B": 0.05, "C": 0.05}
    r = book_scale({}, {"A": 0.02, "B": 0.01}, vols, IDENTITY, SYMBOLS, target=0.12, regime_share=1.0, mode="scale",
                   max_entry=0.20)
    assert r.scale == pytest.approx(10.0) and "per-position cap" in r.reason


def test_a_volatility_nobody_knows_counts_as_the_highest_known_and_perfectly_correlated_never_riskless():
    unknown = book_scale({}, {"A": 0.1, "B": 0.1}, {"A": 0.2, "B": math.nan}, np.full((3, 3), np.nan), SYMBOLS,
                         target=0.12, regime_share=1.0, mode="scale")
    assert unknown.scale * 0.1 == pytest.approx(0.12 / (2 * 0.2))   # two positions at 20% vol, correlation 1


@settings(max_examples=60, deadline=None)
@given(held=st.floats(0, 0.5), a=st.floats(0.001, 0.3), b=st.floats(0.001, 0.3), va=st.floats(0.05, 0.8),
       vb=st.floats(0.05, 0.8), rho=st.floats(-0.5, 1.0), share=st.floats(0.05, 1.0))
def test_the_scaled_book_never_exceeds_its_budget(held, a, b, va, vb, rho, share):
    corr = np.array([[1, rho, rho], [rho, 1, rho], [rho, rho, 1]])
    vols = {"A": va, "B": vb, "C": 0.25}
    r = book_scale({"C": held}, {"A": a, "B": b}, vols, corr, SYMBOLS, target=0.12, regime_share=share,
                   mode="scale")
    after = book_vol({"A": a * r.scale, "B": b * r.scale, "C": held}, vols, corr)
    assert r.scale >= 0 and (r.scale == 0 or after <= 0.12 * share + 1e-9)


def test_the_correlation_on_a_night_is_the_same_with_every_later_close_removed():
    rng = np.random.default_rng(3)
    index = pd.bdate_range("2016-01-04", periods=300)
    close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 3)), axis=0)), index=index,
                         columns=SYMBOLS)
    day = index[200].date()
    full = correlation(close_arrays(close), SYMBOLS, day)
    cut = correlation(close_arrays(close.iloc[:201]), SYMBOLS, day)
    assert np.allclose(full, cut, equal_nan=True) and np.isfinite(full).all()


# ---------------------------------------------------------------------- the weather, once
def test_the_weather_shapes_a_size_once_at_its_most_cautious_reading():
    r, e, t, notes = weather_share("once", "risk_off_trend", 0.4, 0.85, 0.76)
    assert (r, e, t) == (0.4, 1.0, 1.0)
    assert "most cautious of regime risk_off_trend 0.40, fusion gates 0.85, risk throttle 0.76" in notes["regime"]
    assert "in the regime factor" in notes["expert"] and "in the regime factor" in notes["risk_throttle"]
    r, *_ = weather_share("once", "calm_uptrend", 1.0, 0.85, 0.6)
    assert r == 0.6   # a calm regime with a tight throttle: the throttle's reading, once


def test_compound_weather_multiplies_each_reading_as_before_issue_18():
    assert weather_share("compound", "risk_off_trend", 0.4, 0.85, 0.76)[:3] == (0.4, 0.85, 0.76)


# ---------------------------------------------------------------------- the night, end to end
TREND = AgentRecord(agent="trend", resolved=100, wins=60, mean_win=0.04, mean_loss=0.03, ic=0.2)


def risk_off_night(d, symbols=("KO", "PG", "JNJ", "PEP")):
    """A risk-off night with a fragile market, four trend longs: the GE case of issue 18 in miniature."""
    state = kit.run_nodes(d, [weather.weather], {"run_id": "t", "as_of": DAY, "stale": {}})
    snap = state["weather"].model_copy(update={"regime": Regime.RISK_OFF_TREND, "sizing_modifier": 0.85,
                                               "risk_throttle": 0.76,
                                               "experts": {**state["weather"].experts, "fragility": 0.9}})
    props = [kit.proposal(symbol=s, as_of=DAY, strength=0.9, confidence=0.8, agent="trend", stop=None,
                          style=AgentStyle.TREND) for s in symbols]
    state.update(weather=snap, regime=Regime.RISK_OFF_TREND, proposals=props, agent_records={"trend": TREND},
                 agent_weights={"trend": 1.0})
    return kit.run_nodes(d, [overlay.overlay, picks.picks, sizing.sizing, review.risk_review, risk.hard_rules],
                         state)


def test_a_risk_off_night_applies_the_regime_once_and_keeps_every_factor_in_the_chain(home):
    out = risk_off_night(desk_with(home, Models(state="neutral", vol=0.25)), symbols=("KO", "PG", "JNJ"))
    assert {s.symbol for s in out["sized"]} == {"KO", "PG", "JNJ"}          # the reviewer vetoed none for the regime
    for entry in out["sized"]:
        f = {x.name: x for x in entry.factors}
        assert {"base", "tier", "volatility", "regime", "overlay", "disagreement", "expert", "risk_throttle",
                "budget"} <= set(f)
        assert f["regime"].multiplier == pytest.approx(0.4) and "the weather's one factor" in f["regime"].reason
        assert f["overlay"].multiplier == 1.0 and f["expert"].multiplier == 1.0 and f["risk_throttle"].multiplier == 1.0
        assert "risk_reviewer" not in f
        assert entry.weight <= 0.20 + 1e-12                                   # the hard rules keep the last word
    assert all(v.decision == "confirm" for v in out["verdicts"])


def test_the_old_chain_compounds_the_same_fear_when_configured(home):
    old = {"sizing": {"weather": "compound", "budget": "off"},
           "rules": {"regime_entries": True, "vol_shrink": True, "review_regime": True, "review_fragility": True}}
    out = risk_off_night(desk_with(home, Models(state="neutral", vol=0.25), **old))
    assert len(out["sized"]) == 2 and any(d.rule == "risk_reviewer" for ds in out["denials"].values() for d in ds)
    f = {x.name: x for x in out["sized"][0].factors}
    assert f["overlay"].multiplier == 0.5 and f["expert"].multiplier == 0.85 and f["risk_throttle"].multiplier == 0.76
    assert f["risk_reviewer"].multiplier == 0.75 and "budget" not in f


def test_a_night_whose_entries_are_sized_to_zero_says_which_factor_did_it(home):
    d = desk_with(home, Models(state="neutral"), sizing={"kelly_floor": 0.0})
    state = kit.run_nodes(d, [weather.weather], {"run_id": "t", "as_of": DAY, "stale": {}})
    props = [kit.proposal(symbol="KO", as_of=DAY, strength=0.9, confidence=0.8, agent="trend", stop=None)]
    poor = AgentRecord(agent="trend", resolved=200, wins=60, mean_win=0.02, mean_loss=0.03, ic=0.0)
    state.update(proposals=props, verdicts=[kit.verdict(p) for p in props], regime=state["weather"].regime,
                 agent_records={"trend": poor}, agent_weights={"trend": 1.0}, exits=[])
    state["view"] = d.ctx.provider.weather(state["weather"])
    out = kit.run_nodes(d, [picks.picks, sizing.sizing, risk.hard_rules, intents.write_intents], state)
    assert out["sized"] == []
    (denial,) = [x for x in out["denials"]["KO"] if x.rule == "zero_size"]
    assert denial.reason.startswith("sized to 0 by the tier factor") and "f* 0.000" in denial.reason
    said = intents.report(out, kit.runtime(d))
    assert said["flat_cause"].startswith("zero_size denied 1 of 1 candidate(s), e.g. sized to 0 by the tier factor")
    assert "no exposure: zero_size" in said["summary"]
    with pytest.raises(NotFound, match="KO.*selected pick.*not bought: zero_size: sized to 0 by the tier"):
        reason_chain(d.store, "KO")


def test_why_tells_of_a_later_night_a_bought_symbol_was_a_pick_and_was_not_bought(home):
    d = desk_with(home, Models(state="neutral"))
    d.store.save_intents("r1", [kit.intent(as_of=date(2017, 2, 1), symbol="KO")])
    d.store.save_picks("r2", DAY, [{"symbol": "KO", "score": 200.0, "threshold": 150.0, "selected": 1,
                                    "horizon_days": 5, "reference_price": 40.0, "payload": {}}])
    why = "sized to 0 by the budget factor: the held book fills the budget"
    d.store.save_pick_denials(DAY, {"KO": [{"rule": "zero_size", "reason": why}]})
    got = reason_chain(d.store, "KO")
    assert got.intent.intent_id.startswith("2017-02-01") and got.not_entered.as_of == DAY
    assert got.not_entered.denials[0].rule == "zero_size"


def test_the_hard_rules_summary_counts_the_rules_that_denied():
    from vocab.contracts import Denial

    counts = risk.rule_counts({"A": [Denial(rule="max_weight", reason="x"), Denial(rule="min_order", reason="y")],
                               "B": [Denial(rule="min_order", reason="z")], "C": [Denial(rule="halted", reason="h")]})
    assert counts == "min_order 2, halted 1"


# ---------------------------------------------------------------------- flat stretches in the eval report
def test_a_flat_stretch_in_an_eval_is_marked_with_the_rule_that_kept_the_book_empty():
    from evals.flat import flat_stretches

    dates = [f"2018-02-{d:02d}" for d in range(1, 29)]
    invested = [0.3] * 3 + [0.0] * 20 + [0.2] * 5
    causes = [None] * 3 + ["zero_size denied 8 of 8 candidate(s), e.g. sized to 0 by the tier factor"] * 15 \
        + ["no pick cleared the threshold 181 (hit rate 0.19)"] * 5 + [None] * 5
    (stretch,) = flat_stretches(dates, invested, causes)
    assert (stretch.start, stretch.end, stretch.sessions) == ("2018-02-04", "2018-02-23", 20)
    assert stretch.cause.startswith("zero_size denied") and stretch.nights_with_cause == 15
    assert flat_stretches(dates, [0.0] * 5 + [0.3] * 23, [None] * 28) == []   # a short gap is ordinary turnover


def test_the_correlations_equal_pandas_pairwise_ones_with_a_gap_in_one_symbol():
    rng = np.random.default_rng(5)
    index = pd.bdate_range("2016-01-04", periods=200)
    close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (200, 3)), axis=0)), index=index,
                         columns=SYMBOLS)
    close.iloc[120:140, 2] = np.nan                      # C has a gap: its pairs are read pairwise
    got = correlation(close_arrays(close), SYMBOLS, index[-1].date())
    want = np.log(close.iloc[-127:]).diff().corr(min_periods=42).to_numpy()
    assert np.allclose(got, want, atol=1e-9)
