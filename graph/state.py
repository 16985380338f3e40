"""Graph state: identifiers and small typed results, never frames of market data."""

from __future__ import annotations

from datetime import date
from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from tools.freshness import Freshness
from tools.moonshot import MoonshotPick
from tools.trust import AgentRecord
from vocab.contracts import BookReview, Denial, Intent, Proposal, SizingFactor, Verdict, WeatherSnapshot, WeatherView
from vocab.terms import ExecutionStatus, ExitTrigger, Regime, Side, SizingTier, Track, VolState


class _Small(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Pick(_Small):
    """A symbol the master-picks layer scored, selected or not."""

    symbol: str
    score: float
    threshold: float
    selected: bool
    agents: list[str]
    proposal_keys: list[str] = Field(description="Proposal.key of every surviving buy behind the pick")
    dissent: float
    parts: dict[str, float]
    explanation: str
    price: float
    vol_21d: float | None
    ret_21d: float | None
    stop: float | None
    horizon_days: int
    target: float | None = None


class Sized(_Small):
    """An entry after the sizing cascade (before the risk reviewer and the hard rules)."""

    symbol: str
    weight: float
    price: float
    score: float
    stop: float | None
    factors: list[SizingFactor]
    verdicts: list[Verdict] = Field(default_factory=list)
    quantity: float = 0.0
    clipped_by: list[Denial] = Field(default_factory=list, description="hard rules that shrank (not blocked) it")
    tier: SizingTier | None = None
    gates: list[str] = Field(default_factory=list)
    track: Track = "main"


class ExitOrder(_Small):
    """A sell the exit rules decided for a holding (never blocked by the overlay or the hard rules)."""

    symbol: str
    kind: Literal["exit", "trim"]
    fraction: float
    quantity: float
    price: float
    trigger: ExitTrigger
    reason: str
    new_trail: float
    new_tiers_hit: int


class NightState(TypedDict, total=False):
    run_id: str
    as_of: date
    reference: date | None  # a live night: the calendar's last closed session its data is measured against
    freshness: Freshness  # the data's age in sessions against ``reference`` (history: against ``as_of``)
    stale: dict[str, str]
    weather: WeatherSnapshot
    view: WeatherView
    regime: Regime
    proposals: list[Proposal]
    verdicts: list[Verdict]
    threshold: float
    threshold_reason: str
    agent_records: dict[str, AgentRecord]
    agent_weights: dict[str, float]
    vol_state: VolState | None
    vol_state_reason: str
    picks: list[Pick]
    moonshots: list[MoonshotPick]
    exits: list[ExitOrder]
    marks: dict[str, float]  # holding -> the night's close (raises its peak when the intents are written)
    sized: list[Sized]
    review: BookReview
    intents: list[Intent]
    denials: dict[str, list[Denial]]  # symbol -> the rules (and reviewer) that blocked its entry
    flat_cause: str | None  # the rule that left the book with no exposure tonight (None when it holds something)


class Execution(_Small):
    """What happened to one intent in the morning."""

    intent_id: str
    symbol: str
    side: Side
    status: ExecutionStatus
    reason: str
    client_order_id: str | None = None
    quantity: float = 0.0
    price: float | None = None
    price_source: str | None = None


class Approval(_Small):
    """What became of the morning's entries at the approval step (``execution.require_approval``)."""

    decision: str  # approve | reject | expired | not_required | nothing_to_approve
    actor: str | None = None
    reason: str | None = None
    deadline: str | None = None
    entries: list[str] = Field(default_factory=list, description="the entries that were put to the operator")


class MorningState(TypedDict, total=False):
    run_id: str
    night_date: date
    session: date
    intent_ids: list[str]
    quotes: dict[str, float]
    quote_source: dict[str, str]
    accepted: list[str]
    results: list[Execution]
    approval: Approval
    equity: float
    cash: float
