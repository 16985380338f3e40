"""The training driver: retrain models for a decision date (``train_all``, what cron runs) and walk forward over
history (``walk_forward``, what the benchmark and research run), promoting through the registry.

Every job is ``catalog.entry(name).train(inputs, cutoff, recipe)``, a pure function, so a loop here and a Ray
task later run the same code. Progress is reported as ``ProgressEvent`` values (the CLI draws bars from them).

Promotion evidence (models.promotion): the candidate's purged validation fold beside its baselines, and - when
there is an incumbent - the candidate's head-only fit and the incumbent scored on the same validation rows dated
after the incumbent's cutoff (at least MIN_SHARED_DATES of them; a month of sessions is the least that says
anything about a model with a 21-session label).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from models.base import VALIDATION_END, era
from models.catalog import entry
from models.errors import NoData
from models.inputs import ModelInputs
from models.metrics import Evaluation
from models.promotion import Evidence
from models.registry import ModelRegistry, StaleEvidence
from models.significance import paired_test
from models.walkforward import Fold, cutoff_for, folds

MIN_SHARED_DATES = 21


@dataclass(frozen=True)
class ProgressEvent:
    model: str
    stage: str
    step: int
    total: int
    fold: int | None = None
    folds: int | None = None


Progress = Callable[[ProgressEvent], None]


@dataclass
class TrainOutcome:
    """One model trained (or found already trained) for one cutoff, and what the registry decided."""

    name: str
    version: str
    cutoff: date
    status: str
    reason: str
    validation: dict[str, Any]
    in_sample: dict[str, Any]
    seconds: float
    reused: bool
    model: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("model")
        out["cutoff"] = self.cutoff.isoformat()
        return out


def _evidence(registry: ModelRegistry, name: str, model: Any, inputs: ModelInputs) -> Evidence:
    job = entry(name)
    candidate = Evaluation.from_dict(model.metrics["validation"])
    row = registry.snapshot().incumbent(name, before=model.cutoff, excluding=model.version)
    if row is None:
        return Evidence(job.metric, candidate)
    incumbent = registry.load(name, row["version"])
    start = max(date.fromisoformat(candidate.start), incumbent.cutoff + timedelta(days=1)) if candidate.start else None
    shared = None
    if start is not None and start <= model.cutoff and model.validation_model is not None:
        known = inputs.until(model.cutoff)
        try:
            mine = job.evaluate_between(model.validation_model, known, start, model.cutoff)
            theirs = job.evaluate_between(incumbent, known, start, model.cutoff)
            if mine.n_dates >= MIN_SHARED_DATES:
                shared = (mine, theirs)
        except NoData:
            shared = None
    test = None
    if shared is not None and shared[0].scored and shared[1].scored:
        test = paired_test(shared[0].scored["model"], shared[1].scored["model"], f"the incumbent {row['version']}")
    return Evidence(job.metric, candidate, row["version"], shared, test)


def train_one(registry: ModelRegistry, inputs: ModelInputs, name: str, cutoff: date,
              recipe: dict[str, Any] | None = None, progress: Progress | None = None,
              fold: tuple[int, int] | None = None) -> TrainOutcome:
    """Train ``name`` for ``cutoff`` unless that version is already decided, register it, decide promotion."""
    job = entry(name)
    full = job.recipe(recipe)
    version = job.version(cutoff, full)
    row = registry.snapshot().row(name, version)
    if row is not None and row.get("status") in ("promoted", "rejected"):
        return TrainOutcome(name, version, cutoff, row["status"], row.get("reason", ""),
                            row["metrics"].get("validation", {}), row["metrics"].get("in_sample", {}), 0.0, True)
    started = time.perf_counter()

    def report(stage: str, step: int, total: int) -> None:
        if progress is not None:
            progress(ProgressEvent(name, stage, step, total, *(fold or (None, None))))

    model = job.train(inputs, cutoff, full, report)
    registry.register(model)
    for _ in range(3):
        try:
            decision = registry.decide(name, model.version, _evidence(registry, name, model, inputs))
            break
        except StaleEvidence:   # another process promoted meanwhile: compare against the new incumbent
            continue
    else:
        raise RuntimeError(f"{name}: the incumbent kept changing while deciding on {model.version}; retry")
    return TrainOutcome(name, model.version, cutoff, decision.status, decision.reason,
                        model.metrics["validation"], model.metrics["in_sample"],
                        round(time.perf_counter() - started, 3), False, model)


def train_all(registry: ModelRegistry, inputs: ModelInputs, as_of: date, names: Iterable[str] | None = None,
              recipes: dict[str, dict[str, Any]] | None = None, retrain_months: int = 3,
              progress: Progress | None = None) -> list[TrainOutcome]:
    """Train every model (or ``names``) that decisions on ``as_of`` would use: the cutoff of its retrain block
    (models.walkforward.cutoff_for, purged by each model's horizon). Safe to run from cron beside a reader."""
    outcomes = []
    for name in names or ("regime", "health", "direction", "mean_reversion", "vol_state", "garch"):
        recipe = entry(name).recipe((recipes or {}).get(name))
        cutoff = cutoff_for(as_of, inputs.sessions, retrain_months, int(recipe["horizon"]))
        outcomes.append(train_one(registry, inputs, name, cutoff, (recipes or {}).get(name), progress))
    return outcomes


@dataclass
class FoldResult:
    fold: Fold
    era: str
    version: str
    status: str
    reason: str
    in_sample: dict[str, Any]
    validation: dict[str, Any]
    test: dict[str, Any]
    seconds: float


def walk_forward(inputs: ModelInputs, name: str, start: date, end: date, registry: ModelRegistry,
                 step_months: int = 12, recipe: dict[str, Any] | None = None, progress: Progress | None = None,
                 allow_holdout: bool = False) -> list[FoldResult]:
    """Walk ``name`` forward over [start, end]: per fold, train up to its cutoff (promotion decided in
    ``registry``), then score the shipped model on the fold's decisions beside its baselines.

    Unless ``allow_holdout``, the inputs are cut at 2018-12-31 first: no fold, feature or label reads the
    hold-out (ARCHITECTURE.md: the hold-out), and test rows whose label would need 2019 data are simply not scored.
    """
    if not allow_holdout:
        inputs, end = inputs.until(VALIDATION_END), min(end, VALIDATION_END)
    job = entry(name)
    plan = folds(inputs.sessions, start, end, step_months, job.horizon(job.recipe(recipe)))
    results = []
    for i, fold in enumerate(plan):
        outcome = train_one(registry, inputs, name, fold.cutoff, recipe, progress, (i + 1, len(plan)))
        model = outcome.model or registry.load(name, outcome.version)
        try:
            test = job.evaluate_between(model, inputs, fold.test_start, fold.test_end).to_dict()
        except NoData as exc:
            test = {"metric": job.metric, "value": None, "error": str(exc)}
        results.append(FoldResult(fold, era(fold.test_start), outcome.version, outcome.status, outcome.reason,
                                  outcome.in_sample, outcome.validation, test, outcome.seconds))
    return results


def summarise(results: list[FoldResult]) -> dict[str, dict[str, Any]]:
    """Per era: folds, mean test metric, mean best baseline, folds beating their baseline, promoted folds."""
    out: dict[str, dict[str, Any]] = {}
    for period in ("in_sample", "validation", "holdout"):
        rows = [r for r in results if r.era == period and r.test.get("value") is not None]
        if not rows:
            continue
        evals = [Evaluation.from_dict(r.test) for r in rows]
        best = [e.best_baseline[1] for e in evals if e.best_baseline]
        out[period] = {"folds": len(rows), "metric": evals[0].metric,
                       "mean": round(sum(e.value for e in evals) / len(evals), 4),
                       "mean_best_baseline": round(sum(best) / len(best), 4) if best else None,
                       "folds_beating_baseline": sum(e.beats_baseline for e in evals),
                       "promoted": sum(r.status == "promoted" for r in rows)}
    return out
