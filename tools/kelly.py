"""Kelly sizing (Trade-Matrix's regime-adaptive Kelly): the full Kelly fraction of a bet from a calibrated win
probability and payoff, a share of it by the index's volatility state, each step with its reason.

Full Kelly for a bet that wins ``b`` times what it risks with probability ``p`` is f* = p − (1 − p) / b (Kelly 1956);
no edge (f* ≤ 0) is no bet. The win probability is a Beta posterior mean: ``prior_strength`` pseudo-picks at the
prior's mean plus the agent's resolved picks. The prior (``sizing.kelly_prior``):

- ``no_edge`` (the default): the prior mean is the break-even probability for the payoff, 1 / (1 + b), so an agent
  with no record has f* = 0 exactly and only its resolved picks can show an edge;
- ``confidence``: the prior mean is the agent's stated confidence (the desk before issue 18: an agent stating
  confidence 1.0 read "p 1.00 over 0 resolved → f* 1.000", a certain win from no record).

The payoff starts at 1:1 and moves to the agent's realised mean win over mean loss with the same pseudo-count.

Kelly is a *modifier* of the budget's size, not the size (``kelly_share``): the share of the base weight is
``floor + (1 − floor) · min(1, Kelly weight / base weight)``, so a desk with no record (f* = 0) trades at the floor
and evidence of an edge raises it to the full base weight; no Kelly reading alone can lock the book at zero.
``sizing.kelly_floor = 0`` is the old pure Kelly tier (f* = 0 sizes 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vocab.terms import VolState

KellyPrior = Literal["no_edge", "confidence"]


class KellyInputs(BaseModel):
    """What one proposal's Kelly fraction was computed from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    p_win: float = Field(ge=0, le=1)
    payoff: float = Field(gt=0)
    resolved: int = Field(ge=0, description="resolved picks behind the calibration")
    full_kelly: float = Field(ge=0, le=1)
    prior_p: float = Field(ge=0, le=1, description="the prior's mean win probability")


def full_kelly(p_win: float, payoff: float) -> float:
    """p − (1 − p) / b, floored at 0 (no edge, no bet) and capped at 1 (never more than the equity)."""
    if not (math.isfinite(p_win) and math.isfinite(payoff)) or payoff <= 0:
        return 0.0
    return min(1.0, max(0.0, p_win - (1.0 - p_win) / payoff))


def break_even(payoff: float) -> float:
    """The win probability at which a bet paying ``payoff``:1 has no edge: 1 / (1 + b)."""
    return 1.0 / (1.0 + payoff)


def calibrated(confidence: float, wins: int, resolved: int, mean_win: float | None, mean_loss: float | None,
               prior_strength: float, prior: KellyPrior = "no_edge") -> KellyInputs:
    """The Beta posterior mean of the win rate and the shrunk payoff (see the module docstring for the prior)."""
    n0 = prior_strength
    empirical = mean_win / mean_loss if mean_win and mean_loss and mean_loss > 0 else None
    b = (n0 * 1.0 + resolved * empirical) / (n0 + resolved) if empirical else 1.0
    p0 = break_even(b) if prior == "no_edge" else min(1.0, max(0.0, confidence))
    p = (n0 * p0 + wins) / (n0 + resolved)
    return KellyInputs(p_win=min(1.0, max(0.0, p)), payoff=b, resolved=resolved, full_kelly=full_kelly(p, b),
                       prior_p=p0)


def kelly_share(kelly_weight: float, base: float, floor: float) -> tuple[float, str]:
    """The share of the base weight Kelly gives: ``floor + (1 − floor) · min(1, kelly_weight / base)``."""
    k = min(1.0, max(0.0, kelly_weight / base)) if base > 0 and math.isfinite(kelly_weight) else 0.0
    share = floor + (1.0 - floor) * k
    if floor <= 0:
        return share, f"pure Kelly: min(1, {kelly_weight:.2%} / base {base:.0%}) = {k:.3f}"
    return share, (f"Kelly modifier: floor {floor:.2f} + {1 - floor:.2f} × min(1, {kelly_weight:.2%} / base "
                   f"{base:.0%}) = {share:.3f}")


def state_fraction(state: VolState | None, fractions: Mapping[VolState, float], unknown: float) -> tuple[float, str]:
    """The share of full Kelly for the night's volatility state; an unknown state takes the cautious ``unknown``."""
    if state is None:
        return unknown, f"volatility state unknown: {unknown:.0%} of full Kelly (cautious)"
    return fractions[state], f"volatility state {state}: {fractions[state]:.0%} of full Kelly"
