"""The promotion rule (ARCHITECTURE.md: Models): a candidate replaces the incumbent only if it beats it out of sample on
its stated metric, and a model that does not beat its naive baseline is never promoted.

Evidence, gathered by the training driver (models/train.py):
- ``candidate``: the candidate recipe fitted on the head of its window and scored on the purged tail, beside the
  naive baselines on the same rows;
- ``head_to_head``: that head-only fit and the incumbent scored on the *same* rows - the tail rows dated after the
  incumbent's cutoff, which neither has learnt from - so the comparison is out of sample for both.
When no such rows exist (a recipe change at the incumbent's own cutoff), the recorded validation figures are
compared instead and the reason says so. Ties keep the incumbent.

The margin must be significant, not merely positive (``Promotion``, settings ``models.promotion_*``): the paired
block bootstrap of models.significance over the purged tail's dates, one-sided at ``alpha``, over the best naive
baseline (recorded with the candidate's validation metrics) and over the incumbent on the shared rows. Its margin,
interval and p-value are in the reason. ``test = "point"`` is the rule before issue 18: any positive margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from models.metrics import Evaluation
from models.significance import MarginTest
from vocab.terms import ModelStatus as Status


@dataclass(frozen=True)
class Promotion:
    """How big a margin must be: ``bootstrap`` (significant at ``alpha``, one-sided) or ``point`` (any margin)."""

    test: Literal["bootstrap", "point"] = "bootstrap"
    alpha: float = 0.05


@dataclass(frozen=True)
class Evidence:
    metric: str
    candidate: Evaluation
    incumbent: str | None = None
    head_to_head: tuple[Evaluation, Evaluation] | None = None   # (candidate's head fit, incumbent) on shared rows
    head_to_head_test: MarginTest | None = None                 # the paired bootstrap of that comparison

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "candidate": self.candidate.to_dict(), "incumbent": self.incumbent,
                "head_to_head": None if self.head_to_head is None else
                [self.head_to_head[0].to_dict(), self.head_to_head[1].to_dict()],
                "head_to_head_test": None if self.head_to_head_test is None else self.head_to_head_test.to_dict()}


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


def _significance(test: dict[str, Any] | None, alpha: float, versus: str) -> tuple[bool, str]:
    """Whether a recorded margin test passes, and what to say (no test recorded: not shown to be significant)."""
    if not test:
        return False, f"no paired test of the margin over {versus} could be run (too few dates)"
    m = MarginTest(**{k: test[k] for k in ("versus", "margin", "low", "high", "p_value", "n_dates", "resamples",
                                           "block")})
    return m.p_value < alpha, m.text(alpha)


def judge(evidence: Evidence, incumbent_metrics: dict[str, Any] | None,
          policy: Promotion = Promotion()) -> Decision:
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
    if policy.test == "bootstrap":
        ok, said = _significance(c.extra.get("margin"), policy.alpha, best[0])
        if not ok:
            return verdict("rejected", f"its margin over its naive baseline is not significant: {metric} "
                                       f"{_fmt(c.value)} vs {best[0]} {_fmt(best[1])} on {_rows(c)}; {said}")
        beat = f"beats its naive baseline significantly ({metric} {_fmt(c.value)} on {_rows(c)}; {said})"
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
    if policy.test == "bootstrap" and evidence.head_to_head is not None:
        test = evidence.head_to_head_test
        ok, said = _significance(None if test is None else test.to_dict(), policy.alpha,
                                 f"the incumbent {evidence.incumbent}")
        if not ok:
            return verdict("rejected", f"{beat}; but its margin over the incumbent {evidence.incumbent} is not "
                                       f"significant ({metric} {_fmt(mine.value)} vs {_fmt(theirs.value)} {where}; "
                                       f"{said})")
        return verdict("promoted", f"{beat}; beats the incumbent {evidence.incumbent} significantly ({said})")
    return verdict("promoted", f"{beat}; beats the incumbent {evidence.incumbent} ({metric} {_fmt(mine.value)} > "
                               f"{_fmt(theirs.value)} {where})")
