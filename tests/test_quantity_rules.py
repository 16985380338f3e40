"""Orders in broker units (issue 19 item 5): QuantityRules rounds, checks and prints quantities as brokers take them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brokers.base import WHOLE_SHARES, QuantityRules

quantities = st.floats(min_value=1e-6, max_value=1e7, allow_nan=False, allow_infinity=False)


def test_whole_shares_floor_drops_the_fraction_a_web_ticket_cannot_take() -> None:
    assert WHOLE_SHARES.floor(898.8360073704553) == 898.0
    assert WHOLE_SHARES.text(898.0) == "898" and WHOLE_SHARES.describe() == "whole shares"


def test_fractional_rules_keep_their_decimals_and_print_without_binary_noise() -> None:
    rules = QuantityRules(decimals=3)
    assert rules.floor(898.8360073704553) == 898.836 and rules.text(898.836) == "898.836"
    assert rules.text(0.5) == "0.5" and rules.ceil(0.1001) == 0.101
    assert rules.accepts(0.3) and not rules.accepts(0.3001)


def test_quantity_rules_read_a_quantity_as_the_decimal_it_prints_as() -> None:
    assert QuantityRules(decimals=1).floor(0.1 + 0.2) == 0.3  # 0.30000000000000004: 3 tenths, not 4
    assert WHOLE_SHARES.floor(2.9999999999999996) == 2.0  # just below a step never rounds up


def test_quantity_rules_refuse_an_order_below_the_minimum_notional_with_the_amounts() -> None:
    rules = QuantityRules(decimals=2, min_notional=1.0)
    assert rules.refusal(0.01, 50.0) == "order value 0.50 is below the broker's minimum of 1.00"
    assert rules.refusal(0.02, 50.0) is None
    assert rules.refusal(0.015, 50.0, whole_holding=True) is None


@pytest.mark.parametrize("bad", [{"decimals": -1}, {"decimals": 10}, {"min_notional": -1.0}])
def test_quantity_rules_reject_impossible_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        QuantityRules(**bad)


@given(q=quantities, decimals=st.integers(0, 9))
def test_floor_is_never_above_the_quantity_and_less_than_one_step_below(q: float, decimals: int) -> None:
    rules = QuantityRules(decimals=decimals)
    down = rules.floor(q)
    exact = Decimal(repr(q))
    assert Decimal(repr(down)) <= exact < Decimal(repr(down)) + rules.step
    assert down == 0 or rules.accepts(down)


@given(q=quantities, decimals=st.integers(0, 9))
def test_ceil_is_never_below_the_quantity_and_less_than_one_step_above(q: float, decimals: int) -> None:
    rules = QuantityRules(decimals=decimals)
    up = rules.ceil(q)
    assert Decimal(repr(q)) <= Decimal(repr(up)) < Decimal(repr(q)) + rules.step and rules.accepts(up)
