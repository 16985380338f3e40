"""Flat stretches: runs of sessions a replayed desk held nothing, each with the rule that kept it flat.

A night whose book is empty after it says why (``flat_cause``, graph/nodes/intents.py: the rule that denied most of
its candidates, or that no pick cleared the threshold, or that nothing was proposed). A stretch is at least
``MIN_SESSIONS`` sessions in a row with nothing invested; its cause is the night cause most often given in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

MIN_SESSIONS = 10   # two trading weeks: shorter gaps are the ordinary turnover of a book


class FlatStretch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: str
    end: str
    sessions: int
    cause: str
    nights_with_cause: int


def _rule(cause: str | None) -> str:
    """A cause's rule (the words before ' denied' / the sentence), so nights are counted by rule, not by example."""
    if not cause:
        return "no cause recorded"
    return cause.split(" denied ")[0] if " denied " in cause else cause.split(" (")[0]


def flat_stretches(dates: Sequence[str], invested: Sequence[float], causes: Sequence[str | None],
                   min_sessions: int = MIN_SESSIONS) -> list[FlatStretch]:
    """The stretches of at least ``min_sessions`` sessions with nothing invested, and the cause of each."""
    out: list[FlatStretch] = []
    i, n = 0, len(dates)
    while i < n:
        if invested[i] > 1e-9:
            i += 1
            continue
        j = i
        while j < n and invested[j] <= 1e-9:
            j += 1
        if j - i >= min_sessions:
            said = [causes[k] for k in range(i, j) if k < len(causes)]
            counts = Counter(_rule(c) for c in said)
            rule, times = counts.most_common(1)[0] if counts else ("no cause recorded", 0)
            example = next((c for c in said if _rule(c) == rule and c), rule)
            out.append(FlatStretch(start=dates[i], end=dates[j - 1], sessions=j - i, cause=example,
                                   nights_with_cause=times))
        i = j
    return out
