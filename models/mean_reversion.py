"""Mean reversion: a LightGBM classifier of "is the close ``horizon`` sessions ahead higher?" (ARCHITECTURE.md: Models).

It reads band z-scores, RSI and related per-asset features (vocab/contracts.py ASSET_FEATURES)
and is trained walk-forward: ``train`` is a pure function of (panel, closes, cutoff) that reads
nothing after the cutoff, so one training job can run anywhere (a loop today, Ray later).

The LightGBM parameters are fixed a priori, never tuned on data (the hold-out from 2019 on is
sacred, ARCHITECTURE.md: the hold-out). Why these values: daily direction is a low signal-to-noise target
(an out-of-sample AUC of 0.52 is good), so the model is kept small and heavily regularised —
shallow trees (15 leaves) that each need 200 rows per leaf, 200 trees at a learning rate of 0.05,
and row and column subsampling of 0.8 to lower variance. ``deterministic``, ``force_row_wise``,
one thread and a fixed seed make identical inputs give identical boosters.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.base import RecipeFields, code_version, read_meta, write_meta
from models.errors import NoData
from models.metrics import Evaluation, accuracy, auc, auc_rows, span
from models.significance import Scored
from models.walkforward import purged_split

NAME = "mean_reversion"
FEATURES: tuple[str, ...] = (
    "bb_z_20", "rsi_14", "ret_1d", "ret_5d", "ret_21d", "vol_21d", "dist_sma200", "drawdown_252d", "rs_63d",
)
LGBM_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "n_estimators": 200,
    "num_leaves": 15,
    "learning_rate": 0.05,
    "min_child_samples": 200,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}
VAL_FRACTION = 0.2
_BOOSTER_FILE = "booster.txt"
_META_FILE = "meta.json"
_FORMAT = 1


def recipe(train_years: int = 10, horizon: int = 5, seed: int = 7) -> dict[str, Any]:
    """Everything that defines a trained model besides its data: hashed into the version."""
    return {
        **LGBM_PARAMS,
        "random_state": seed,
        "features": list(FEATURES),
        "horizon": horizon,
        "train_years": train_years,
        "val_fraction": VAL_FRACTION,
    }


def version_for(cutoff: date, params: dict[str, Any]) -> str:
    """``mr-lgbm-<cutoff>-<8 hex>``: the same cutoff and recipe always give the same version."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return f"mr-lgbm-{cutoff.isoformat()}-{digest}"


def _with_timestamp_dates(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel with its (date, symbol) index as (Timestamp, str), whatever the date type was."""
    if panel.index.nlevels != 2:
        raise ValueError("panel must be indexed by (date, symbol); tools.features.asset_features builds one")
    dates = pd.DatetimeIndex(panel.index.get_level_values(0)).normalize()
    symbols = panel.index.get_level_values(1).astype(str)
    return panel.set_axis(pd.MultiIndex.from_arrays([dates, symbols], names=["date", "symbol"]))


def forward_returns(close: pd.DataFrame, horizon: int) -> pd.Series:
    """Close-to-close return over the next ``horizon`` sessions, as a (date, symbol) series (NaN at the end)."""
    wide = close.sort_index()
    wide.index = pd.DatetimeIndex(wide.index).normalize()
    forward = wide.shift(-horizon) / wide - 1.0
    stacked = forward.stack()
    stacked.index = stacked.index.set_names(["date", "symbol"])
    return stacked


def build_dataset(panel: pd.DataFrame, close: pd.DataFrame, horizon: int = 5) -> tuple[pd.DataFrame, pd.Series, pd.DatetimeIndex]:
    """Features, labels (forward return > 0, as 0/1) and row dates, without rows missing either."""
    missing = [name for name in FEATURES if name not in panel.columns]
    if missing:
        raise KeyError(f"panel lacks the features {missing}; build it with tools.features.asset_features")
    features = _with_timestamp_dates(panel)[list(FEATURES)].astype(float)
    forward = forward_returns(close, horizon).reindex(features.index)
    keep = features.notna().all(axis=1).to_numpy() & forward.notna().to_numpy()
    features = features[keep].sort_index()
    labels = (forward.reindex(features.index) > 0).astype(np.int8).rename("up")
    return features, labels, pd.DatetimeIndex(features.index.get_level_values("date"))


def training_rows(
    panel: pd.DataFrame, close: pd.DataFrame, cutoff: date, train_years: int = 10, horizon: int = 5
) -> tuple[pd.DataFrame, pd.Series, pd.DatetimeIndex]:
    """The rows a model with this cutoff may learn from: dated in the trailing ``train_years``
    window and with a label window (date + ``horizon`` sessions) ending on or before ``cutoff``.

    Closes after the cutoff are dropped before labels are computed, so none can leak in.
    """
    end = pd.Timestamp(cutoff)
    start = end - pd.DateOffset(years=train_years)
    known_close = close[pd.DatetimeIndex(close.index).normalize() <= end]
    framed = _with_timestamp_dates(panel)
    dates = framed.index.get_level_values("date")
    return build_dataset(framed[(dates > start) & (dates <= end)], known_close, horizon)


@dataclass
class TrainedModel(RecipeFields):
    """A fitted mean-reversion booster with its provenance and out-of-sample metrics."""

    version: str
    cutoff: date
    trained_on: tuple[date, date]
    n_rows: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    booster: lgb.Booster = field(repr=False)
    name: str = NAME
    train_seconds: float | None = None
    code: str | None = None
    validation_model: TrainedModel | None = field(default=None, repr=False, compare=False)

    seed_key: ClassVar[str] = "random_state"

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of an up move per row; NaN for a row missing any feature (never a guess)."""
        missing = [name for name in FEATURES if name not in X.columns]
        if missing:
            raise KeyError(f"cannot predict without the features {missing}")
        values = X[list(FEATURES)].to_numpy(dtype=float)
        complete = ~np.isnan(values).any(axis=1)
        out = np.full(len(values), np.nan)
        if complete.any():
            out[complete] = self.booster.predict(values[complete], num_threads=1)  # 20 rows: no thread pool
        return out

    def save(self, directory: Path) -> None:
        """Write the booster as a LightGBM text model plus JSON metadata into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # the text LightGBM's save_model writes, written by Python: a full disk is an OSError, not a native [Fatal]
        (directory / _BOOSTER_FILE).write_text(self.booster.model_to_string())
        meta = {
            "format": _FORMAT,
            "name": self.name,
            "version": self.version,
            "cutoff": self.cutoff.isoformat(),
            "trained_on": [day.isoformat() for day in self.trained_on],
            "n_rows": self.n_rows,
            "params": self.params,
            "metrics": self.metrics,
            "lightgbm": lgb.__version__,
            "horizon": self.horizon,
            "features": list(self.features),
            "seed": self.seed,
            "train_seconds": self.train_seconds,
            "code_version": self.code,
        }
        write_meta(directory, meta)

    @classmethod
    def load(cls, directory: Path) -> TrainedModel:
        """Read a model written by ``save``."""
        directory = Path(directory)
        meta = read_meta(directory)
        if meta.get("name") != NAME:
            raise ValueError(f"{directory} holds a {meta.get('name')!r} model, not {NAME!r}")
        first, last = (date.fromisoformat(day) for day in meta["trained_on"])
        return cls(
            version=meta["version"],
            cutoff=date.fromisoformat(meta["cutoff"]),
            trained_on=(first, last),
            n_rows=meta["n_rows"],
            params=meta["params"],
            metrics=meta["metrics"],
            booster=lgb.Booster(model_file=str(directory / _BOOSTER_FILE)),
            train_seconds=meta.get("train_seconds"),
            code=meta.get("code_version"),
        )

    def predict_at(self, inputs: Any, day: date, symbols: list[str]) -> dict[str, Any]:
        """Per symbol: P(up over the horizon) on the last session on or before ``day`` (None: a feature missing).
        ``inputs`` is a models.inputs.ModelInputs."""
        pos = inputs.position(day)
        x = inputs.asset_cube(FEATURES)[pos, inputs.symbol_positions(symbols)]
        ok = ~np.isnan(x).any(axis=1)
        probs = iter(self.booster.predict(x[ok], num_threads=1) if ok.any() else [])   # one thread: 20 rows
        return {"session": inputs.session(pos),
                "rows": {s: (float(next(probs)) if good else None) for s, good in zip(symbols, ok, strict=True)}}


def _fit(X: pd.DataFrame, y: pd.Series, params: dict[str, Any]) -> lgb.Booster:
    lgbm = {key: value for key, value in params.items() if key in LGBM_PARAMS or key == "random_state"}
    return lgb.LGBMClassifier(**lgbm).fit(X, y).booster_


def _validation_metrics(X: pd.DataFrame, y: pd.Series, dates: pd.DatetimeIndex, params: dict[str, Any]
                        ) -> tuple[dict[str, Any], lgb.Booster]:
    """Fit on the head of the window, score the purged tail: out-of-sample AUC and hit rate, and the
    common Evaluation (AUC beside zero skill and persistence); returns the metrics and the head's booster."""
    train, val = purged_split(dates, params["val_fraction"], gap=params["horizon"])
    booster = _fit(X[train], y[train], params)
    prob = booster.predict(X[val].to_numpy())
    truth = y[val].to_numpy()
    metrics = {
        "val_auc": float(roc_auc_score(truth, prob)) if len(np.unique(truth)) == 2 else None,
        "val_hit_rate": float(np.mean((prob > 0.5) == truth)),
        "val_base_rate": float(np.mean(truth)),
        "val_from": dates[val].min().date().isoformat(),
        "n_train": int(train.sum()),
        "n_val": int(val.sum()),
        "metric": "auc",
        "validation": _evaluation(X[val], truth, prob, float(np.mean(y[train]))).with_margin().to_dict(),
    }
    return metrics, booster


def train(
    panel: pd.DataFrame, close: pd.DataFrame, cutoff: date, train_years: int = 10, horizon: int = 5, seed: int = 7
) -> TrainedModel:
    """Train the model for ``cutoff`` on the trailing window (see ``training_rows``).

    Metrics come from the same recipe fitted on the window's head and scored on its purged
    tail; the booster that ships is then refit on the whole window so no recent data is wasted.
    """
    params = recipe(train_years, horizon, seed)
    X, y, dates = training_rows(panel, close, cutoff, train_years, horizon)
    if len(X) < 2 * LGBM_PARAMS["min_child_samples"]:
        raise ValueError(f"only {len(X)} complete training rows up to {cutoff}; need more history before the cutoff")
    started = time.perf_counter()
    metrics, head_booster = _validation_metrics(X, y, dates, params)
    booster = _fit(X, y, params)
    metrics["in_sample"] = _evaluation(X, y.to_numpy(), booster.predict(X.to_numpy()), float(np.mean(y))).to_dict()
    metrics["train_base_rate"] = float(np.mean(y))
    metrics["train_seconds"] = round(time.perf_counter() - started, 3)
    version = version_for(cutoff, params)
    model = TrainedModel(version=version, cutoff=cutoff, trained_on=(dates.min().date(), dates.max().date()),
                         n_rows=len(X), params=params, metrics=metrics, booster=booster,
                         train_seconds=metrics["train_seconds"], code=code_version(sys.modules[__name__]))
    head_dates = dates[purged_split(dates, params["val_fraction"], gap=params["horizon"])[0]]
    model.validation_model = TrainedModel(version=version + "+val", cutoff=cutoff,
                                          trained_on=(head_dates.min().date(), head_dates.max().date()),
                                          n_rows=len(head_dates), params=params, metrics={}, booster=head_booster)
    return model


def _evaluation(X: pd.DataFrame, truth: np.ndarray, prob: np.ndarray, base_rate: float) -> Evaluation:
    """AUC beside zero skill (0.5) and persistence (the trailing 5-session return as the score)."""
    dates = X.index.get_level_values("date").to_numpy()
    n_dates, first, last = span(dates)
    flat = np.full(len(truth), int(base_rate >= 0.5))
    trailing = X["ret_5d"].to_numpy()
    scored = {"model": Scored(dates, lambda r, _: auc_rows(truth[r], prob[r])),
              "persistence": Scored(dates, lambda r, _: auc_rows(truth[r], trailing[r])),
              "zero_skill": Scored.constant(dates, 0.5)}
    return Evaluation("auc", auc(truth, prob), {"zero_skill": 0.5, "persistence": auc(truth, trailing)},
                      len(truth), n_dates, first, last,
                      extra={"accuracy": accuracy(truth, (prob > 0.5).astype(int)),
                             "majority_accuracy": accuracy(truth, flat), "base_rate": float(np.mean(truth))},
                      scored=scored)


# ---------------------------------------------------------------------- the common machinery (models/train.py)
def default_recipe(seed: int = 7) -> dict[str, Any]:
    return recipe(seed=seed)


def train_on(inputs: Any, cutoff: date, params: dict[str, Any] | None = None, progress: Any = None) -> TrainedModel:
    """``train`` with the common signature: (models.inputs.ModelInputs, cutoff, recipe) -> TrainedModel."""
    params = {**default_recipe(), **(params or {})}
    fixed = {k for k, v in recipe(params["train_years"], params["horizon"], params["random_state"]).items()
             if params.get(k) != v}
    if fixed:
        raise ValueError(f"mean_reversion: only train_years, horizon and random_state may change; not {sorted(fixed)}")
    if progress is not None:
        progress("fit", 0, 1)
    model = train(inputs.panel, inputs.close, cutoff, train_years=params["train_years"], horizon=params["horizon"],
                  seed=params["random_state"])
    if progress is not None:
        progress("fit", 1, 1)
    return model


def evaluate_between(model: TrainedModel, inputs: Any, start: date, end: date) -> Evaluation:
    """The model on every row dated in [start, end] whose label the inputs already hold."""
    framed = _with_timestamp_dates(inputs.panel)
    dates = framed.index.get_level_values("date")
    X, y, _ = build_dataset(framed[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))], inputs.close,
                            model.horizon)
    if len(X) == 0:
        raise NoData(f"no labelled mean-reversion rows between {start} and {end}")
    base_rate = float(model.metrics.get("train_base_rate", 0.5))
    return _evaluation(X, y.to_numpy(), model.booster.predict(X.to_numpy()), base_rate)
