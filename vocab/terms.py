"""One type and one spelling per concept: the regimes, sides, statuses and rule names every floor shares.

Enums where an order or a member's name matters (``Regime`` is a ladder a nudge moves along); ``Literal``s where
the value is a plain word stored and compared as text (``Side``, the statuses, the rule names). A new spelling of
one of these anywhere else in the repository is a second vocabulary: import it from here instead.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class Regime(StrEnum):
    """The five market regimes, from most supportive to most hostile (the order is meaningful: a nudge moves
    one step along it, and every per-regime table is keyed by it)."""

    CALM_UPTREND = "calm_uptrend"
    RISK_ON_TREND = "risk_on_trend"
    CHOPPY = "choppy"
    RISK_OFF_TREND = "risk_off_trend"
    HIGH_VOL_PANIC = "high_vol_panic"


REGIME_ORDER: tuple[Regime, ...] = tuple(Regime)
REGIME_NAMES: tuple[str, ...] = tuple(r.value for r in Regime)   # the same ladder as plain text (frame columns)


class VolState(StrEnum):
    """The index's volatility state (the HMM's, models.vol_state), from calm to crisis."""

    BULL = "bull"
    NEUTRAL = "neutral"
    BEAR = "bear"
    CRISIS = "crisis"


VOL_STATE_NAMES: tuple[str, ...] = tuple(s.value for s in VolState)


class SizingTier(StrEnum):
    """The tiers of the sizing cascade (graph/nodes/sizing.py): who sizes an entry, from the RL sizer to flat."""

    FULL_RL = "FULL_RL"
    BLENDED = "BLENDED"
    PURE_KELLY = "PURE_KELLY"
    EMERGENCY_FLAT = "EMERGENCY_FLAT"
    FIXED = "FIXED"          # the fixed base weight (sizing.mode = fixed: the old desk, kept for comparison)


class AgentStyle(StrEnum):
    """What kind of signal an agent trades: the overlay's rules read this field, never the agent's name."""

    TREND = "trend"
    MEAN_REVERSION = "mean_reversion"
    DIRECTION = "direction"


class Action(StrEnum):
    """What an agent proposes for a symbol."""

    BUY_LONG = "BUY_LONG"
    SELL_SHORT = "SELL_SHORT"
    CLOSE_LONG = "CLOSE_LONG"
    CLOSE_SHORT = "CLOSE_SHORT"
    HOLD = "HOLD"


Side = Literal["buy", "sell"]
IntentKind = Literal["entry", "exit", "trim"]
Track = Literal["main", "moonshot"]
VerdictDecision = Literal["confirm", "adjust", "veto"]
ExitTrigger = Literal["trailing_stop", "regime_panic", "score_collapse", "health_collapse", "profit_tier"]

# An order as the broker reports it (brokers/base.py describes each state).
OrderState = Literal["accepted", "partially_filled", "filled", "rejected", "cancelled", "unknown"]
FINAL_ORDER_STATES: frozenset[str] = frozenset({"filled", "rejected", "cancelled"})
# An order as the store records it: ``submitting`` is written before the broker is asked (no order twice).
OrderRecordStatus = Literal["submitting", OrderState]
# An intent from the night it is written to the morning that settles it.
IntentStatus = Literal["pending", "superseded", "skipped", "vetoed", OrderState]
# What the morning did with one intent (graph.state.Execution); ``waiting``: an API broker cannot trade now.
ExecutionStatus = Literal["skipped", "vetoed", "already_done", "waiting", OrderState]
# A run's status in the store: ``interrupted`` and ``killed`` close a run whose process died (graph/runner.py).
# ``skipped``: a scheduled run that never started (its time was missed, or the book stayed busy), with the reason.
RunStatus = Literal["running", "ok", "error", "paused", "interrupted", "killed", "skipped"]
# What one trigger of the scheduler came to (memory/schedule.py): ``ran`` (finished ok), ``failed`` (a run ended in
# error, or could not start), ``skipped`` (it did not run: missed, or the book stayed busy past the grace), ``busy``
# (another process held the book: retried), ``paused`` (waits for an operator), ``done`` (the key had already run),
# ``deferred`` (too early: it fires again later), ``closed`` (not a session).
FireOutcome = Literal["ran", "failed", "skipped", "busy", "paused", "done", "deferred", "closed"]
# Why a scheduled run failed or was skipped, one class per cause (the /metrics label).
FailureClass = Literal["stale_data", "refused", "error", "missed", "busy"]
# A trained model version in the registry (models/promotion.py).
ModelStatus = Literal["candidate", "promoted", "rejected"]

# Every rule that can block or clip an entry (tools/risk.py, and the night's nodes that fail closed).
RuleName = Literal[
    "halted", "stale_data", "invalid", "already_held", "duplicate", "max_positions", "max_weight", "cash_reserve",
    "max_gross", "min_order", "no_verdict", "risk_reviewer", "emergency_flat", "broker_units",
    "zero_size",   # the sizing chain sized the entry to nothing; the reason names the factor (graph/nodes/sizing.py)
]
RULE_NAMES: tuple[str, ...] = get_args(RuleName)
