"""One training job, shared by every deep model: ``train(inputs, cutoff, recipe) -> TrainedModel``.

A job is a pure function of (inputs, cutoff, recipe): the inputs are truncated at the cutoff first, so no row,
label or statistic can see a later price; labels need h sessions after their row, so the last training row is
h sessions before the cutoff. The window is expanding (from the first session) or rolling (``train_years``).
Inside it, a purged split (models.walkforward.purged_split, gap = the label horizon) keeps the last
``val_fraction`` of dates for validation: the recipe is fitted on the head and scored on that tail, out of
sample, beside the naive baselines; then the shipped model is refitted on the whole window. Training rows are
thinned to every ``stride``-th date: labels spanning h sessions overlap, so neighbouring dates carry almost the
same information (López de Prado 2018, ch. 4, sample uniqueness) and thinning cuts cost without losing much.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from models.base import code_version, make_version
from models.deep import arrays_of
from models.inputs import ModelInputs
from models.metrics import Evaluation
from models.walkforward import purged_split

Progress = Callable[[str, int, int], None]  # (stage, step, total)


@dataclass(frozen=True)
class Rows:
    """Labelled rows: one date per row and named arrays sharing the first dimension."""

    dates: np.ndarray
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.dates)

    def take(self, which: np.ndarray) -> Rows:
        return Rows(self.dates[which], {k: v[which] for k, v in self.data.items()})

    def between(self, start: pd.Timestamp, end: pd.Timestamp) -> Rows:
        return self.take((self.dates >= np.datetime64(start)) & (self.dates <= np.datetime64(end)))


@dataclass(frozen=True)
class ModelSpec:
    """What the shared training job needs from a model module."""

    name: str
    prefix: str
    model_cls: type
    default_recipe: Callable[[], dict[str, Any]]
    rows: Callable[[ModelInputs, pd.Timestamp, pd.Timestamp, dict[str, Any]], Rows]
    fit: Callable[[Rows, dict[str, Any], Progress | None], tuple[dict[str, Any], dict[str, Any]]]
    evaluate: Callable[[Any, Rows], Evaluation]


def window_start(sessions: pd.DatetimeIndex, cutoff: date, recipe: dict[str, Any]) -> pd.Timestamp:
    """First date of the training window: the first session (expanding) or ``train_years`` before the cutoff."""
    if recipe["window"] == "expanding":
        return sessions[0]
    if recipe["window"] == "rolling":
        return pd.Timestamp(cutoff) - pd.DateOffset(years=int(recipe["train_years"])) + pd.Timedelta(days=1)
    raise ValueError(f"window must be 'expanding' or 'rolling', got {recipe['window']!r}")


def strided(dates: np.ndarray, stride: int) -> np.ndarray:
    """Rows on every ``stride``-th distinct date, counted back from the last date (so the newest is kept)."""
    unique, inverse = np.unique(dates, return_inverse=True)
    keep = (len(unique) - 1 - np.arange(len(unique))) % max(1, stride) == 0
    return keep[inverse]


def fit_window(spec: ModelSpec, inputs: ModelInputs, cutoff: date, recipe: dict[str, Any] | None = None,
               progress: Progress | None = None) -> Any:
    """Train ``spec``'s model for ``cutoff`` on ``inputs`` (see the module docstring). Raises ValueError with
    too little history; ``progress(stage, step, total)`` is called per epoch of each fit."""
    recipe = {**spec.default_recipe(), **(recipe or {})}
    horizon = int(recipe["horizon"])
    known = inputs.until(cutoff)
    if len(known.sessions) == 0:
        raise ValueError(f"no data on or before {cutoff}: cannot train {spec.name}")
    rows = spec.rows(known, window_start(known.sessions, cutoff, recipe), pd.Timestamp(cutoff), recipe)
    n_dates = len(np.unique(rows.dates))
    if n_dates < int(recipe["min_dates"]):
        raise ValueError(f"{spec.name}: only {n_dates} dates with complete inputs and labels up to {cutoff}; "
                         f"need {recipe['min_dates']} - give more history before the cutoff")
    started = time.perf_counter()
    head_mask, val_mask = purged_split(rows.dates, float(recipe["val_fraction"]), gap=horizon)
    thin = strided(rows.dates, int(recipe["stride"]))
    version = make_version(spec.prefix, cutoff, recipe)

    def build(subset: Rows, stage: str, suffix: str) -> Any:
        report = (lambda step, total, loss: progress(stage, step, total)) if progress else None
        nets, state = spec.fit(subset, recipe, report)
        first, last = (pd.Timestamp(subset.dates.min()).date(), pd.Timestamp(subset.dates.max()).date())
        return spec.model_cls(version=version + suffix, cutoff=cutoff, trained_on=(first, last),
                              n_rows=len(subset), params=recipe, metrics={}, arrays=arrays_of(nets), state=state,
                              torch_nets=nets)

    val_model = build(rows.take(head_mask & thin), "validation fit", "+val")
    validation = spec.evaluate(val_model, rows.take(val_mask)).with_margin()
    full = rows.take(thin)
    model = build(full, "final fit", "")
    in_sample = spec.evaluate(model, full)
    model.metrics = {
        "metric": validation.metric,
        "validation": validation.to_dict(),
        "in_sample": in_sample.to_dict(),
        "val_from": validation.start,
        "n_train": int((head_mask & thin).sum()),
        "n_val": int(val_mask.sum()),
    }
    model.train_seconds = round(time.perf_counter() - started, 3)   # kept out of metrics: timing is not a result
    model.validation_model = val_model
    model.code = code_version(sys.modules[spec.model_cls.__module__], sys.modules[__name__])
    return model


def evaluate_between(spec: ModelSpec, model: Any, inputs: ModelInputs, start: date, end: date) -> Evaluation:
    """``model`` on every row dated in [start, end] whose label ``inputs`` already hold (an out-of-sample fold
    when the model's cutoff is before ``start``)."""
    from models.errors import NoData

    data = spec.rows(inputs, pd.Timestamp(start), pd.Timestamp(end), model.params)
    if len(data) == 0:
        raise NoData(f"no labelled {spec.name} rows between {start} and {end} in these inputs")
    return spec.evaluate(model, data)
