"""The hard risk rules have the last word (ARCHITECTURE.md: invariant 1): each rule by name, and a property over any
input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.risk import ApprovedEntry, BookView, EntryCandidate, RiskLimits, apply_hard_rules, check_exposure
from vocab.terms import REGIME_ORDER

RESERVES = {"calm_uptrend": 0.10, "risk_on_trend": 0.15, "choppy": 0.25, "risk_off_trend": 0.30, "high_vol_panic": 0.40}
LIMITS = RiskLimits(max_positions=8, max_weight=0.20, max_gross=1.0, min_order_value=250.0, cash_reserve=RESERVES)
CASH_BOOK = BookView(equity=100_000.0, cash=100_000.0, positions={})


def cand(symbol: str = "XOM", weight: float = 0.10, price: float = 50.0, score: float = 200.0) -> EntryCandidate:
    return EntryCandidate(symbol=symbol, weight=weight, price=price, score=score)


def run(candidates, book=CASH_BOOK, regime="calm_uptrend", limits=LIMITS, halted=False, halt_reason=None, stale=None):
    return apply_hard_rules(candidates, book, regime, limits, halted, halt_reason, stale or {})


def rules(denials) -> list[str]:
    return [d.rule for d in denials]


def test_a_clean_entry_is_approved_with_quantity_from_notional_and_price():
    approved, denied = run([cand(weight=0.10, price=40.0)])
    assert denied == {}
    assert approved == [ApprovedEntry(symbol="XOM", weight=0.10, quantity=250.0, notional=10_000.0, clipped_by=[])]


def test_halted_desk_denies_every_entry_with_the_halt_reason():
    approved, denied = run([cand("XOM"), cand("CVX")], halted=True, halt_reason="daily loss breaker: -3.1%")
    assert approved == []
    assert set(denied) == {"XOM", "CVX"}
    assert all(rules(d) == ["halted"] and "daily loss breaker" in d[0].reason for d in denied.values())


def test_all_data_stale_denies_every_entry():
    approved, denied = run([cand("XOM"), cand("CVX")], stale={"*": "latest bar is 6 days old"})
    assert approved == [] and all(rules(d) == ["stale_data"] and "6 days old" in d[0].reason for d in denied.values())


def test_stale_symbol_is_denied_and_others_pass():
    approved, denied = run([cand("XOM"), cand("CVX")], stale={"XOM": "no bar since 2015-05-20"})
    assert [a.symbol for a in approved] == ["CVX"]
    assert rules(denied["XOM"]) == ["stale_data"] and "2015-05-20" in denied["XOM"][0].reason


def test_already_held_symbol_is_denied_as_a_new_entry():
    book = BookView(equity=100_000.0, cash=90_000.0, positions={"XOM": 10_000.0})
    approved, denied = run([cand("XOM"), cand("CVX")], book=book)
    assert [a.symbol for a in approved] == ["CVX"] and rules(denied["XOM"]) == ["already_held"]


def test_max_positions_keeps_the_highest_scores():
    book = BookView(equity=100_000.0, cash=94_000.0, positions={f"H{i}": 1_000.0 for i in range(6)})
    candidates = [cand("LOW", score=150), cand("TOP", score=300), cand("MID", score=250), cand("NAN", score=math.nan)]
    approved, denied = run(candidates, book=book)
    assert sorted(a.symbol for a in approved) == ["MID", "TOP"]
    assert rules(denied["LOW"]) == ["max_positions"] and rules(denied["NAN"]) == ["max_positions"]
    assert "6 of 8" in denied["LOW"][0].reason


def test_weight_above_the_cap_is_clipped_and_the_clip_recorded():
    approved, _ = run([cand(weight=0.35)])
    assert approved[0].weight == pytest.approx(0.20) and approved[0].notional == pytest.approx(20_000)
    assert rules(approved[0].clipped_by) == ["max_weight"] and "clipped" in approved[0].clipped_by[0].reason


def test_cash_reserve_by_regime_scales_new_entries_pro_rata():
    book = BookView(equity=100_000.0, cash=40_000.0, positions={"H": 60_000.0})
    approved, _ = run([cand("A", weight=0.20), cand("B", weight=0.10)], book=book, regime="choppy")
    available = 40_000.0 - 0.25 * 100_000.0  # 15,000
    assert sum(a.notional for a in approved) == pytest.approx(available)
    by = {a.symbol: a for a in approved}
    assert by["A"].notional == pytest.approx(2 * by["B"].notional)  # pro rata
    assert rules(by["A"].clipped_by) == ["cash_reserve"] and "choppy" in by["A"].clipped_by[0].reason


def test_no_cash_above_the_reserve_denies_every_entry_for_cash_reserve():
    book = BookView(equity=100_000.0, cash=30_000.0, positions={"H": 70_000.0})
    approved, denied = run([cand("A")], book=book, regime="high_vol_panic")
    assert approved == [] and rules(denied["A"]) == ["cash_reserve"]


def test_gross_exposure_cap_scales_new_entries():
    limits = RiskLimits(max_positions=8, max_weight=0.2, max_gross=0.5, min_order_value=0.0, cash_reserve=RESERVES)
    book = BookView(equity=100_000.0, cash=60_000.0, positions={"H": 40_000.0})
    approved, _ = run([cand("A", weight=0.2)], book=book, limits=limits)
    assert approved[0].notional == pytest.approx(10_000)
    assert rules(approved[0].clipped_by) == ["max_gross"]


def test_order_below_the_minimum_value_is_denied_with_its_earlier_clips():
    book = BookView(equity=100_000.0, cash=10_200.0, positions={"H": 89_800.0})
    approved, denied = run([cand("A", weight=0.2)], book=book)  # 200 left above the 10% reserve
    assert approved == [] and rules(denied["A"]) == ["cash_reserve", "min_order"]


def test_zero_weight_is_denied_even_without_a_minimum_order_value():
    limits = RiskLimits(max_positions=8, max_weight=0.2, max_gross=1.0, min_order_value=0.0, cash_reserve=RESERVES)
    approved, denied = run([cand(weight=0.0)], limits=limits)
    assert approved == [] and rules(denied["XOM"]) == ["min_order"]


@pytest.mark.parametrize("weight, price", [(math.nan, 50.0), (-0.1, 50.0), (math.inf, 50.0), (0.1, math.nan),
                                           (0.1, 0.0), (0.1, -5.0), (0.1, math.inf)])
def test_non_finite_or_negative_weight_or_price_is_invalid(weight, price):
    approved, denied = run([cand(weight=weight, price=price), cand("CVX")])
    assert [a.symbol for a in approved] == ["CVX"] and rules(denied["XOM"]) == ["invalid"]


def test_a_price_so_small_the_quantity_overflows_is_invalid():
    approved, denied = run([cand(price=5e-324)])
    assert approved == [] and rules(denied["XOM"]) == ["invalid"] and "quantity" in denied["XOM"][0].reason


@pytest.mark.parametrize("book, regime", [
    (BookView(equity=math.nan, cash=1e5, positions={}), "choppy"),
    (BookView(equity=0.0, cash=1e5, positions={}), "choppy"),
    (BookView(equity=1e5, cash=1e5, positions={"H": math.nan}), "choppy"),
    (CASH_BOOK, "sunny"),
])
def test_a_book_or_regime_that_cannot_be_checked_fails_closed(book, regime):
    approved, denied = run([cand()], book=book, regime=regime)
    assert approved == [] and rules(denied["XOM"]) == ["invalid"] and "failing closed" in denied["XOM"][0].reason


def test_duplicate_candidates_keep_the_higher_score():
    approved, denied = run([cand("XOM", weight=0.05, score=100), cand("XOM", weight=0.10, score=200)])
    assert len(approved) == 1 and approved[0].weight == pytest.approx(0.10)
    assert rules(denied["XOM"]) == ["duplicate"]


def test_limits_reject_impossible_configuration():
    with pytest.raises(ValueError, match="max_weight"):
        RiskLimits(max_positions=8, max_weight=1.5, max_gross=1.0, min_order_value=0, cash_reserve=RESERVES)
    with pytest.raises(ValueError, match="cash_reserve"):
        RiskLimits(max_positions=8, max_weight=0.2, max_gross=1.0, min_order_value=0, cash_reserve={"choppy": 1.2})


# --- check_exposure ---------------------------------------------------------------------------------

def test_check_exposure_of_a_book_within_limits_is_empty():
    book = BookView(equity=100_000.0, cash=50_000.0, positions={"A": 20_000.0, "B": 30_000.0 * 0.5})
    assert check_exposure(book, LIMITS, "calm_uptrend") == []


def test_check_exposure_names_every_breach():
    positions = {f"S{i}": 10_000.0 for i in range(8)} | {"BIG": 30_000.0}
    book = BookView(equity=100_000.0, cash=-10_000.0, positions=positions)
    found = check_exposure(book, LIMITS, "choppy")
    assert sorted(rules(found)) == ["cash_reserve", "max_gross", "max_positions", "max_weight"]
    assert any("BIG" in d.reason for d in found)


def test_check_exposure_of_an_unreadable_book_says_invalid():
    assert rules(check_exposure(BookView(equity=-1.0, cash=0.0, positions={}), LIMITS, "choppy")) == ["invalid"]


# --- the invariant: nothing gets past the caps ------------------------------------------------------

_wild = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1e3, 1e3) | st.floats(0, 1)
_symbols = st.sampled_from([f"S{i}" for i in range(12)])
_candidates = st.lists(st.builds(EntryCandidate, symbol=_symbols, weight=_wild, price=_wild, score=_wild), max_size=15)
_money = st.floats(-1e3, 1e10) | st.sampled_from([math.nan, math.inf, 0.0, 1e-6])
_books = st.builds(BookView, equity=_money, cash=_money,
                   positions=st.dictionaries(_symbols, st.floats(-1e9, 1e9) | st.just(math.nan), max_size=10))
_limits = st.builds(RiskLimits, max_positions=st.integers(0, 10), max_weight=st.floats(0.01, 1.0),
                    max_gross=st.floats(0.1, 2.0), min_order_value=st.floats(0, 1e4),
                    cash_reserve=st.just(RESERVES))
_stale = st.dictionaries(_symbols | st.just("*"), st.just("old bar"), max_size=3)


@settings(max_examples=500, deadline=None)
@given(_candidates, _books, st.sampled_from([*REGIME_ORDER, "unknown"]), _limits, st.booleans(), _stale)
def test_no_input_can_get_an_entry_past_the_hard_caps(candidates, book, regime, limits, halted, stale):
    approved, denied = apply_hard_rules(candidates, book, regime, limits, halted, "test halt", stale)
    assert {c.symbol for c in candidates} == {a.symbol for a in approved} | set(denied)  # each one answered
    assert all(d.rule and d.reason for ds in denied.values() for d in ds)
    if halted or "*" in stale:
        assert approved == []
    if not approved:
        return
    held = {s for s, v in book.positions.items() if v != 0}
    assert len(held) + len(approved) <= limits.max_positions
    assert len({a.symbol for a in approved}) == len(approved) and not held & {a.symbol for a in approved}
    assert all(0 <= a.weight <= limits.max_weight for a in approved)
    assert all(a.notional > 0 and a.notional >= limits.min_order_value for a in approved)
    new = sum(a.notional for a in approved)
    assert new <= book.cash - limits.cash_reserve[regime] * book.equity
    assert sum(abs(v) for v in book.positions.values()) + new <= limits.max_gross * book.equity
    assert all(s not in stale for s in (a.symbol for a in approved))
    assert all(math.isfinite(a.quantity) and a.quantity > 0 for a in approved)
