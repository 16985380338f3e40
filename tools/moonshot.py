"""The moonshot track (TradeNova): asymmetric setups — reward-to-risk at least ``min_rr`` by the agent's target and
stop — that the main scoring ranks modestly (below the bar, but at least a share of it) get a small, capped
allocation of their own: ``per_trade`` each, never more than ``total_cap`` of equity for all moonshots together
(held ones included), and their own P&L line so they never blur the main figures.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

HARD_CAP = 0.02   # never above 2% of equity in all, whatever the configuration says


class MoonshotCandidate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    price: float = Field(gt=0)
    stop: float | None
    target: float | None
    score: float
    threshold: float
    selected: bool


class MoonshotPick(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    weight: float = Field(ge=0, le=HARD_CAP)
    reward_risk: float
    reason: str


def reward_risk(price: float, stop: float | None, target: float | None) -> float | None:
    """(target − price) / (price − stop), or None without a stop below and a target above the price."""
    if stop is None or target is None or not (stop < price < target):
        return None
    return (target - price) / (price - stop)


def allocate(candidates: Iterable[MoonshotCandidate], held_exposure: float, *, min_rr: float, min_score_share: float,
             per_trade: float, total_cap: float) -> list[MoonshotPick]:
    """Moonshot weights, best reward-to-risk first, until the cap (less what moonshots already hold) is spent."""
    cap = min(HARD_CAP, max(0.0, total_cap))
    room = max(0.0, cap - max(0.0, held_exposure))
    ranked = []
    for c in candidates:
        rr = reward_risk(c.price, c.stop, c.target)
        if c.selected or rr is None or rr < min_rr or c.score < min_score_share * c.threshold:
            continue
        ranked.append((rr, c))
    out = []
    for rr, c in sorted(ranked, key=lambda t: (-t[0], t[1].symbol)):
        w = min(max(0.0, per_trade), room)
        if w <= 0:
            break
        room -= w
        out.append(MoonshotPick(symbol=c.symbol, weight=w, reward_risk=rr,
                                reason=f"moonshot: reward/risk {rr:.1f} ≥ {min_rr:g} (target {c.target:.2f}, stop "
                                       f"{c.stop:.2f}); score {c.score:.0f} below the bar {c.threshold:.0f}; "
                                       f"{w:.2%} of equity, {cap - room:.2%} of the {cap:.0%} moonshot cap in use"))
    return out
