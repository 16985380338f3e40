"""Graph state: identifiers and small typed results, never frames of market data.

Each state says which keys a run starts with (``Required``: what the runner hands in) and which a node adds
(``NotRequired``: read them with ``.get`` until the node that writes them has run). A key several nodes add to
carries its reducer: a node returns only what it adds (its own denials, its own executions), and LangGraph merges
it into the state, once, when the node's update is committed.
"""

# No ``from __future__ import annotations`` here: TypedDict reads Required/NotRequired when the class is made, so
# the annotations must be real types for ``__required_keys__`` to say what a run starts with.
import operator
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Literal, NotRequired, Required, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from tools.freshness import Freshness
from tools.moonshot import MoonshotPick
from tools.trust import AgentRecord
from vocab.contracts import (BookReview, Denial, Execution, Intent, Proposal, SizingFactor, Verdict, WeatherSnapshot,
                             WeatherView)
from vocab.terms import ExitTrigger, Regime, SizingTier, Track, VolState

# Execution moved to vocab.contracts; it is named here still for checkpoints written before (memory/checkpoint.py).
__all__ = ["Approval", "Execution", "ExitOrder", "MorningState", "NightState", "Pick", "Sized", "merge_denials"]


def merge_denials(old: Mapping[str, Sequence[Denial]] | None,
                  new: Mapping[str, Sequence[Denial]] | None) -> dict[str, list[Denial]]:
    """The denials reducer: each symbol keeps every rule that blocked or clipped it, in the order the nodes ran."""
    merged = {sym: list(ds) for sym, ds in (old or {}).items()}
    for sym, ds in (new or {}).items():
        merged[sym] = [*merged.get(sym, []), *ds]
    return merged


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
    run_id: Required[str]
    as_of: Required[date]
    reference: NotRequired[date | None]  # a live night: the calendar's last closed session its data is measured by
    freshness: NotRequired[Freshness]  # the data's age in sessions against ``reference`` (history: against ``as_of``)
    stale: NotRequired[dict[str, str]]
    weather: NotRequired[WeatherSnapshot]
    view: NotRequired[WeatherView]
    regime: NotRequired[Regime]
    proposals: NotRequired[list[Proposal]]
    verdicts: NotRequired[list[Verdict]]
    threshold: NotRequired[float]
    threshold_reason: NotRequired[str]
    agent_records: NotRequired[dict[str, AgentRecord]]
    agent_weights: NotRequired[dict[str, float]]
    vol_state: NotRequired[VolState | None]
    vol_state_reason: NotRequired[str]
    picks: NotRequired[list[Pick]]
    moonshots: NotRequired[list[MoonshotPick]]
    exits: NotRequired[list[ExitOrder]]
    marks: NotRequired[dict[str, float]]  # holding -> the night's close (raises its peak when the intents are written)
    sized: NotRequired[list[Sized]]
    review: NotRequired[BookReview]
    intents: NotRequired[list[Intent]]
    # symbol -> the rules (and the reviewer) that blocked its entry; picks, sizing, the reviewer and the hard rules
    # each return only their own
    denials: NotRequired[Annotated[dict[str, list[Denial]], merge_denials]]
    flat_cause: NotRequired[str | None]  # the rule that left the book with no exposure tonight (None: it holds some)


class Approval(_Small):
    """What became of the morning's entries at the approval step (``execution.require_approval``)."""

    decision: str  # approve | reject | expired | not_required | nothing_to_approve
    actor: str | None = None
    reason: str | None = None
    deadline: str | None = None
    entries: list[str] = Field(default_factory=list, description="the entries that were put to the operator")


class MorningState(TypedDict, total=False):
    run_id: Required[str]
    night_date: Required[date]
    session: Required[date]
    intent_ids: NotRequired[list[str]]
    quotes: NotRequired[dict[str, float]]
    quote_source: NotRequired[dict[str, str]]
    accepted: NotRequired[list[str]]
    # what became of each intent; validate, approval and execute each return only the executions they decided
    results: NotRequired[Annotated[list[Execution], operator.add]]
    approval: NotRequired[Approval]
    equity: NotRequired[float]
    cash: NotRequired[float]
