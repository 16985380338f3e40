"""Output schemas every provider (rules or LLM) must return; bounded numbers, literal decisions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Regime = Literal["calm_uptrend", "risk_on_trend", "choppy", "risk_off_trend", "high_vol_panic"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(_Out):
    provider: str
    model: str
    prompt_version: str
    latency_ms: float = Field(ge=0)
    tokens: int = Field(0, ge=0)
    fallback: bool = False
    fallback_reason: str | None = None


class WeatherView(_Out):
    """The weather analyst's reading: a narrative and a bounded regime nudge (at most one level)."""

    narrative: str
    regime_nudge: Literal[-1, 0, 1] = Field(0, description="+1 = one level more defensive, -1 = one level less")
    reason: str
    provenance: Provenance


class Verdict(_Out):
    """The overlay on one proposal: confirm, adjust (shrink/tighten) or veto, with a reason."""

    proposal_key: str
    decision: Literal["confirm", "adjust", "veto"]
    size_multiplier: float = Field(1.0, ge=0, le=1)
    stop: float | None = Field(None, gt=0, description="a tighter stop, if adjusting")
    reason: str
    provenance: Provenance


class BookReview(_Out):
    """The risk reviewer on the whole book: per-symbol shrink or veto of new entries."""

    shrink: dict[str, float] = Field(default_factory=dict, description="symbol -> multiplier in [0, 1]")
    veto: dict[str, str] = Field(default_factory=dict, description="symbol -> reason")
    summary: str
    provenance: Provenance
