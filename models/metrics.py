"""Out-of-sample scores and the Evaluation record: a model's stated metric beside its naive baselines.

Each model states one metric, higher is better, and the naive baselines it must beat on the same rows:
majority class (the training labels' most frequent class), persistence (the label rule applied to the trailing
window, known at the decision) and zero-skill (AUC 0.5, rank IC 0). "Beats its baseline" means beats the best of
them; a model that does not is never promoted (models/registry.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from models.significance import Scored, paired_test


@dataclass(frozen=True)
class Evaluation:
    """One model scored on one set of rows, beside its baselines on the same rows."""

    metric: str
    value: float | None
    baselines: dict[str, float | None]
    n_rows: int
    n_dates: int
    start: str | None
    end: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    scored: dict[str, Scored] | None = field(default=None, compare=False, repr=False)  # "model" and each baseline

    @property
    def best_baseline(self) -> tuple[str, float] | None:
        known = [(name, value) for name, value in self.baselines.items() if value is not None]
        return max(known, key=lambda item: item[1]) if known else None

    @property
    def skill(self) -> float | None:
        """The metric minus the best baseline's (None when either is unknown)."""
        best = self.best_baseline
        return None if self.value is None or best is None else self.value - best[1]

    @property
    def beats_baseline(self) -> bool:
        skill = self.skill
        return skill is not None and skill > 0

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(replace(self, scored=None)).items() if k != "scored"}
        return {**out, "skill": self.skill, "beats_baseline": self.beats_baseline}

    def with_margin(self) -> Evaluation:
        """This evaluation with ``extra["margin"]``: the paired bootstrap of the model's margin over its best
        baseline (models.significance), when the rows behind it were kept (``scored``)."""
        best = self.best_baseline
        if not self.scored or best is None or "model" not in self.scored or best[0] not in self.scored:
            return self
        if not self.beats_baseline:   # behind on the point: rejected whatever the test says, so none is run
            return self
        test = paired_test(self.scored["model"], self.scored[best[0]], best[0])
        return replace(self, extra={**self.extra, "margin": None if test is None else test.to_dict()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        return cls(**{k: data[k] for k in ("metric", "value", "baselines", "n_rows", "n_dates", "start", "end")},
                   extra=dict(data.get("extra", {})))


def span(dates: np.ndarray) -> tuple[int, str | None, str | None]:
    """(distinct dates, first ISO date, last ISO date) of row dates (datetime64)."""
    if len(dates) == 0:
        return 0, None, None
    unique = np.unique(dates)
    return len(unique), str(unique[0])[:10], str(unique[-1])[:10]


def _f(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def accuracy(truth: np.ndarray, pred: np.ndarray) -> float | None:
    return _f(np.mean(truth == pred)) if len(truth) else None


def balanced_accuracy(truth: np.ndarray, pred: np.ndarray) -> float | None:
    """Mean recall over the classes present in ``truth`` (a constant guess scores 1 / classes present)."""
    if len(truth) == 0:
        return None
    classes = np.unique(truth)
    return _f(np.mean([np.mean(pred[truth == c] == c) for c in classes]))


def log_loss(truth: np.ndarray, prob: np.ndarray) -> float | None:
    """Mean negative log-likelihood of the true class (probabilities clipped at 1e-7)."""
    if len(truth) == 0:
        return None
    return _f(-np.mean(np.log(np.clip(prob[np.arange(len(truth)), truth], 1e-7, 1.0))))


def auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC; None with one class only."""
    ok = np.isfinite(score)
    truth, score = truth[ok], score[ok]
    if len(np.unique(truth)) < 2:
        return None
    from sklearn.metrics import roc_auc_score  # imported when scoring: a run that only predicts never pays for it

    return _f(roc_auc_score(truth, score))


def auc_rows(truth: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC by ranks (Mann-Whitney), ties shared: what the bootstrap re-scores many times (no sklearn call)."""
    ok = np.isfinite(score)
    t, s = truth[ok].astype(bool), score[ok]
    n1 = int(t.sum())
    n0 = len(t) - n1
    if n1 == 0 or n0 == 0:
        return None
    return float((_average_ranks(s)[t].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank (scipy's rankdata 'average', without importing scipy.stats)."""
    order = np.argsort(x)
    xs = x[order]
    group = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    mean = np.bincount(group, weights=np.arange(1, len(x) + 1, dtype=float)) / np.bincount(group)
    out = np.empty(len(x))
    out[order] = mean[group]
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    return x.argsort(kind="stable").argsort(kind="stable").astype(float)


def mean_rank_ic(dates: np.ndarray, score: np.ndarray, target: np.ndarray, min_names: int = 5) -> float | None:
    """Mean over dates of the cross-sectional Spearman correlation of score and target (dates with >= 5 names)."""
    ics = []
    order = np.argsort(dates, kind="stable")
    d, s, t = dates[order], score[order], target[order]
    bounds = np.flatnonzero(np.r_[True, d[1:] != d[:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        ss, tt = s[lo:hi], t[lo:hi]
        ok = np.isfinite(ss) & np.isfinite(tt)
        if ok.sum() < min_names:
            continue
        a, b = _ranks(ss[ok]), _ranks(tt[ok])
        a, b = a - a.mean(), b - b.mean()
        denom = np.sqrt((a * a).sum() * (b * b).sum())
        if denom > 0:
            ics.append((a * b).sum() / denom)
    return _f(np.mean(ics)) if ics else None


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in bits between rows of two probability arrays: 0 (agree) .. 1 (disjoint)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1.0)
    q = np.clip(np.asarray(q, dtype=float), 1e-12, 1.0)
    m = 0.5 * (p + q)
    kl = lambda a, b: (a * np.log2(a / b)).sum(axis=-1)
    return np.clip(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0, 1.0)


def majority(train_labels: np.ndarray) -> int:
    """The most frequent training class (ties: the lowest code)."""
    values, counts = np.unique(train_labels, return_counts=True)
    return int(values[np.argmax(counts)])
