"""The overlay provider interface (ARCHITECTURE.md: Contracts): what a provider answers, and the book it reviews.

A provider answers three questions in the contracts of ``vocab.contracts``: the weather view, a verdict per
proposal, and a review of the whole book. The rules provider implements it; LLM providers will too, behind
``graph.providers.fallback.with_fallback``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from vocab.contracts import BookReview, Proposal, Verdict, WeatherSnapshot, WeatherView
from vocab.terms import Action, Regime

ENTRY_ACTIONS = frozenset({Action.BUY_LONG, Action.SELL_SHORT})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class BookEntry(_Frozen):
    """One new entry the book would take, as the risk reviewer sees it (``None`` = no data, never invented)."""

    symbol: str
    weight: float = Field(ge=0, le=1)
    score: float
    agents: tuple[str, ...]
    vol_21d: float | None = Field(ge=0)
    ret_21d: float | None
    sector: str | None = None


class BookSummary(_Frozen):
    """The book the entries would join: equity, cash, held weights and the desk's effective regime."""

    equity: float = Field(gt=0)
    cash: float
    held: dict[str, float] = Field(default_factory=dict, description="symbol -> weight of equity")
    regime: Regime


@runtime_checkable
class OverlayProvider(Protocol):
    """What every overlay provider (rules, anthropic, openai) implements."""

    name: str

    def weather(self, snapshot: WeatherSnapshot) -> WeatherView: ...

    def review(self, proposal: Proposal, snapshot: WeatherSnapshot, features: Mapping[str, float]) -> Verdict: ...

    def review_book(self, entries: Sequence[BookEntry], snapshot: WeatherSnapshot, book: BookSummary) -> BookReview: ...


def finite(value: object) -> float | None:
    """The value as a finite float, or None when missing, NaN, infinite or not a number."""
    try:
        number = float(value)  # type: ignore[arg-type]  # anything: a failed conversion is the answer
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def review_all(provider: OverlayProvider, proposals: Sequence[Proposal], snapshot: WeatherSnapshot,
               features: Mapping[str, Mapping[str, float]]) -> list[Verdict]:
    """A verdict for every proposal but holds: in one go when the provider can (an LLM: one call per night), else
    one ``review`` each (the rules provider)."""
    batch = getattr(provider, "review_all", None)
    if batch is not None:
        return list(batch(proposals, snapshot, features))
    return [provider.review(p, snapshot, features.get(p.symbol, {})) for p in proposals if p.action != Action.HOLD]
