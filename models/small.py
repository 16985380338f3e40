"""What the desk's small statistical models share (the volatility state, GARCH, the RL sizer's wrapper): a state
saved as JSON beside the registry's meta, the common protocol fields, and the head/tail fit that every model of the
registry goes through (fit on the head of the window, score on its purged tail beside the baselines, refit on all).

A small model's ``state`` is a dict of JSON values (lists for arrays); ``fit`` and ``evaluate`` are plain functions
of the training rows, so one job is a pure function of (inputs, cutoff, recipe) like every other model's.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.base import RecipeFields, code_version, make_version, read_meta, write_meta
from models.metrics import Evaluation
from models.walkforward import purged_split

STATE_FILE = "state.json"


@dataclass
class SmallModel(RecipeFields):
    """A fitted small model: its provenance, metrics and JSON state (subclasses add inference)."""

    version: str
    cutoff: date
    trained_on: tuple[date, date]
    n_rows: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    state: dict[str, Any] = field(repr=False)
    train_seconds: float | None = None
    code: str | None = None
    validation_model: Any = field(default=None, repr=False, compare=False)

    name = "small"


    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / STATE_FILE).write_text(json.dumps(self.state, sort_keys=True))
        write_meta(directory, {
            "name": self.name, "version": self.version, "cutoff": self.cutoff.isoformat(),
            "trained_on": [d.isoformat() for d in self.trained_on], "n_rows": self.n_rows, "params": self.params,
            "metrics": self.metrics, "horizon": self.horizon, "features": list(self.features), "seed": self.seed,
            "train_seconds": self.train_seconds, "code_version": self.code})

    @classmethod
    def load(cls, directory: Path) -> SmallModel:
        directory = Path(directory)
        meta = read_meta(directory)
        if meta.get("name") != cls.name:
            raise ValueError(f"{directory} holds a {meta.get('name')!r} model, not {cls.name!r}")
        first, last = (date.fromisoformat(d) for d in meta["trained_on"])
        return cls(version=meta["version"], cutoff=date.fromisoformat(meta["cutoff"]), trained_on=(first, last),
                   n_rows=meta["n_rows"], params=meta["params"], metrics=meta["metrics"],
                   state=json.loads((directory / STATE_FILE).read_text()), train_seconds=meta.get("train_seconds"),
                   code=meta.get("code_version"))


@dataclass(frozen=True)
class SmallSpec:
    """How to build one small model: its class, prefix, recipe, rows up to a cutoff, fit and evaluation."""

    name: str
    prefix: str
    model_cls: type[SmallModel]
    default_recipe: Callable[[], dict[str, Any]]
    rows: Callable[[Any, pd.Timestamp, pd.Timestamp, dict[str, Any]], Any]   # (inputs, start, end, recipe) -> rows
    fit: Callable[[Any, dict[str, Any]], dict[str, Any]]                      # (rows, recipe) -> state
    evaluate: Callable[[SmallModel, Any, Any], Evaluation]                    # (model, rows, inputs) -> Evaluation
    dates: Callable[[Any], np.ndarray]                                        # rows -> datetime64 per row
    take: Callable[[Any, np.ndarray], Any]                                    # (rows, mask) -> rows


def fit_small(spec: SmallSpec, inputs: Any, cutoff: date, recipe: dict[str, Any] | None = None,
              progress: Any = None) -> SmallModel:
    """Train ``spec`` for ``cutoff``: inputs truncated at the cutoff, a purged head/tail split scored out of sample
    beside the baselines, then the shipped model refitted on the whole window."""
    recipe = {**spec.default_recipe(), **(recipe or {})}
    known = inputs.until(cutoff)
    if len(known.sessions) == 0:
        raise ValueError(f"no data on or before {cutoff}: cannot train {spec.name}")
    start = known.sessions[0] if recipe.get("window", "expanding") == "expanding" else \
        pd.Timestamp(cutoff) - pd.DateOffset(years=int(recipe["train_years"]))
    rows = spec.rows(known, pd.Timestamp(start), pd.Timestamp(cutoff), recipe)
    dates = spec.dates(rows)
    n_dates = len(np.unique(dates))
    if n_dates < int(recipe["min_dates"]):
        raise ValueError(f"{spec.name}: only {n_dates} dates of inputs up to {cutoff}; need {recipe['min_dates']} - "
                         f"give more history before the cutoff")
    t0 = time.perf_counter()
    head, tail = purged_split(dates, float(recipe["val_fraction"]), gap=int(recipe["horizon"]))
    version = make_version(spec.prefix, cutoff, recipe)

    def build(mask: np.ndarray, suffix: str, stage: str) -> SmallModel:
        if progress is not None:
            progress(stage, 0, 1)
        subset = spec.take(rows, mask)
        d = spec.dates(subset)
        model = spec.model_cls(version=version + suffix, cutoff=cutoff,
                               trained_on=(pd.Timestamp(d.min()).date(), pd.Timestamp(d.max()).date()),
                               n_rows=int(mask.sum()), params=recipe, metrics={}, state=spec.fit(subset, recipe))
        if progress is not None:
            progress(stage, 1, 1)
        return model

    val_model = build(head, "+val", "validation fit")
    validation = spec.evaluate(val_model, spec.take(rows, tail), known).with_margin()
    model = build(np.ones(len(dates), dtype=bool), "", "final fit")
    in_sample = spec.evaluate(model, rows, known)
    model.metrics = {"metric": validation.metric, "validation": validation.to_dict(), "in_sample": in_sample.to_dict(),
                     "val_from": validation.start, "n_train": int(head.sum()), "n_val": int(tail.sum())}
    model.train_seconds = round(time.perf_counter() - t0, 3)
    model.validation_model = val_model
    model.code = code_version(sys.modules[spec.model_cls.__module__], sys.modules[__name__])
    return model


def evaluate_small(spec: SmallSpec, model: SmallModel, inputs: Any, start: date, end: date) -> Evaluation:
    """``model`` on every row dated in [start, end] that ``inputs`` can score."""
    from models.errors import NoData

    rows = spec.rows(inputs, pd.Timestamp(start), pd.Timestamp(end), model.params)
    if len(spec.dates(rows)) == 0:
        raise NoData(f"no {spec.name} rows between {start} and {end} in these inputs")
    return spec.evaluate(model, rows, inputs)
