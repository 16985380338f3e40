"""Orders in broker units (issue 19 item 5): an entry rounds down to what its broker accepts, a partial sell rounds
up, never past the holding; the rounding is a factor of its own in the reason chain, and a night's intents at the
paper broker are whole shares."""

from __future__ import annotations

from datetime import date

import pytest

from brokers.base import WHOLE_SHARES, QuantityRules
from graph.nodes import intents
from graph.state import ExitOrder
from tests import kit
from tools.units import entry_in_units, sell_in_units


def test_entry_rounds_down_to_whole_shares_with_a_broker_units_factor() -> None:
    got = entry_in_units(898.8360073704553, 0.18, 20.0, WHOLE_SHARES, 250.0)
    assert got.quantity == 898 and got.denial is None
    assert got.factor.name == "broker_units" and got.factor.multiplier == pytest.approx(898 / 898.8360073704553)
    assert got.weight == pytest.approx(0.18 * 898 / 898.8360073704553) and got.weight < 0.18
    assert "898.8360 rounded down to 898 shares (whole shares at the broker)" == got.factor.reason


def test_entry_already_in_units_adds_no_factor() -> None:
    got = entry_in_units(12.0, 0.05, 100.0, WHOLE_SHARES, 250.0)
    assert (got.quantity, got.weight, got.factor, got.denial) == (12.0, 0.05, None, None)


def test_entry_below_one_share_is_denied_by_the_broker_units_rule() -> None:
    got = entry_in_units(0.7, 0.004, 900.0, WHOLE_SHARES, 0.0)
    assert got.quantity == 0 and got.denial.rule == "broker_units" and "round down to none" in got.denial.reason


def test_entry_that_rounds_below_the_desks_minimum_order_is_denied_by_min_order() -> None:
    got = entry_in_units(2.9, 0.003, 100.0, WHOLE_SHARES, 250.0)  # 290 asked, 200 in whole shares
    assert got.denial.rule == "min_order" and "200.00 (2 shares" in got.denial.reason


def test_entry_below_the_brokers_minimum_notional_is_denied_with_the_broker_units_rule() -> None:
    got = entry_in_units(0.0123, 0.00001, 50.0, QuantityRules(decimals=2, min_notional=1.0), 0.0)
    assert got.denial.rule == "broker_units" and "below the broker's minimum of 1.00" in got.denial.reason


def test_fractional_broker_keeps_its_decimals() -> None:
    got = entry_in_units(898.8360073704553, 0.18, 20.0, QuantityRules(decimals=3), 250.0)
    assert got.quantity == 898.836 and "898.836 shares" in got.factor.reason


def test_partial_sell_rounds_up_toward_less_exposure_and_never_past_the_holding() -> None:
    assert sell_in_units(179.6, 898.0, WHOLE_SHARES).quantity == 180
    assert sell_in_units(179.6, 898.0, WHOLE_SHARES).note.startswith("broker units: 179.6000 rounded up to 180")
    assert sell_in_units(2.4, 2.5, WHOLE_SHARES).quantity == 2.5  # the ceiling would pass the holding: sell it all
    assert sell_in_units(3.0, 10.0, WHOLE_SHARES).note is None


def test_sell_of_the_whole_holding_keeps_its_quantity_whatever_the_units() -> None:
    assert sell_in_units(2.5, 2.5, WHOLE_SHARES) == sell_in_units(2.5, 2.5, WHOLE_SHARES).__class__(2.5)


def test_night_writes_a_trim_in_whole_shares_with_the_rounding_in_its_reasons(home) -> None:
    d = kit.desk(home)
    kit.hold(d, "XOM", 898.0, 80.0, stop=70.0, peak=90.0)
    day = date(2017, 6, 1)
    trim = ExitOrder(symbol="XOM", kind="trim", fraction=0.2, quantity=179.6, price=90.0, trigger="profit_tier",
                     reason="1R reached", new_trail=0.08, new_tiers_hit=1)
    out = intents.write_intents({"run_id": "t", "as_of": day, "picks": [], "proposals": [], "sized": [],
                                 "exits": [trim], "regime": "calm_uptrend", "marks": {}}, kit.runtime(d))
    (it,) = out["intents"]
    assert it.quantity == 180 and any("rounded up to 180" in r for r in it.reasons)
    assert d.store.intent(it.intent_id) is not None


def test_desk_why_shows_the_rounding_to_whole_shares_as_its_own_factor(home, capsys) -> None:
    kit.desk(home).night(date(2017, 3, 1))
    store = kit.desk(home).store
    buys = [r for r in store.intents(as_of=date(2017, 3, 1)) if r.side == "buy"]
    assert buys and all(float(r.quantity).is_integer() for r in buys)  # whole shares at the paper broker
    code, out, err = kit.run_cli(capsys, "why", buys[0].intent_id)
    assert code == 0, err
    [line] = [ln for ln in out.splitlines() if "broker_units" in ln]
    assert "rounded down to" in line and "shares (whole shares at the broker)" in " ".join(out.split())
