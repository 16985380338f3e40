"""Kelly sizing (Trade-Matrix's regime-adaptive Kelly): the full Kelly fraction of a bet from a calibrated win
probability and payoff, a share of it by the index's volatility state, each step with its reason.

Full Kelly for a bet that wins ``b`` times what it risks with probability ``p`` is f* = p − (1 − p) / b (Kelly 1956);
no edge (f* ≤ 0) is no bet. The win probability is calibrated: the agent's stated confidence counts as
``prior_strength`` pseudo-picks and its resolved picks are added (a Beta posterior mean); the payoff likewise starts
at 1:1 and moves to the agent's realised mean win over mean loss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from tools.contracts import VolState


class KellyInputs(BaseModel):
    """What one proposal's Kelly fraction was computed from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    p_win: float = Field(ge=0, le=1)
    payoff: float = Field(gt=0)
    resolved: int = Field(ge=0, description="resolved picks behind the calibration")
    full_kelly: float = Field(ge=0, le=1)


def full_kelly(p_win: float, payoff: float) -> float:
    """p − (1 − p) / b, floored at 0 (no edge, no bet) and capped at 1 (never more than the equity)."""
    if not (math.isfinite(p_win) and math.isfinite(payoff)) or payoff <= 0:
        return 0.0
    return min(1.0, max(0.0, p_win - (1.0 - p_win) / payoff))


def calibrated(confidence: float, wins: int, resolved: int, mean_win: float | None, mean_loss: float | None,
               prior_strength: float) -> KellyInputs:
    """The Beta posterior mean of the win rate (prior mean = the stated confidence) and the shrunk payoff."""
    n0 = prior_strength
    p = (n0 * confidence + wins) / (n0 + resolved)
    empirical = mean_win / mean_loss if mean_win and mean_loss and mean_loss > 0 else None
    b = (n0 * 1.0 + resolved * empirical) / (n0 + resolved) if empirical else 1.0
    return KellyInputs(p_win=min(1.0, max(0.0, p)), payoff=b, resolved=resolved, full_kelly=full_kelly(p, b))


def state_fraction(state: VolState | None, fractions: Mapping[VolState, float], unknown: float) -> tuple[float, str]:
    """The share of full Kelly for the night's volatility state; an unknown state takes the cautious ``unknown``."""
    if state is None:
        return unknown, f"volatility state unknown: {unknown:.0%} of full Kelly (cautious)"
    return fractions[state], f"volatility state {state}: {fractions[state]:.0%} of full Kelly"
