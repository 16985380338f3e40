"""The sizing cascade (TraderBot's "layered position sizing"; ARCHITECTURE.md: reference systems): every step only
shrinks, and every step is recorded.

base weight → volatility → regime → overlay → disagreement → expert modifier → risk throttle.

Each factor is a multiplier in [0, 1]. A value above 1 is clamped to 1 (no stage may enlarge a position;
the hard risk rules clip again afterwards). A value that is unknown (NaN, infinite, or an impossible
volatility) becomes a conservative 0.5, and the reason says so: an unknown input is never read as "no change".
The weather (regime, fusion gates, risk throttle) enters once, by default (``weather_share``). After the cascade,
the night's entries are scaled together to the book's risk budget (tools.budget), the one step that may enlarge;
the hard rules have the last word after it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from vocab.contracts import SizingFactor

CONSERVATIVE = 0.5       # multiplier used when a factor's input is unknown
DISAGREEMENT_FLOOR = 0.25  # while any support remains, disagreement alone cannot cut below this


def _finite(x: float) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _modifier(name: str, value: float, what: str) -> tuple[float, str]:
    """A plain [0, 1] multiplier: clamp and explain, or 0.5 when unknown."""
    if not _finite(value):
        return CONSERVATIVE, f"{what} unknown ({value!r}): conservative {CONSERVATIVE}"
    v = float(value)
    if v > 1.0:
        return 1.0, f"{what} {v:.3g} clamped to 1: the {name} step may only shrink"
    if v < 0.0:
        return 0.0, f"{what} {v:.3g} is negative: treated as 0 (no position)"
    return v, f"{what} {v:.3g}"


def _volatility(asset_vol: float, target_vol: float) -> tuple[float, str]:
    if not _finite(asset_vol) or float(asset_vol) <= 0:
        return CONSERVATIVE, (f"asset volatility unknown or impossible ({asset_vol!r}): conservative {CONSERVATIVE}"
                              " rather than assuming it is low")
    if not _finite(target_vol) or float(target_vol) <= 0:
        return CONSERVATIVE, f"target volatility invalid ({target_vol!r}): conservative {CONSERVATIVE}"
    m = min(1.0, float(target_vol) / float(asset_vol))
    if m == 1.0:
        return m, f"volatility {asset_vol:.1%} at or below target {target_vol:.1%}: no cut"
    return m, f"volatility {asset_vol:.1%} above target {target_vol:.1%}: scale by target/vol"


def _disagreement(disagreement: float) -> tuple[float, str]:
    if not _finite(disagreement):
        return CONSERVATIVE, f"disagreement unknown ({disagreement!r}): conservative {CONSERVATIVE}"
    d = min(1.0, max(0.0, float(disagreement)))
    if d >= 1.0:
        return 0.0, f"disagreement {d:.2f}: no support remains"
    m = max(DISAGREEMENT_FLOOR, 1.0 - d)
    floored = " (floored: some support remains)" if m > 1.0 - d else ""
    return m, f"disagreement {d:.2f}: 1 − disagreement{floored}"


def _base(base_weight: float) -> tuple[float, str]:
    if not _finite(base_weight) or float(base_weight) < 0:
        return 0.0, f"base weight invalid ({base_weight!r}): no position"
    b = float(base_weight)
    if b > 1.0:
        return 1.0, f"base weight {b:.3g} clamped to 100% of equity"
    return b, f"base weight {b:.1%} of equity"


WeatherMode = Literal["once", "compound"]


def weather_share(mode: WeatherMode, regime: str, regime_size: float, expert: float,
                  throttle: float) -> tuple[float, float, float, dict[str, str]]:
    """The weather's say in a size: (regime, expert, throttle) multipliers and what each row adds to its reason.

    ``once`` (the default): the regime, the fusion's caution gates (``expert``: fragility, entropy shift, the
    ensemble's disagreement) and the risk throttle read one fear — a hostile market — so it shapes the size once,
    in the ``regime`` factor, at the most cautious of the three readings; the other two rows multiply by 1 and say
    where they went. ``compound``: each multiplies on its own (the desk before issue 18).
    An unknown reading counts as the conservative half, as every other factor does.
    """
    def known(x: float) -> float:
        return float(x) if _finite(x) else CONSERVATIVE

    if mode == "compound":
        return regime_size, expert, throttle, {}
    readings = {f"regime {regime}": known(regime_size), "fusion gates": known(expert), "risk throttle": known(throttle)}
    share = min(1.0, max(0.0, min(readings.values())))
    which = min(readings, key=lambda k: readings[k])
    parts = ", ".join(f"{k} {v:.2f}" for k, v in readings.items())
    here = "in the regime factor (sizing.weather = once: the weather shapes a size once)"
    return share, 1.0, 1.0, {"regime": f"the weather's one factor, the most cautious of {parts}: {which}",
                             "expert": here, "risk_throttle": here}


def cascade(base_weight: float, asset_vol: float, target_vol: float, regime_modifier: float,
            overlay_multiplier: float, disagreement: float, expert_modifier: float,
            risk_throttle: float, tier: tuple[str, float, str] | None = None,
            vol_source: str = "asset volatility",
            notes: Mapping[str, str] | None = None) -> tuple[float, list[SizingFactor]]:
    """Size one entry. Returns the final weight (share of equity) and every factor in order.

    The first factor, ``base``, records the base weight as its multiplier (starting from 1), so the
    product of all multipliers is the final weight and each ``weight_after`` is the previous one times
    its multiplier. ``tier`` (name, share of the base weight, reason), when given, is the four-tier cascade's step
    right after the base (tools.tiers); ``vol_source`` names what the volatility step read (a GARCH forecast or
    the realised 21-session volatility); ``notes`` adds a sentence to a named factor's reason (``weather_share``).
    """
    steps: list[tuple[str, tuple[float, str]]] = [("base", _base(base_weight))]
    if tier is not None:
        name, share, why = tier
        m, text = _modifier("tier", share, f"{name}: share of the base weight")
        steps.append(("tier", (m, f"{text} — {why}")))
    vol_m, vol_why = _volatility(asset_vol, target_vol)
    steps += [
        ("volatility", (vol_m, f"{vol_source}: {vol_why}" if tier is not None else vol_why)),
        ("regime", _modifier("regime", regime_modifier, "regime sizing modifier")),
        ("overlay", _modifier("overlay", overlay_multiplier, "overlay size multiplier")),
        ("disagreement", _disagreement(disagreement)),
        ("expert", _modifier("expert", expert_modifier, "expert signal modifier")),
        ("risk_throttle", _modifier("risk throttle", risk_throttle, "risk throttle")),
    ]
    weight = 1.0
    factors: list[SizingFactor] = []
    for name, (multiplier, reason) in steps:
        if notes and name in notes:
            reason = f"{reason} — {notes[name]}"
        weight *= multiplier
        factors.append(SizingFactor(name=name, multiplier=multiplier, weight_after=weight, reason=reason))
    return weight, factors
