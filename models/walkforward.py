"""Walk-forward schedule and purged splits: which data a model may be trained on (ARCHITECTURE.md: invariant 4, Models).

A model is retrained at *anchors*, the first session of every ``retrain_months``-month block
(January, April, July and October for 3). The model used on a decision date is the one of the
latest anchor on or before it, trained on data up to a *cutoff* ``horizon_days + 1`` sessions
before that anchor. Trainers additionally keep only rows whose label window ends on or before
the cutoff, so every label is fully realised strictly before the decision, with a purge gap of
more than the label horizon. Everything here depends only on sessions on or before the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


def _sessions_until(sessions: pd.DatetimeIndex, day: date) -> pd.DatetimeIndex:
    """The sorted, unique sessions on or before ``day``."""
    index = pd.DatetimeIndex(sessions).normalize().unique().sort_values()
    return index[index <= pd.Timestamp(day)]


def retrain_anchors(sessions: pd.DatetimeIndex, retrain_months: int = 3) -> pd.DatetimeIndex:
    """The first session of every calendar block of ``retrain_months`` months (blocks start in January)."""
    if retrain_months < 1 or 12 % retrain_months:
        raise ValueError(f"retrain_months must divide 12 (1, 2, 3, 4, 6 or 12), got {retrain_months}")
    index = pd.DatetimeIndex(sessions).normalize().unique().sort_values()
    block = index.year * (12 // retrain_months) + (index.month - 1) // retrain_months
    first = ~pd.Index(block).duplicated(keep="first")
    return index[np.asarray(first)]


def retrain_block(day: date, retrain_months: int = 3) -> tuple[int, int]:
    """The retrain block a date falls in: every decision in one block uses the same model (the same cutoff)."""
    return day.year, (day.month - 1) // retrain_months


def cutoff_for(decision: date, sessions: pd.DatetimeIndex, retrain_months: int = 3, horizon_days: int = 5) -> date:
    """The last date of training data for the model used on ``decision``.

    Only sessions on or before ``decision`` are read, so a store truncated at the decision
    and a full store give the same answer. Raises ValueError when there is too little history.
    """
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0, got {horizon_days}")
    known = _sessions_until(sessions, decision)
    anchors = retrain_anchors(known, retrain_months)
    if len(anchors) == 0:
        raise ValueError(f"no session on or before {decision}: cannot place a retrain anchor")
    position = known.get_loc(anchors[-1]) - (horizon_days + 1)
    if position < 0:
        raise ValueError(
            f"too little history before the anchor {anchors[-1].date()} for a {horizon_days}-session "
            f"purge gap; give sessions starting earlier or a later decision date"
        )
    return known[position].date()


def cutoffs_between(
    start: date, end: date, sessions: pd.DatetimeIndex, retrain_months: int = 3, horizon_days: int = 5
) -> list[date]:
    """Every distinct cutoff used by decisions from ``start`` to ``end``: the models a walk-forward run needs."""
    days = _sessions_until(sessions, end)
    days = days[days >= pd.Timestamp(start)]
    if len(days) == 0:
        return []
    anchors = retrain_anchors(days, retrain_months)
    later = [anchor.date() for anchor in anchors if anchor > days[0]]
    return [cutoff_for(day, sessions, retrain_months, horizon_days) for day in [days[0].date(), *later]]


def purged_split(dates: pd.DatetimeIndex | np.ndarray | pd.Series, val_fraction: float = 0.2, gap: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row masks: the last ``val_fraction`` of distinct dates validate.

    The ``gap`` distinct dates just before validation belong to neither side, so a training
    label spanning ``gap`` sessions ends strictly before the first validation date.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    row_dates = pd.DatetimeIndex(dates)
    unique = row_dates.unique().sort_values()
    n_val = max(1, int(round(len(unique) * val_fraction)))
    n_train = len(unique) - n_val - gap
    if n_train < 1:
        raise ValueError(f"{len(unique)} distinct dates are too few for a {val_fraction:.0%} validation share and a {gap}-date gap")
    train = np.asarray(row_dates <= unique[n_train - 1])
    val = np.asarray(row_dates >= unique[-n_val])
    return train, val


@dataclass(frozen=True)
class Fold:
    """One walk-forward step: train on data up to ``cutoff``, test on decisions from ``test_start`` to ``test_end``."""

    anchor: date
    cutoff: date
    test_start: date
    test_end: date


def folds(sessions: pd.DatetimeIndex, start: date, end: date, step_months: int = 12, horizon_days: int = 5) -> list[Fold]:
    """Walk-forward folds over [start, end]: one per calendar block of ``step_months`` (blocks counted from
    January of year 0, so 12 gives calendar years), each trained up to ``horizon_days + 1`` sessions before its
    first session (the same purge as ``cutoff_for``) and tested on the sessions of its block.

    Training always precedes testing, so the purge gap is also the embargo: no training row follows a test row.
    """
    if step_months < 1:
        raise ValueError(f"step_months must be >= 1, got {step_months}")
    index = pd.DatetimeIndex(sessions).normalize().unique().sort_values()
    block = (index.year * 12 + index.month - 1) // step_months
    out = []
    inside = (index >= pd.Timestamp(start)) & (index <= pd.Timestamp(end))
    for b in pd.unique(block[inside]):
        days = index[(block == b) & inside]
        position = index.get_loc(days[0]) - (horizon_days + 1)
        if position < 0:
            continue
        out.append(Fold(days[0].date(), index[position].date(), days[0].date(), days[-1].date()))
    return out
