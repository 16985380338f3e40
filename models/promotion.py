"""The promotion rule (DESIGN.md §8): a candidate replaces the incumbent only if it beats it out of sample on its
stated metric, and a model that does not beat its naive baseline is never promoted.

Evidence, gathered by the training driver (models/train.py):
- ``candidate``: the candidate recipe fitted on the head of its window and scored on the purged tail, beside the
  naive baselines on the same rows;
- ``head_to_head``: that head-only fit and the incumbent scored on the *same* rows - the tail rows dated after the
  incumbent's cutoff, which neither has learnt from - so the comparison is out of sample for both.
When no such rows exist (a recipe change at the incumbent's own cutoff), the recorded validation figures are
compared instead and the reason says so. Ties keep the incumbent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.metrics import Evaluation
from vocab.terms import ModelStatus as Status


@dataclass(frozen=True)
class Evidence:
    metric: str
    candidate: Evaluation
    incumbent: str | None = None
    head_to_head: tuple[Evaluation, Evaluation] | None = None   # (candidate's head fit, incumbent) on shared rows

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "candidate": self.candidate.to_dict(), "incumbent": self.incumbent,
                "head_to_head": None if self.head_to_head is None else
                [self.head_to_head[0].to_dict(), self.head_to_head[1].to_dict()]}


@dataclass(frozen=True)
class Decision:
    status: Status
    reason: str
    incumbent: str | None
    evidence: dict[str, Any]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _rows(e: Evaluation) -> str:
    return f"{e.n_rows} rows {e.start}..{e.end}"


def judge(evidence: Evidence, incumbent_metrics: dict[str, Any] | None) -> Decision:
    """Promote or reject, with the reason. ``incumbent_metrics`` is the incumbent's saved metrics (or None)."""
    c, metric = evidence.candidate, evidence.metric

    def verdict(status: Status, reason: str) -> Decision:
        return Decision(status, reason, evidence.incumbent, evidence.to_dict())

    if c.value is None:
        return verdict("rejected", f"no out-of-sample {metric} (validation: {_rows(c)})")
    best = c.best_baseline
    if best is None or not c.beats_baseline:
        name, value = best if best else ("baseline", None)
        return verdict("rejected", f"does not beat its naive baseline out of sample: {metric} {_fmt(c.value)} "
                                   f"<= {name} {_fmt(value)} on {_rows(c)}")
    beat = f"beats its naive baseline ({metric} {_fmt(c.value)} > {best[0]} {_fmt(best[1])} on {_rows(c)})"
    if evidence.incumbent is None:
        return verdict("promoted", f"{beat}; no incumbent")
    if evidence.head_to_head is not None:
        mine, theirs = evidence.head_to_head
        where = f"on the same {_rows(mine)}"
    else:
        recorded = (incumbent_metrics or {}).get("validation", {})
        mine, theirs = c, Evaluation.from_dict(recorded) if recorded else None
        where = "on their own validation folds (no shared out-of-sample rows)"
    if theirs is None or theirs.value is None:
        return verdict("promoted", f"{beat}; the incumbent {evidence.incumbent} has no comparable {metric}")
    if mine.value is None or mine.value <= theirs.value:
        return verdict("rejected", f"does not beat the incumbent {evidence.incumbent} out of sample: {metric} "
                                   f"{_fmt(mine.value)} <= {_fmt(theirs.value)} {where}")
    return verdict("promoted", f"{beat}; beats the incumbent {evidence.incumbent} ({metric} {_fmt(mine.value)} > "
                               f"{_fmt(theirs.value)} {where})")
