"""What a model writes: the output schema of each LLM prompt (ARCHITECTURE.md: Contracts).

These are the model-facing answers, kept apart from what the desk records (``vocab.contracts``: ``WeatherView``,
``Verdict``, ``BookReview``, each with its ``Provenance``). They are deliberately loose where the bounds are the desk's
business: a size multiplier is any finite number here and the bounds clamp it to [0, 1] and say so; a decision is one
of a closed set, so an answer outside it ("buy", "double") is rejected, never guessed at.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


class WeatherAnswer(_Answer):
    """The weather analyst's answer."""

    narrative: str = Field(description="4 to 8 sentences on today's weather, from the measurements only")
    regime_nudge: int = Field(description="-1 (one level less defensive), 0 (no change) or 1 (one level more "
                                          "defensive)")
    reason: str = Field(description="why this nudge, naming the layers and their scores")


Decision = Literal["confirm", "adjust", "veto", "reverse"]


class ProposalVerdict(_Answer):
    """The overlay on one proposal, by the id the prompt gave it."""

    id: str = Field(description="the proposal's id from the input, e.g. p1")
    decision: Decision = Field(description="confirm, adjust (shrink and/or tighten the stop), veto, or reverse "
                                           "(only if the input says reversals are allowed)")
    size_multiplier: float = Field(1.0, description="in [0, 1]; 1 unless the trade should be smaller")
    stop: float | None = Field(None, description="a tighter protective stop price, or null to keep the proposed one")
    reason: str = Field(description="one or two sentences naming the inputs behind the decision")


class OverlayAnswer(_Answer):
    """The overlay on every proposal of the night (one call)."""

    verdicts: list[ProposalVerdict] = Field(description="exactly one verdict per proposal id in the input")


class SingleVerdict(_Answer):
    """The overlay on one proposal (one call per proposal, when configured)."""

    decision: Decision = Field(description="confirm, adjust, veto, or reverse (only if reversals are allowed)")
    size_multiplier: float = Field(1.0, description="in [0, 1]; 1 unless the trade should be smaller")
    stop: float | None = Field(None, description="a tighter protective stop price, or null to keep the proposed one")
    reason: str = Field(description="one or two sentences naming the inputs behind the decision")


class BookAction(_Answer):
    """The risk reviewer on one new entry it wants changed."""

    symbol: str = Field(description="a symbol among the new entries")
    action: Literal["shrink", "veto"]
    multiplier: float = Field(1.0, description="for shrink: in [0, 1]")
    reason: str


class BookAnswer(_Answer):
    """The risk reviewer's answer on the whole book of new entries."""

    actions: list[BookAction] = Field(default_factory=list, description="only entries to shrink or veto; accepted "
                                                                        "entries are left out")
    summary: str = Field(description="what was done and why, or 'book accepted' and why")


SCHEMAS: dict[str, type[_Answer]] = {
    "weather_analyst": WeatherAnswer, "overlay": SingleVerdict, "overlay_batch": OverlayAnswer,
    "risk_reviewer": BookAnswer,
}
