"""Scorers of a prompt's answers against a case set: each answer checked on its own, then summed up.

| scorer | meaning |
| --- | --- |
| ``schema_valid_rate`` | answers the model gave in its schema, within the deadline (a fallback to rules is not one) |
| ``bound_violations`` | answers the desk would record outside its bounds (a multiplier outside [0, 1], a looser stop, a decision that adds risk, a review of a symbol that is not an entry): must be 0 |
| ``agreement`` | decisions equal to the case's label (the desk's own decision, or the hand-written expectation) |
| ``veto_precision`` / ``veto_recall`` | a veto (a +1 nudge for the weather) is right when the outcome was a loss: right vetoes over vetoes, and over losses |
| ``pnl_impact`` | mean over scored decisions of (size kept − 1) × outcome: what the answers added to confirming everything (a veto keeps 0, a shrink its multiplier; a +1 nudge keeps ½ of the benchmark's move, −1 one and a half) |
| ``latency_ms``, ``tokens``, ``usd`` | per call: mean latency, total tokens and dollars (an answer served from the record costs nothing) |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict

from evals.prompt_cases import PromptCase
from vocab.contracts import BookReview, Provenance, Verdict, WeatherView
from vocab.terms import Action

NUDGE_KEEP = {1: 0.5, 0: 1.0, -1: 1.5}


class PromptScore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cases: int
    answers: int
    schema_valid_rate: float
    bound_violations: int
    violations: list[str]
    agreement: float | None
    veto_precision: float | None
    veto_recall: float | None
    pnl_impact: float | None
    calls: int
    latency_ms: float | None
    tokens: int
    usd: float
    fallbacks: list[str]


@dataclass
class Tally:
    """What the answers of one prompt version did, case by case."""

    cases: int = 0
    valid: list[bool] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    agree: list[bool] = field(default_factory=list)
    vetoes: list[tuple[bool, float]] = field(default_factory=list)  # (vetoed, outcome) per scored decision
    impact: list[float] = field(default_factory=list)
    calls: dict[str, Provenance] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)

    def provenance(self, case: PromptCase, p: Provenance) -> None:
        self.valid.append(not p.fallback)
        if p.fallback:
            self.fallbacks.append(f"{case.id}: {p.fallback_reason}")
        if p.call_id is not None:
            self.calls.setdefault(p.call_id, p)

    def decision(self, label: object, got: object, kept: float, outcome: float | None, vetoed: bool) -> None:
        if label is not None:
            self.agree.append(label == got)
        if outcome is not None:
            self.vetoes.append((vetoed, outcome))
            self.impact.append((kept - 1.0) * outcome)

    # ------------------------------------------------------------------ one answer per role
    def overlay(self, case: PromptCase, verdicts: Sequence[Verdict]) -> None:
        self.cases += 1
        by_key = {v.proposal_key: v for v in verdicts}
        for p in case.proposals:
            v = by_key.get(p.key)
            if v is None:
                self.violations.append(f"{case.id}: no verdict for {p.key}")
                continue
            self.provenance(case, v.provenance)
            close = case.features.get(p.symbol, {}).get("close")
            problems = [why for bad, why in (
                (not 0 <= v.size_multiplier <= 1, f"size multiplier {v.size_multiplier}"),
                (v.decision == "confirm" and v.size_multiplier != 1, "a confirm that resizes"),
                (v.decision == "veto" and v.size_multiplier != 0, "a veto that keeps size"),
                (v.stop is not None and p.stop is not None and p.action == Action.BUY_LONG and v.stop < p.stop,
                 f"stop loosened {p.stop} -> {v.stop}"),
                (v.stop is not None and close is not None and p.action == Action.BUY_LONG and v.stop >= close,
                 f"stop {v.stop} at or above the close {close}"),
            ) if bad]
            self.violations += [f"{case.id} {p.key}: {why}" for why in problems]
            kept = 0.0 if v.decision == "veto" else v.size_multiplier
            self.decision(case.labels.get(p.key), v.decision, kept, case.outcomes.get(p.key), v.decision == "veto")
        extra = set(by_key) - {p.key for p in case.proposals}
        self.violations += [f"{case.id}: a verdict for {k}, not a proposal of the case" for k in sorted(extra)]

    def weather(self, case: PromptCase, view: WeatherView) -> None:
        self.cases += 1
        self.provenance(case, view.provenance)
        if view.regime_nudge not in (-1, 0, 1):
            self.violations.append(f"{case.id}: nudge {view.regime_nudge}")
        self.decision(case.labels.get("nudge"), view.regime_nudge, NUDGE_KEEP.get(view.regime_nudge, 1.0),
                      case.outcomes.get("benchmark"), view.regime_nudge == 1)

    def risk(self, case: PromptCase, review: BookReview) -> None:
        self.cases += 1
        self.provenance(case, review.provenance)
        symbols = {e.symbol for e in case.entries}
        for s in sorted((set(review.shrink) | set(review.veto)) - symbols):
            self.violations.append(f"{case.id}: reviewed {s}, not an entry of the case")
        for s, m in review.shrink.items():
            if not 0 <= m <= 1:
                self.violations.append(f"{case.id}: shrink of {s} is {m}")
        for e in case.entries:
            got = "veto" if e.symbol in review.veto else "shrink" if review.shrink.get(e.symbol, 1) < 1 else "accept"
            kept = 0.0 if got == "veto" else review.shrink.get(e.symbol, 1.0)
            self.decision(case.labels.get(e.symbol, "accept"), got, kept, case.outcomes.get(e.symbol),
                          got == "veto")

    # ------------------------------------------------------------------ the sum
    def score(self) -> PromptScore:
        vetoed = [o for v, o in self.vetoes if v]
        losses = [(v, o) for v, o in self.vetoes if o < 0]
        calls = list(self.calls.values())
        return PromptScore(
            cases=self.cases, answers=len(self.valid),
            schema_valid_rate=float(np.mean(self.valid)) if self.valid else 0.0,
            bound_violations=len(self.violations), violations=self.violations[:20],
            agreement=float(np.mean(self.agree)) if self.agree else None,
            veto_precision=float(np.mean([o < 0 for o in vetoed])) if vetoed else None,
            veto_recall=float(np.mean([v for v, _ in losses])) if losses else None,
            pnl_impact=float(np.mean(self.impact)) if self.impact else None,
            calls=len(calls), latency_ms=float(np.mean([c.latency_ms for c in calls])) if calls else None,
            tokens=int(sum(c.tokens for c in calls)), usd=round(float(sum(c.cost_usd for c in calls)), 6),
            fallbacks=self.fallbacks[:20])
