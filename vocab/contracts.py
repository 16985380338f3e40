"""The typed records passed between the organs and the graph (their words are ``vocab.terms``).

``Proposal.key`` is the only key of a proposal; ``Verdict``, ``WeatherView`` and ``BookReview`` are what the
overlay providers answer and what the desk records (with their ``Provenance``); ``Intent`` carries its full reason
chain from night to morning. The enums are re-exported here because checkpoints written before the vocabulary
moved name them under this module (memory/checkpoint.py).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vocab.terms import (REGIME_ORDER, Action, AgentStyle, ExecutionStatus, IntentKind, Regime, RuleName, Side,
                         SizingTier, Track, VerdictDecision, VolState)

__all__ = ["REGIME_ORDER", "Action", "AgentStyle", "Regime", "SizingTier", "VolState", "Proposal", "SizingFactor",
           "Denial", "ASSET_FEATURES", "WEATHER_LAYERS", "LayerReading", "WeatherSnapshot", "Provenance",
           "WeatherView", "Verdict", "BookReview", "Intent", "Execution"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Proposal(_Frozen):
    """What one agent proposes for one symbol on one date."""

    symbol: str
    as_of: date
    action: Action
    strength: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)
    horizon_days: int = Field(ge=1)
    stop: float | None = Field(None, gt=0, description="protective stop price for an entry")
    target: float | None = Field(None, gt=0, description="price target for an entry, if the agent sets one")
    agent: str
    style: AgentStyle
    model_version: str
    inputs: dict[str, float] = Field(default_factory=dict, description="features and model outputs that produced it")
    rationale: str

    @property
    def key(self) -> str:
        return f"{self.as_of.isoformat()}:{self.agent}:{self.symbol}"


class SizingFactor(_Frozen):
    """One step of the sizing cascade: the multiplier applied and the weight after it."""

    name: str
    multiplier: float = Field(ge=0)
    weight_after: float = Field(ge=0)
    reason: str


class Denial(_Frozen):
    """A hard risk rule that blocked or clipped an order: which rule and why."""

    rule: RuleName
    reason: str


# Per-asset feature columns (tools/features.py computes them; models and agents read them by these names).
ASSET_FEATURES: tuple[str, ...] = (
    "close",
    "ret_1d", "ret_5d", "ret_21d", "ret_63d", "ret_126d", "ret_252d",
    "vol_21d", "vol_63d",            # annualised realised volatility of daily log returns
    "drawdown_252d",                 # close / rolling 252-session max close - 1 (<= 0)
    "trend_strength",                # 63-session slope of log close / its standard error (t-stat like)
    "rsi_14",                        # Wilder RSI, 0..100
    "bb_z_20",                       # (close - SMA20) / rolling std20
    "ema_cross",                     # (EMA12 - EMA26) / close
    "ema_cross_prev",                # ema_cross one session earlier
    "ema_trend",                     # (EMA50 - EMA200) / close
    "dist_sma200",                   # close / SMA200 - 1
    "rs_63d",                        # ret_63d minus the benchmark's ret_63d
)

WEATHER_LAYERS: tuple[str, ...] = ("macro", "volatility", "rotation", "correlation", "liquidity", "sentiment", "calendar")


class LayerReading(_Frozen):
    """One weather layer on one date; ``available`` False means no data, never an invented value."""

    state: str | None
    score: float | None = Field(None, ge=-1, le=1, description="+1 supportive / risk-on, -1 hostile / risk-off")
    available: bool
    source: str


class WeatherSnapshot(_Frozen):
    """The market's weather on one date: seven layers, expert signals and the fused regime."""

    as_of: date
    regime: Regime
    base_regime: Regime
    sizing_modifier: float = Field(ge=0, le=1)
    risk_throttle: float = Field(ge=0, le=1)
    layers: dict[str, LayerReading]
    experts: dict[str, float | bool | None]
    notes: list[str] = Field(default_factory=list)


class Provenance(_Frozen):
    """Who answered (provider, model, prompt version), at what cost, and whether it was a fallback."""

    provider: str
    model: str
    prompt_version: str
    latency_ms: float = Field(ge=0)
    tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0, description="what the call cost; 0 for rules and for an answer served from the "
                                                    "record")
    call_id: str | None = Field(None, description="the recorded exchange behind the answer (an LLM's), if any")
    replayed: bool = Field(False, description="served from the record, not asked again")
    fallback: bool = False
    fallback_reason: str | None = None


class WeatherView(_Frozen):
    """The weather analyst's reading: a narrative and a bounded regime nudge (at most one level)."""

    narrative: str
    regime_nudge: Literal[-1, 0, 1] = Field(0, description="+1 = one level more defensive, -1 = one level less")
    reason: str
    provenance: Provenance


class Verdict(_Frozen):
    """The overlay on one proposal: confirm, adjust (shrink/tighten) or veto, with a reason."""

    proposal_key: str
    decision: VerdictDecision
    size_multiplier: float = Field(1.0, ge=0, le=1)
    stop: float | None = Field(None, gt=0, description="a tighter stop, if adjusting")
    reason: str
    provenance: Provenance


class BookReview(_Frozen):
    """The risk reviewer on the whole book: per-symbol shrink or veto of new entries."""

    shrink: dict[str, float] = Field(default_factory=dict, description="symbol -> multiplier in [0, 1]")
    veto: dict[str, str] = Field(default_factory=dict, description="symbol -> reason")
    summary: str
    provenance: Provenance


class Intent(_Frozen):
    """A sized order written by the night graph for the morning graph, with its full reason chain."""

    intent_id: str
    as_of: date
    symbol: str
    side: Side
    kind: IntentKind
    target_weight: float = Field(ge=0, le=1)
    quantity: float = Field(gt=0)
    reference_price: float = Field(gt=0)
    stop: float | None = None
    score: float | None = None
    reasons: list[str] = Field(default_factory=list)
    sizing: list[SizingFactor] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    denials: list[Denial] = Field(default_factory=list)
    trail_pct: float | None = Field(None, gt=0, lt=1, description="trailing stop for the position after this order")
    tiers_hit: int | None = Field(None, ge=0, description="profit tiers taken after this order")
    tier: SizingTier | None = Field(None, description="the sizing cascade's tier for an entry")
    gates: list[str] = Field(default_factory=list, description="each gate of the tier choice and how it went")
    track: Track = "main"


class Execution(_Frozen):
    """What the morning did with one intent: its order's outcome, or why it was not sent."""

    intent_id: str
    symbol: str
    side: Side
    status: ExecutionStatus
    reason: str
    client_order_id: str | None = None
    quantity: float = 0.0
    price: float | None = None
    price_source: str | None = None
