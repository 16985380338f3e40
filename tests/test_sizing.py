"""The sizing cascade: order, recorded factors, and conservative handling of unknown inputs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.sizing import cascade

ORDER = ["base", "volatility", "regime", "overlay", "disagreement", "expert", "risk_throttle"]


def size(**kw):
    args = dict(base_weight=0.20, asset_vol=0.25, target_vol=0.25, regime_modifier=1.0, overlay_multiplier=1.0,
                disagreement=0.0, expert_modifier=1.0, risk_throttle=1.0)
    args.update(kw)
    return cascade(**args)


def factor(factors, name):
    return next(f for f in factors if f.name == name)


def test_cascade_records_every_factor_in_order_and_the_weights_multiply_out():
    weight, factors = size(asset_vol=0.50, regime_modifier=0.8, overlay_multiplier=0.7, disagreement=0.2,
                           expert_modifier=0.9, risk_throttle=0.6)
    assert [f.name for f in factors] == ORDER
    running = 1.0
    for f in factors:
        running *= f.multiplier
        assert f.weight_after == pytest.approx(running)
        assert f.reason
    assert weight == pytest.approx(0.20 * 0.5 * 0.8 * 0.7 * 0.8 * 0.9 * 0.6)
    assert factors[-1].weight_after == weight


def test_neutral_inputs_keep_the_base_weight():
    weight, factors = size()
    assert weight == pytest.approx(0.20)
    assert all(f.multiplier == 1.0 for f in factors[1:])


def test_volatility_above_target_scales_by_target_over_vol():
    _, factors = size(asset_vol=0.40, target_vol=0.20)
    assert factor(factors, "volatility").multiplier == pytest.approx(0.5)


def test_volatility_below_target_never_enlarges():
    _, factors = size(asset_vol=0.05, target_vol=0.20)
    assert factor(factors, "volatility").multiplier == 1.0


@pytest.mark.parametrize("vol", [float("nan"), 0.0, -0.1, float("inf")])
def test_unknown_volatility_uses_a_conservative_half_and_says_why(vol):
    _, factors = size(asset_vol=vol)
    f = factor(factors, "volatility")
    assert f.multiplier == 0.5
    assert "conservative" in f.reason and "unknown" in f.reason


def test_invalid_target_volatility_uses_a_conservative_half():
    _, factors = size(target_vol=float("nan"))
    assert factor(factors, "volatility").multiplier == 0.5


def test_disagreement_cuts_by_one_minus_disagreement():
    _, factors = size(disagreement=0.3)
    assert factor(factors, "disagreement").multiplier == pytest.approx(0.7)


def test_disagreement_is_floored_at_a_quarter_while_support_remains():
    _, factors = size(disagreement=0.95)
    f = factor(factors, "disagreement")
    assert f.multiplier == 0.25 and "floored" in f.reason


def test_total_disagreement_leaves_no_position():
    weight, factors = size(disagreement=1.0)
    assert weight == 0 and factor(factors, "disagreement").multiplier == 0


@pytest.mark.parametrize("name, kwarg", [("regime", "regime_modifier"), ("overlay", "overlay_multiplier"),
                                         ("expert", "expert_modifier"), ("risk_throttle", "risk_throttle")])
def test_a_modifier_above_one_is_clamped_so_no_step_enlarges(name, kwarg):
    weight, factors = size(**{kwarg: 3.0})
    assert factor(factors, name).multiplier == 1.0 and "clamped" in factor(factors, name).reason
    assert weight == pytest.approx(0.20)


@pytest.mark.parametrize("kwarg", ["regime_modifier", "overlay_multiplier", "expert_modifier", "risk_throttle",
                                   "disagreement"])
def test_an_unknown_modifier_is_a_conservative_half(kwarg):
    weight, factors = size(**{kwarg: float("nan")})
    assert weight == pytest.approx(0.10)
    assert any("unknown" in f.reason for f in factors)


def test_a_negative_modifier_means_no_position():
    weight, _ = size(overlay_multiplier=-0.5)
    assert weight == 0


@pytest.mark.parametrize("base", [float("nan"), -0.2])
def test_an_invalid_base_weight_means_no_position(base):
    weight, factors = size(base_weight=base)
    assert weight == 0 and "invalid" in factors[0].reason


_any = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=300, deadline=None)
@given(_any, _any, _any, _any, _any, _any, _any, _any)
def test_cascade_never_enlarges_and_always_multiplies_out(base, vol, target, regime, overlay, dis, expert, throttle):
    weight, factors = cascade(base, vol, target, regime, overlay, dis, expert, throttle)
    assert math.isfinite(weight) and 0 <= weight <= 1
    if math.isfinite(base) and base >= 0:
        assert weight <= base
    assert math.prod(f.multiplier for f in factors) == pytest.approx(weight, abs=1e-15)
    assert all(0 <= f.multiplier <= 1 for f in factors)
