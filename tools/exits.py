"""Exits for a long holding: trailing / initial stop, regime panic, score collapse, and the 5-tier profit cascade.

Master Picks' "5-tier profit cascade" (trims at 1R, 2R, 3R, 5R, 8R, each tightening the trail) and TraderBot's
"sell triggers" (10% trailing stop, health collapse, regime panic; ARCHITECTURE.md: reference systems). Pure and
deterministic: the same state, price and inputs always give the same decision. Exits are never blocked by the hard
entry rules.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from vocab.terms import ExitTrigger

MAX_TRIM = 0.9  # one trim never sells more than this share: the runner stays on for the tail

Trigger = ExitTrigger


def _in(x: float, lo: float, hi: float, lo_open: bool = True, hi_open: bool = True) -> bool:
    try:
        ok = math.isfinite(x)
    except TypeError:
        return False
    return ok and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)


def stop_level(initial_stop: float, peak: float, trail_pct: float, trailing: bool = True) -> float:
    """The price at or below which a long holding is exited: its initial stop or its trailing stop, the higher
    (the initial stop alone when stops do not trail: ``risk.trailing_exits`` off)."""
    return max(initial_stop, peak * (1 - trail_pct)) if trailing else initial_stop


@dataclass(frozen=True)
class PositionState:
    symbol: str
    quantity: float
    avg_price: float
    entry_date: date
    initial_stop: float
    peak: float
    trail_pct: float
    tiers_hit: int

    def __post_init__(self) -> None:
        checks = {
            "quantity": _in(self.quantity, 0, math.inf),
            "avg_price": _in(self.avg_price, 0, math.inf),
            "initial_stop": _in(self.initial_stop, 0, math.inf, lo_open=False),
            "peak": _in(self.peak, 0, math.inf),
            "trail_pct": _in(self.trail_pct, 0, 1),
            "tiers_hit": isinstance(self.tiers_hit, numbers.Integral) and self.tiers_hit >= 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"{self.symbol}: invalid position state ({', '.join(f'{k}={getattr(self, k)!r}' for k in bad)});"
                             " long positions only, prices > 0, trail in (0, 1)")

    @property
    def stop(self) -> float:
        return stop_level(self.initial_stop, self.peak, self.trail_pct)


@dataclass(frozen=True)
class ExitPolicy:
    trailing_stop: float = 0.10
    profit_tiers: tuple[float, ...] = (1, 2, 3, 5, 8)
    tier_exit_fraction: float = 0.2
    tier_trails: tuple[float, ...] = (0.08, 0.07, 0.06, 0.05, 0.04)
    score_collapse: float = 0.25
    health_collapse: float = 0.35  # TraderBot sells a holding whose asset-health score falls below 0.35
    trailing: bool = True  # off: the stop stays the initial stop (no trailing exits; an ablation)

    def __post_init__(self) -> None:
        tiers = tuple(self.profit_tiers)
        problems = []
        if not _in(self.trailing_stop, 0, 1):
            problems.append(f"trailing_stop {self.trailing_stop!r} not in (0, 1)")
        if not all(_in(t, 0, math.inf) for t in tiers) or any(b <= a for a, b in itertools.pairwise(tiers)):
            problems.append(f"profit_tiers {tiers!r} must be positive and strictly rising")
        if len(self.tier_trails) != len(tiers) or not all(_in(t, 0, 1) for t in self.tier_trails):
            problems.append(f"tier_trails {self.tier_trails!r} need one value in (0, 1) per profit tier")
        if not _in(self.tier_exit_fraction, 0, 1, hi_open=False):
            problems.append(f"tier_exit_fraction {self.tier_exit_fraction!r} not in (0, 1]")
        if not _in(self.score_collapse, 0, 1, lo_open=False, hi_open=False):
            problems.append(f"score_collapse {self.score_collapse!r} not in [0, 1]")
        if problems:
            raise ValueError("invalid exit policy: " + "; ".join(problems))


@dataclass(frozen=True)
class ExitDecision:
    symbol: str
    kind: Literal["exit", "trim"]
    fraction: float  # of the current quantity, in (0, 1]
    reason: str
    trigger: Trigger
    new_peak: float
    new_trail: float
    new_tiers_hit: int


def open_position(symbol: str, quantity: float, price: float, entry_date: date, stop: float | None,
                  policy: ExitPolicy) -> PositionState:
    """The exit state of a new holding: peak = entry price, trail from the policy, the stop or one trail below."""
    initial = stop if stop is not None and _in(stop, 0, price) else price * (1 - policy.trailing_stop)
    return PositionState(symbol=symbol, quantity=quantity, avg_price=price, entry_date=entry_date,
                         initial_stop=initial, peak=price, trail_pct=policy.trailing_stop, tiers_hit=0)


def update_and_check(pos: PositionState, price: float, regime: str, support: float | None,
                     policy: ExitPolicy, health: float | None = None) -> tuple[PositionState, ExitDecision | None]:
    """Update the peak and decide: full exit (stop, panic, collapse) or a profit-tier trim, else nothing.

    The returned state carries the new peak (and, on a trim, the tighter trail and tiers hit); the
    quantity is left to the fills. Raises ValueError on a price that is not a finite positive number.
    """
    if not _in(price, 0, math.inf):
        raise ValueError(f"{pos.symbol}: price {price!r} is not a finite positive number; exits not evaluated")
    peak = max(pos.peak, price)
    state = replace(pos, peak=peak)

    def exit_(trigger: Trigger, reason: str) -> tuple[PositionState, ExitDecision]:
        return state, ExitDecision(symbol=pos.symbol, kind="exit", fraction=1.0, reason=reason, trigger=trigger,
                                   new_peak=peak, new_trail=pos.trail_pct, new_tiers_hit=pos.tiers_hit)

    if price <= stop_level(pos.initial_stop, peak, pos.trail_pct, policy.trailing):
        if price <= pos.initial_stop:
            return exit_("trailing_stop", f"price {price:.2f} at or below the initial stop {pos.initial_stop:.2f}")
        return exit_("trailing_stop", f"price {price:.2f} at or below the trailing stop {state.stop:.2f}"
                                      f" ({pos.trail_pct:.0%} below the peak {peak:.2f})")
    if regime == "high_vol_panic":
        return exit_("regime_panic", "regime is high_vol_panic: equities are sold in a panic")
    if support is not None and _in(support, -math.inf, math.inf) and support < policy.score_collapse:
        return exit_("score_collapse", f"agent support for holding {support:.2f} fell below {policy.score_collapse:.2f}")
    if health is not None and _in(health, -math.inf, math.inf) and health < policy.health_collapse:
        return exit_("health_collapse", f"asset health {health:.2f} fell below {policy.health_collapse:.2f}")

    risk = pos.avg_price - pos.initial_stop
    if risk <= 0:
        return state, None  # no initial risk (stop at or above entry): R-multiples are undefined
    tiers = policy.profit_tiers
    crossed = [k for k in range(pos.tiers_hit, len(tiers)) if price >= pos.avg_price + tiers[k] * risk]
    if not crossed:
        return state, None
    fraction = min(MAX_TRIM, 1.0 - (1.0 - policy.tier_exit_fraction) ** len(crossed))
    new_trail = min(pos.trail_pct, policy.tier_trails[crossed[-1]])
    new_hit = crossed[-1] + 1
    labels = ", ".join(f"{tiers[k]:g}R ({pos.avg_price + tiers[k] * risk:.2f})" for k in crossed)
    reason = (f"price {price:.2f} crossed profit tier(s) {labels} with R = {risk:.2f}: trim {fraction:.0%} of the"
              f" position, trail {pos.trail_pct:.0%} → {new_trail:.0%}")
    state = replace(state, trail_pct=new_trail, tiers_hit=new_hit)
    return state, ExitDecision(symbol=pos.symbol, kind="trim", fraction=fraction, reason=reason,
                               trigger="profit_tier", new_peak=peak, new_trail=new_trail, new_tiers_hit=new_hit)
