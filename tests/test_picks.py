"""Master picks: the 0..350 score, the resolved-picks hit rate and the adaptive threshold."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import kit
from tools.picks import adaptive_threshold, hit_rate, score_symbol
from vocab.contracts import Proposal
from vocab.terms import Action

AS_OF = date(2015, 6, 1)


def vote(agent: str = "trend", action: Action = Action.BUY_LONG, strength: float = 0.8, confidence: float = 0.6,
         **kw) -> Proposal:
    """One agent's vote on XOM: the kit's proposal, with the agent and its action up front."""
    return kit.proposal(agent=agent, action=action, strength=strength, confidence=confidence, **kw)


# --- score_symbol -----------------------------------------------------------------------------------

def test_unanimous_long_in_calm_uptrend_scores_every_part():
    card = score_symbol("XOM", [vote("a"), vote("b"), vote("c")], "calm_uptrend", budget_free=0.5)
    assert card.direction == "long"
    assert card.parts == pytest.approx({"signal": 80, "confidence": 30, "agreement": 75, "regime": 75, "budget": 25})
    assert card.total == pytest.approx(285)
    assert card.agents == ["a", "b", "c"] and card.dissent == 0
    assert "285/350" in card.explanation and "calm_uptrend" in card.explanation


@pytest.mark.parametrize("regime, long_pts, short_pts", [
    ("calm_uptrend", 75, 0), ("risk_on_trend", 60, 10), ("choppy", 30, 30),
    ("risk_off_trend", 10, 60), ("high_vol_panic", 0, 75),
])
def test_regime_points_for_longs_and_mirrored_for_shorts(regime, long_pts, short_pts):
    assert score_symbol("XOM", [vote()], regime, 1.0).regime == long_pts
    short = score_symbol("XOM", [vote(action=Action.SELL_SHORT)], regime, 1.0)
    assert short.direction == "short" and short.regime == short_pts


def test_hold_counts_among_voters_but_not_as_dissent():
    card = score_symbol("XOM", [vote("a"), vote("b", Action.HOLD), vote("c", Action.HOLD)], "choppy", 1.0)
    assert card.direction == "long" and card.dissent == 0
    assert card.agreement == pytest.approx(25)  # 75 × 1/3 support


def test_dissent_against_the_direction_penalises_agreement():
    votes = [vote("a"), vote("b"), vote("c", Action.SELL_SHORT)]
    card = score_symbol("XOM", votes, "choppy", 1.0)
    assert card.direction == "long"
    assert card.dissent == pytest.approx(1 / 3)
    assert card.agreement == pytest.approx(75 * (2 / 3 - 1 / 3))


def test_close_long_counts_as_dissent_against_a_long():
    card = score_symbol("XOM", [vote("a"), vote("b", Action.CLOSE_LONG)], "choppy", 1.0)
    assert card.direction == "long" and card.dissent == pytest.approx(0.5) and card.agreement == 0


def test_agent_weights_decide_direction_and_weight_the_means():
    votes = [vote("a", strength=0.9, confidence=1.0), vote("b", Action.SELL_SHORT), vote("c", Action.SELL_SHORT)]
    assert score_symbol("XOM", votes, "choppy", 1.0).direction == "short"
    card = score_symbol("XOM", votes, "choppy", 1.0, agent_weights={"a": 3.0, "b": 1.0, "c": 1.0})
    assert card.direction == "long" and card.agents == ["a"]
    assert card.signal == pytest.approx(90) and card.confidence == pytest.approx(50)
    assert card.dissent == pytest.approx(2 / 5)


def test_signal_is_the_weighted_mean_strength_of_supporters():
    votes = [vote("a", strength=1.0), vote("b", strength=0.4)]
    card = score_symbol("XOM", votes, "choppy", 1.0, agent_weights={"a": 1.0, "b": 3.0})
    assert card.signal == pytest.approx(100 * (1.0 * 1 + 0.4 * 3) / 4)


def test_agent_missing_from_weights_gets_the_mean_of_the_given_weights():
    votes = [vote("a"), vote("new", Action.SELL_SHORT)]
    card = score_symbol("XOM", votes, "choppy", 1.0, agent_weights={"a": 0.2, "b": 0.4})
    assert card.direction == "short"  # "new" weighs 0.3 > 0.2


def test_nan_or_negative_agent_weight_removes_that_vote():
    votes = [vote("a"), vote("b", Action.SELL_SHORT)]
    card = score_symbol("XOM", votes, "choppy", 1.0, agent_weights={"a": 1.0, "b": float("nan")})
    assert card.direction == "long" and card.dissent == 0


def test_tie_between_long_and_short_is_flat_and_scores_zero():
    card = score_symbol("XOM", [vote("a"), vote("b", Action.SELL_SHORT)], "calm_uptrend", 1.0)
    assert card.direction == "flat" and card.total == 0 and "tie" in card.explanation


@pytest.mark.parametrize("votes, why", [([], "no surviving proposals"), ([vote(action=Action.HOLD)], "no BUY_LONG")])
def test_no_directional_votes_is_flat(votes, why):
    card = score_symbol("XOM", votes, "calm_uptrend", 1.0)
    assert card.direction == "flat" and card.total == 0 and why in card.explanation


def test_proposals_for_other_symbols_are_ignored():
    card = score_symbol("XOM", [vote("a"), vote("b", Action.SELL_SHORT, symbol="CVX")], "choppy", 1.0)
    assert card.direction == "long" and card.dissent == 0 and card.agreement == 75


def test_an_agent_voting_twice_counts_once_with_its_latest_proposal():
    old = vote("a", Action.SELL_SHORT, as_of=date(2015, 5, 29))
    card = score_symbol("XOM", [vote("a"), old], "choppy", 1.0)
    assert card.direction == "long" and card.agents == ["a"] and card.dissent == 0


@pytest.mark.parametrize("free, points", [(0.3, 15), (-1.0, 0), (7.0, 50), (float("nan"), 0)])
def test_budget_points_are_fifty_times_the_free_share_clamped(free, points):
    assert score_symbol("XOM", [vote()], "choppy", free).budget == pytest.approx(points)


def test_unknown_regime_is_a_clear_error_with_a_suggestion():
    with pytest.raises(ValueError, match="did you mean 'choppy'"):
        score_symbol("XOM", [vote()], "chopy", 1.0)


_actions = st.sampled_from(list(Action))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdef"), _actions, st.floats(0, 1), st.floats(0, 1)), max_size=8),
       st.sampled_from(["calm_uptrend", "risk_on_trend", "choppy", "risk_off_trend", "high_vol_panic"]),
       st.floats(allow_nan=True, allow_infinity=True),
       st.dictionaries(st.sampled_from("abcdef"), st.floats(allow_nan=True, allow_infinity=True)))
def test_score_parts_always_stay_within_their_ranges(votes, regime, free, weights):
    card = score_symbol("XOM", [vote(a, act, s, c) for a, act, s, c in votes], regime, free, weights)
    assert 0 <= card.total <= 350 and 0 <= card.dissent <= 1
    assert card.total == pytest.approx(sum(card.parts.values()))


# --- hit_rate ---------------------------------------------------------------------------------------

@pytest.fixture
def close() -> pd.DataFrame:
    idx = pd.bdate_range("2015-01-01", periods=60)
    up = np.linspace(100, 159, 60)
    return pd.DataFrame({"UP": up, "DOWN": up[::-1]}, index=idx)


def pick(close: pd.DataFrame, i: int, symbol: str, horizon: int = 5, **extra) -> dict:
    day = close.index[i]
    return {"as_of": day.date().isoformat(), "symbol": symbol, "horizon_days": horizon,
            "reference_price": float(close.at[day, symbol]), "score": 200.0, **extra}


def test_hit_rate_counts_resolved_picks_that_made_money(close):
    picks = [pick(close, 40, "UP"), pick(close, 41, "UP"), pick(close, 42, "DOWN")]
    rate, n = hit_rate(picks, close, close.index[50].date())
    assert (rate, n) == (pytest.approx(2 / 3), 3)


def test_hit_rate_skips_picks_whose_horizon_has_not_elapsed(close):
    as_of = close.index[50].date()
    picks = [pick(close, 45, "DOWN"), pick(close, 46, "DOWN")]  # 45 resolves on 50; 46 on 51 (the future)
    assert hit_rate(picks, close, as_of) == (0.0, 1)


def test_hit_rate_does_not_look_past_as_of(close):
    as_of = close.index[50].date()
    picks = [pick(close, i, s) for i in range(20, 50) for s in ("UP", "DOWN")]
    before = hit_rate(picks, close, as_of)
    tampered = close.copy()
    tampered.iloc[51:] = 1.0  # anything after as_of must not matter
    assert hit_rate(picks, tampered, as_of) == before
    assert hit_rate(picks, close.iloc[:51], as_of) == before


def test_hit_rate_only_counts_picks_from_the_window(close):
    as_of = close.index[59].date()
    picks = [pick(close, 10, "DOWN"), pick(close, 40, "UP")]  # session 10 is outside the last 30
    assert hit_rate(picks, close, as_of, window_sessions=30) == (1.0, 1)


def test_hit_rate_short_pick_wins_when_price_falls(close):
    assert hit_rate([pick(close, 40, "DOWN", direction="short")], close, close.index[50].date()) == (1.0, 1)


def test_hit_rate_skips_unknown_symbols_and_bad_reference_prices(close):
    bad = [pick(close, 40, "UP") | {"symbol": "NOPE"}, pick(close, 41, "UP") | {"reference_price": 0.0}]
    assert hit_rate(bad, close, close.index[50].date()) == (None, 0)


def test_hit_rate_with_nothing_resolved_is_none(close):
    assert hit_rate([], close, close.index[50].date()) == (None, 0)
    assert hit_rate([pick(close, 40, "UP")], close, date(2014, 1, 1)) == (None, 0)


# --- adaptive_threshold -----------------------------------------------------------------------------

def test_threshold_stays_at_base_without_enough_resolved_picks():
    value, reason = adaptive_threshold(150, 0.1, n=9)
    assert value == 150 and "not enough resolved picks" in reason and "9" in reason


@pytest.mark.parametrize("rate, expected", [(0.0, 200), (0.25, 175), (0.5, 150), (0.52, 150), (0.55, 150), (1.0, 125)])
def test_threshold_rises_when_hit_rate_is_poor_and_falls_when_good(rate, expected):
    value, reason = adaptive_threshold(150, rate, n=20)
    assert value == pytest.approx(expected)
    assert f"{rate:.2f}" in reason and "20" in reason


def test_threshold_stays_within_the_score_range():
    assert adaptive_threshold(340, 0.0, n=50)[0] == 350
    assert adaptive_threshold(10, 1.0, n=50)[0] == 0


def test_hit_rate_reads_columns_as_it_reads_rows_and_arrays_as_it_reads_the_frame(close):
    from tools.closes import close_arrays

    picks = [pick(close, i, s) for i in range(20, 58) for s in ("UP", "DOWN")]
    picks.append(pick(close, 40, "DOWN", direction="short"))
    as_of = close.index[55].date()
    cols = {k: [r.get(k) for r in picks] for k in ("as_of", "symbol", "horizon_days", "reference_price",
                                                    "direction")}
    want = hit_rate(picks, close, as_of)
    assert want[1] > 0
    assert hit_rate(cols, close, as_of) == want == hit_rate(picks, close_arrays(close), as_of)
