"""From what a model wrote (``prompts.schemas``) to what the desk records (``vocab.contracts``), inside the bounds.

A number out of bounds is clamped and a decision the desk does not allow is turned into the nearest one that shrinks
risk; every such change is a note, and the notes go into the recorded answer's reason and beside its exchange. The
fallback wrapper's ``enforce_bounds`` then applies the overlay's bounds on stops and exits once more: the bounds hold
whatever a provider returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from graph.providers.base import BookEntry
from prompts.schemas import BookAnswer, ProposalVerdict, SingleVerdict, WeatherAnswer
from vocab.contracts import BookReview, Proposal, Provenance, Verdict, WeatherView


def clamp(value: float, low: float, high: float, name: str, notes: list[str]) -> float:
    if value < low or value > high:
        clamped = min(high, max(low, value))
        notes.append(f"clamped {name} {value:g} to {clamped:g}")
        return clamped
    return value


def _reason(text: str, notes: list[str]) -> str:
    text = " ".join(text.split()) or "(no reason given)"
    return "; ".join([text, *notes]) if notes else text


def weather_view(answer: WeatherAnswer, provenance: Provenance) -> tuple[WeatherView, list[str]]:
    notes: list[str] = []
    nudge = int(clamp(answer.regime_nudge, -1, 1, "regime_nudge", notes))
    narrative = answer.narrative.strip()
    if not narrative:
        raise ValueError("the narrative is empty")
    return WeatherView(narrative=narrative, regime_nudge=nudge, reason=_reason(answer.reason, notes),
                       provenance=provenance), notes


def verdict(answer: ProposalVerdict | SingleVerdict, proposal: Proposal, provenance: Provenance, *,
            allow_reverse: bool) -> tuple[Verdict, list[str]]:
    """The model's verdict on one proposal, held to [0, 1] and to decisions that never add risk."""
    notes: list[str] = []
    decision = answer.decision
    if decision == "reverse":
        notes.append("reverse recorded as a veto: " + (
            "this desk enters longs only, so the opposite side is not traded" if allow_reverse else
            "reversals are off (llm.overlay.allow_reverse)"))
        decision = "veto"
    multiplier = clamp(answer.size_multiplier, 0.0, 1.0, "size_multiplier", notes)
    stop = answer.stop
    if stop is not None and stop <= 0:
        notes.append(f"dropped stop {stop:g}: a stop price is positive")
        stop = None
    if decision == "veto":
        multiplier, stop = 0.0, None
    elif decision == "confirm" and (multiplier < 1 or stop is not None):
        decision = "adjust"  # enforce_bounds decides confirm / adjust from the numbers, and says so
    return Verdict(proposal_key=proposal.key, decision=decision, size_multiplier=multiplier, stop=stop,
                   reason=_reason(answer.reason, notes), provenance=provenance), notes


def book_review(answer: BookAnswer, entries: Sequence[BookEntry], provenance: Provenance) -> tuple[BookReview, list[str]]:
    """Shrinks in [0, 1] and vetoes, only for tonight's new entries; a veto wins over a shrink of the same symbol."""
    notes: list[str] = []
    known = {e.symbol for e in entries}
    shrink: dict[str, float] = {}
    veto: dict[str, str] = {}
    for action in answer.actions:
        if action.symbol not in known:
            notes.append(f"ignored {action.action} of {action.symbol!r}: not a new entry tonight")
        elif action.action == "veto":
            veto[action.symbol] = " ".join(action.reason.split()) or "(no reason given)"
        else:
            m = clamp(action.multiplier, 0.0, 1.0, f"shrink of {action.symbol}", notes)
            shrink[action.symbol] = min(m, shrink.get(action.symbol, 1.0))
    shrink = {s: m for s, m in shrink.items() if s not in veto and m < 1.0}
    return BookReview(shrink=shrink, veto=veto, summary=_reason(answer.summary, notes), provenance=provenance), notes


def by_id(answers: Sequence[ProposalVerdict], ids: Mapping[str, Proposal]) -> tuple[dict[str, ProposalVerdict], list[str]]:
    """The batch answer by proposal id: unknown ids are ignored and a repeated id keeps its first answer (noted)."""
    out: dict[str, ProposalVerdict] = {}
    notes: list[str] = []
    for a in answers:
        if a.id not in ids:
            notes.append(f"ignored a verdict for unknown id {a.id!r}")
        elif a.id in out:
            notes.append(f"ignored a second verdict for {a.id}")
        else:
            out[a.id] = a
    return out, notes
