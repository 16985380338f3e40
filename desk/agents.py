"""`desk agents`: each agent's weight tonight, its Beta posterior, its track record and whether it drifts — the
latest night's record from the store (graph/nodes/trust.py writes it), typed, transport apart."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from desk.config import Settings
from desk.errors import DeskError
from memory.store import open_store


class AgentTrust(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: str
    weight: float
    alpha: float
    beta: float
    posterior_mean: float = Field(description="alpha / (alpha + beta)")
    sample: float = Field(description="tonight's Thompson draw")
    resolved: int
    hit_rate: float | None
    ic: float | None
    live_rate: float | None
    reference_rate: float | None
    drift: bool
    reason: str


class AgentsResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: date
    mode: str
    agents: list[AgentTrust]


def agents(settings: Settings, on_or_before: date | None = None) -> AgentsResult:
    store = open_store(settings)
    try:
        rows = store.agent_weights(on_or_before)
    finally:
        store.close()
    if not rows:
        raise DeskError("no agent weights recorded yet: `desk run` samples them each night")
    return AgentsResult(as_of=rows[0].as_of, mode=settings.trust.mode, agents=[
        AgentTrust(agent=r.agent, weight=r.weight, alpha=r.alpha, beta=r.beta,
                   posterior_mean=r.alpha / (r.alpha + r.beta), sample=r.sample, resolved=r.resolved,
                   hit_rate=r.hit_rate, ic=r.ic, live_rate=r.live_rate, reference_rate=r.reference_rate,
                   drift=bool(r.drift), reason=r.reason) for r in rows])
