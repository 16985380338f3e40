"""Exits: each sell trigger by name, and the 5-tier profit cascade."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.exits import MAX_TRIM, ExitPolicy, PositionState, open_position, update_and_check

POLICY = ExitPolicy()


def position(**kw) -> PositionState:
    """A long of 100 shares bought at 100 with a stop at 90 (R = 10): tiers at 110, 120, 130, 150, 180."""
    base = dict(symbol="XOM", quantity=100.0, avg_price=100.0, entry_date=date(2015, 6, 1), initial_stop=90.0,
                peak=100.0, trail_pct=0.10, tiers_hit=0)
    base.update(kw)
    return PositionState(**base)


def check(pos=None, price=105.0, regime="calm_uptrend", support=None, policy=POLICY):
    return update_and_check(pos or position(), price, regime, support, policy)


def test_nothing_happens_between_the_stop_and_the_first_tier():
    state, decision = check(price=105.0)
    assert decision is None and state.peak == 105.0 and state.trail_pct == 0.10 and state.tiers_hit == 0


def test_the_peak_only_ratchets_up():
    state, _ = check(position(peak=108.0), price=104.0)
    assert state.peak == 108.0


def test_trailing_stop_exits_fully_when_price_falls_trail_below_the_peak():
    state, decision = check(position(peak=109.0), price=98.1)  # 109 × 0.9 = 98.1
    assert decision is not None and decision.kind == "exit" and decision.fraction == 1.0
    assert decision.trigger == "trailing_stop" and "trailing stop" in decision.reason
    assert state.peak == 109.0 and decision.new_peak == 109.0


def test_initial_stop_exits_fully():
    _, decision = check(position(trail_pct=0.5), price=89.0)
    assert decision.kind == "exit" and decision.trigger == "trailing_stop" and "initial stop" in decision.reason


def test_regime_panic_exits_fully():
    _, decision = check(price=105.0, regime="high_vol_panic")
    assert decision.kind == "exit" and decision.trigger == "regime_panic" and decision.fraction == 1.0


def test_score_collapse_exits_when_support_falls_below_the_floor():
    _, decision = check(price=105.0, support=0.2)
    assert decision.kind == "exit" and decision.trigger == "score_collapse" and "0.20" in decision.reason


@pytest.mark.parametrize("support", [None, math.nan, 0.25, 0.9])
def test_unknown_or_sufficient_support_does_not_trigger_an_exit(support):
    assert check(price=105.0, support=support)[1] is None


def test_a_stop_hit_takes_priority_over_panic_and_collapse():
    _, decision = check(price=85.0, regime="high_vol_panic", support=0.0)
    assert decision.trigger == "trailing_stop"


def test_first_profit_tier_trims_a_fifth_and_tightens_the_trail():
    state, decision = check(price=111.0)
    assert decision.kind == "trim" and decision.trigger == "profit_tier"
    assert decision.fraction == pytest.approx(0.2)
    assert decision.new_trail == 0.08 and decision.new_tiers_hit == 1
    assert (state.trail_pct, state.tiers_hit, state.peak, state.quantity) == (0.08, 1, 111.0, 100.0)
    assert "1R" in decision.reason


def test_a_tier_already_hit_is_not_taken_again():
    assert check(position(tiers_hit=1, trail_pct=0.08, peak=112.0), price=112.0)[1] is None


def test_next_tier_after_the_first_trims_again():
    _, decision = check(position(tiers_hit=1, trail_pct=0.08, peak=115.0), price=121.0)
    assert decision.new_tiers_hit == 2 and decision.new_trail == 0.07 and decision.fraction == pytest.approx(0.2)


def test_several_tiers_crossed_at_once_count_them_all_in_one_trim():
    state, decision = check(price=131.0)  # 1R, 2R and 3R at once
    assert decision.new_tiers_hit == 3 and decision.new_trail == 0.06
    assert decision.fraction == pytest.approx(1 - 0.8 ** 3)
    assert state.tiers_hit == 3 and "1R" in decision.reason and "3R" in decision.reason


def test_all_five_tiers_at_once_still_leave_a_runner():
    _, decision = check(price=500.0)
    assert decision.new_tiers_hit == 5 and decision.new_trail == 0.04
    assert decision.fraction == pytest.approx(1 - 0.8 ** 5) and decision.fraction < 1


def test_a_combined_trim_is_capped_so_something_remains():
    greedy = ExitPolicy(tier_exit_fraction=1.0)
    _, decision = check(price=121.0, policy=greedy)
    assert decision.kind == "trim" and decision.fraction == MAX_TRIM


def test_a_tier_trail_never_loosens_an_already_tighter_trail():
    _, decision = check(position(trail_pct=0.05, peak=110.0), price=111.0)
    assert decision.new_trail == 0.05


def test_no_profit_tiers_without_initial_risk():
    assert check(position(initial_stop=100.0), price=300.0)[1] is None


@pytest.mark.parametrize("price", [math.nan, 0.0, -1.0, math.inf])
def test_a_bad_price_is_a_clear_error(price):
    with pytest.raises(ValueError, match="not a finite positive number"):
        check(price=price)


def test_invalid_position_state_and_policy_are_rejected():
    with pytest.raises(ValueError, match="quantity"):
        position(quantity=-5.0)
    with pytest.raises(ValueError, match="tier_trails"):
        ExitPolicy(tier_trails=(0.08, 0.07))
    with pytest.raises(ValueError, match="strictly rising"):
        ExitPolicy(profit_tiers=(1, 3, 2, 5, 8))


def test_open_position_uses_the_stop_or_one_trail_below_entry():
    with_stop = open_position("XOM", 10, 100.0, date(2015, 6, 1), stop=92.0, policy=POLICY)
    assert (with_stop.initial_stop, with_stop.peak, with_stop.trail_pct, with_stop.tiers_hit) == (92.0, 100.0, 0.10, 0)
    without = open_position("XOM", 10, 100.0, date(2015, 6, 1), stop=None, policy=POLICY)
    assert without.initial_stop == pytest.approx(90.0)


@settings(max_examples=300, deadline=None)
@given(st.floats(1, 1000), st.floats(0.01, 0.5), st.integers(0, 6), st.floats(0.5, 3.0),
       st.sampled_from(["calm_uptrend", "choppy", "high_vol_panic"]), st.none() | st.floats(0, 1))
def test_decisions_are_deterministic_and_well_formed(avg, trail, hit, move, regime, support):
    pos = position(avg_price=avg, initial_stop=avg * 0.9, peak=avg, trail_pct=trail, tiers_hit=hit)
    price = avg * move
    first, second = check(pos, price, regime, support), check(replace(pos), price, regime, support)
    assert first == second
    state, decision = first
    assert state.peak == max(pos.peak, price) and state.quantity == pos.quantity
    if decision is not None:
        assert 0 < decision.fraction <= 1 and (decision.kind == "exit") == (decision.fraction == 1.0)
        assert decision.new_trail <= pos.trail_pct and decision.new_tiers_hit >= pos.tiers_hit
