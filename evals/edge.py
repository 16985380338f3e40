"""The edge ledger: what each layer of the desk is worth, fold by fold, in-sample and validation apart.

The desk and one ablation per layer it uses each run as one continuous replay (``evals.case.run_case``); each
curve is cut into **folds, one per calendar year** (a fold opens at the last close of the year before, as
``evals.metrics.split_periods`` opens a period), so fold *y* of the desk and fold *y* of an ablation cover the
same sessions and pair up. Per fold: Sharpe, CAGR, max drawdown within the fold, and **selection** — the CAGR of
the curve minus that of its own exposure-matched twin (the equal-weight universe held at the curve's daily
invested fraction, ``evals.benchmarks_passive.exposure_matched``). A fold shorter than a trading month is left
out (and counted).

A layer's **effect** in a fold is the desk's figure minus the ablation's: positive means the layer helps (for max
drawdown, a shallower drawdown with the layer is positive). Per era — in-sample (to 2014), validation
(2015–2018), and the hold-out only when asked for — the ledger reports the era's effect measured on the era's
whole curve, the mean fold effect with its **paired bootstrap** 95% interval across folds (the folds are resampled
together, desk and ablation, so what every fold shares cancels: ``scipy.stats.bootstrap``, percentile, seeded),
and the number of folds where the layer helped. One fold gives no interval (None).

Folds of one continuous replay are not independent starts: a fold begins with the book the years before left.
That is how a desk lives (it never starts fresh on 1 January), and it keeps the ledger to one replay per case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import bootstrap

from evals.case import CaseResult
from evals.metrics import IN_SAMPLE_END, VALIDATION_END, Metrics, performance
from evals.permutation import PermutationCheck
from evals.replay import MIN_PERIOD_DAYS
from graph.errors import DeskError

METRICS = ("sharpe", "cagr", "max_drawdown", "selection")
ERAS = ("in_sample", "validation", "holdout")
ERA_NAMES = {"in_sample": "in-sample (to 2014)", "validation": "validation (2015–2018)",
             "holdout": "hold-out (2019 on: reported once, never chosen by)"}
RESAMPLES = 10_000
LEVEL = 0.95
LEDGER = "edge.json"  # the ledger's file beside its decision eval's result.json


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Figures(_Frozen):
    """One curve over one span (a fold or an era)."""

    start: date
    end: date
    days: int
    sharpe: float
    cagr: float
    max_drawdown: float
    selection: float = Field(description="CAGR minus the exposure-matched twin's over the same span")
    twin_sharpe: float = Field(description="the exposure-matched twin's Sharpe over the same span")


class Effect(_Frozen):
    """One metric's effect of a layer over one era: the desk's figure minus the ablation's."""

    desk: float
    ablated: float
    effect: float = Field(description="desk minus ablated over the era's whole curve (positive: the layer helps)")
    fold_mean: float | None = Field(description="the mean of the per-fold effects")
    ci_low: float | None = Field(description="paired bootstrap interval of fold_mean (None with one fold)")
    ci_high: float | None
    helped: int = Field(description="folds where the layer helped (effect > 0)")
    folds: int


class LayerEra(_Frozen):
    era: str
    effects: dict[str, Effect] = Field(description="metric -> effect (sharpe, cagr, max_drawdown, selection)")


class LayerRow(_Frozen):
    layer: str
    what: str = Field(description="what the ablation takes out")
    in_use: bool
    reason: str = Field(description="why the layer is (not) in the ledger")
    case: str | None = Field(description="the ablation case's label (None when not run)")
    eras: list[LayerEra] = Field(default_factory=list)
    helps_both_eras: bool | None = Field(
        description="the desk without it has a lower Sharpe in both in-sample and validation (None: not run)")
    identical: bool = Field(False, description="the ablation's curve is the desk's in every fold: it changed "
                                               "nothing over the range (the layer never acted, or the switch failed)")


class DeskEra(_Frozen):
    era: str
    desk: Figures
    folds: int
    permutation: PermutationCheck | None = Field(description="the desk's selection against random books")


class EdgeLedger(_Frozen):
    """The ledger: the desk's own figures per era and fold, and each layer's effect."""

    eval_id: str
    created: str
    start: date = Field(description="first night")
    end: date = Field(description="last night")
    holdout: bool = Field(description="the range reaches 2019 on: the one final report")
    eras: list[str]
    resamples: int
    level: float
    seconds: float = Field(description="wall time of the whole ledger, training included")
    cases: int
    desk: list[DeskEra]
    folds: dict[str, dict[str, Figures]] = Field(description="case label -> fold (year) -> figures")
    short_folds: list[str] = Field(default_factory=list, description="years left out: under a trading month")
    layers: list[LayerRow]


# ---------------------------------------------------------------------------------------------------- folds and eras
def _curves(case: CaseResult, end: date) -> tuple[pd.Series, pd.Series]:
    """The case's curve and its twin's to the last night's close (the morning after it is past the range)."""
    idx = pd.DatetimeIndex(case.series.dates)
    keep = idx <= pd.Timestamp(end)
    desk = pd.Series(case.series.desk, index=idx, dtype=float)[keep]
    twin = pd.Series(case.series.exposure_matched, index=idx, dtype=float)[keep]
    # an eval written before its series filled a start before the first session held 0 there: the twin opens at
    # the desk's opening capital
    return desk, twin.mask(twin <= 0).ffill().fillna(desk.iloc[0])


def spans(index: pd.DatetimeIndex, bounds: Mapping[str, tuple[date, date]]) -> dict[str, slice]:
    """Positions of each named span's curve in ``index``: its sessions in [start, end], opened by the point
    before (so each daily return belongs to exactly one span). Spans with no session are left out."""
    dates = np.asarray(index.date)
    out = {}
    for name, (a, b) in bounds.items():
        inside = np.flatnonzero((dates >= a) & (dates <= b))
        if len(inside):
            out[name] = slice(max(int(inside[0]) - 1, 0), int(inside[-1]) + 1)
    return out


def yearly(index: pd.DatetimeIndex) -> dict[str, tuple[date, date]]:
    """One fold per calendar year the index touches."""
    years = sorted({d.year for d in index})
    return {str(y): (date(y, 1, 1), date(y, 12, 31)) for y in years}


def era_bounds(start: date, end: date) -> dict[str, tuple[date, date]]:
    eras = {"in_sample": (date.min, IN_SAMPLE_END), "validation": (date(IN_SAMPLE_END.year + 1, 1, 1), VALIDATION_END),
            "holdout": (date(VALIDATION_END.year + 1, 1, 1), date.max)}
    return {k: (max(a, start), min(b, end)) for k, (a, b) in eras.items() if max(a, start) <= min(b, end)}


def era_of(year: int) -> str:
    return "in_sample" if year <= IN_SAMPLE_END.year else "validation" if year <= VALIDATION_END.year else "holdout"


def figures(desk: pd.Series, twin: pd.Series) -> Figures:
    m: Metrics = performance(desk)
    t: Metrics = performance(twin)
    return Figures(start=m.start, end=m.end, days=m.days, sharpe=m.sharpe, cagr=m.cagr, max_drawdown=m.max_drawdown,
                   selection=m.cagr - t.cagr, twin_sharpe=t.sharpe)


def case_figures(case: CaseResult, end: date, bounds: Mapping[str, tuple[date, date]] | None = None
                 ) -> dict[str, Figures]:
    """Figures of a case's curve (to ``end``) over each span; by default one per calendar year (its folds)."""
    desk, twin = _curves(case, end)
    return curve_figures(desk, twin, yearly(desk.index) if bounds is None else bounds)


def curve_figures(desk: pd.Series, twin: pd.Series, bounds: Mapping[str, tuple[date, date]]) -> dict[str, Figures]:
    """Figures of a curve (and its twin, on the same dates) over each span long enough to annualise (a trading
    month or more)."""
    out = {}
    for name, s in spans(desk.index, bounds).items():
        if s.stop - s.start - 1 >= MIN_PERIOD_DAYS:
            out[name] = figures(desk.iloc[s], twin.iloc[s])
    return out


# ---------------------------------------------------------------------------------------------------- effects
def paired_interval(desk: Sequence[float], ablated: Sequence[float], *, resamples: int = RESAMPLES,
                    level: float = LEVEL, seed: int = 0) -> tuple[float, float] | None:
    """The percentile interval of mean(desk - ablated) under the paired bootstrap over folds (None: one fold)."""
    d, a = np.asarray(desk, dtype=float), np.asarray(ablated, dtype=float)
    if len(d) != len(a):
        raise ValueError(f"paired folds differ in number: {len(d)} and {len(a)}")
    if len(d) < 2:
        return None
    diff = d - a
    if np.all(diff == diff[0]):  # every resample has the same mean
        return float(diff[0]), float(diff[0])
    r = bootstrap((d, a), lambda x, y, axis=-1: np.mean(x - y, axis=axis), paired=True, vectorized=True,
                  n_resamples=resamples, confidence_level=level, method="percentile",
                  random_state=np.random.default_rng(seed))
    return float(r.confidence_interval.low), float(r.confidence_interval.high)


def effect(desk_era: float, ablated_era: float, desk_folds: Sequence[float], ablated_folds: Sequence[float], *,
           resamples: int = RESAMPLES, level: float = LEVEL, seed: int = 0) -> Effect:
    diffs = np.asarray(desk_folds, dtype=float) - np.asarray(ablated_folds, dtype=float)
    ci = paired_interval(desk_folds, ablated_folds, resamples=resamples, level=level, seed=seed)
    return Effect(desk=desk_era, ablated=ablated_era, effect=desk_era - ablated_era,
                  fold_mean=float(diffs.mean()) if len(diffs) else None, ci_low=ci[0] if ci else None,
                  ci_high=ci[1] if ci else None, helped=int(np.sum(diffs > 0)), folds=len(diffs))


def layer_eras(desk_eras: Mapping[str, Figures], desk_folds: Mapping[str, Figures],
               ablated_eras: Mapping[str, Figures], ablated_folds: Mapping[str, Figures], *,
               resamples: int = RESAMPLES, level: float = LEVEL) -> list[LayerEra]:
    """Each era's effects of one layer, its folds paired by year."""
    out = []
    for era in ERAS:
        if era not in desk_eras or era not in ablated_eras:
            continue
        years = sorted(y for y in desk_folds if y in ablated_folds and era_of(int(y)) == era)
        effects = {m: effect(getattr(desk_eras[era], m), getattr(ablated_eras[era], m),
                             [getattr(desk_folds[y], m) for y in years],
                             [getattr(ablated_folds[y], m) for y in years], resamples=resamples, level=level)
                   for m in METRICS}
        out.append(LayerEra(era=era, effects=effects))
    return out


def helps_both(eras: Sequence[LayerEra]) -> bool:
    got = {e.era: e.effects["sharpe"].effect for e in eras}
    return all(got.get(era, 0.0) > 0 for era in ("in_sample", "validation"))


# ---------------------------------------------------------------------------------------------------- the ledger
def build(eval_id: str, desk: CaseResult, ablated: Mapping[str, CaseResult],
          layers: Sequence[tuple[str, str, bool, str]], *, start: date, end: date, holdout: bool,
          resamples: int = RESAMPLES, level: float = LEVEL, seconds: float = 0.0) -> EdgeLedger:
    """The ledger from the desk's case and each layer's ablation case (``layers``: name, what, in use, why; a
    layer without a case in ``ablated`` is listed, not weighed)."""
    eras = era_bounds(start, end)
    desk_eras = case_figures(desk, end, eras)
    folds_of = {desk.label: case_figures(desk, end)}
    rows = []
    for name, what, in_use, why in layers:
        case = ablated.get(name)
        if case is None:
            rows.append(LayerRow(layer=name, what=what, in_use=in_use, reason=why, case=None, helps_both_eras=None))
            continue
        folds_of[case.label] = case_figures(case, end)
        per_era = layer_eras(desk_eras, folds_of[desk.label], case_figures(case, end, eras), folds_of[case.label],
                             resamples=resamples, level=level)
        rows.append(LayerRow(layer=name, what=what, in_use=in_use, reason=why, case=case.label, eras=per_era,
                             helps_both_eras=helps_both(per_era), identical=case.series.desk == desk.series.desk))
    desk_rows = [DeskEra(era=era, desk=f, folds=sum(1 for y in folds_of[desk.label] if era_of(int(y)) == era),
                         permutation=desk.permutation.get(era)) for era, f in desk_eras.items()]
    return EdgeLedger(eval_id=eval_id, created=datetime.now(UTC).isoformat(timespec="seconds"), start=start,
                      end=end, holdout=holdout, eras=list(desk_eras), resamples=resamples, level=level,
                      seconds=round(seconds, 1), cases=1 + len(ablated), desk=desk_rows, folds=folds_of,
                      short_folds=sorted(set(yearly(_curves(desk, end)[0].index)) - set(folds_of[desk.label])),
                      layers=rows)


def load(folder: Path) -> EdgeLedger | None:
    """The ledger beside a decision eval's result, if that eval was a ledger; a damaged file is a one-line error."""
    path = folder / LEDGER
    if not path.exists():
        return None
    try:
        return EdgeLedger.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, OSError) as exc:
        raise DeskError(f"edge ledger {path} cannot be read ({type(exc).__name__}): run `desk eval edge` again") \
            from None
