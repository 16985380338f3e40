"""Asset health: an autoencoder (variational with ``variational=True``) over each asset's feature vector, with three
heads on its latent code (TraderBot; ARCHITECTURE.md: Models, reference systems).

- health score 0-1: trained (binary cross-entropy) against the asset's cross-sectional percentile of its next
  21-session return, so 0.5 is "an average name next month" and 0.35 "expected in the bottom third";
- volatility bucket low/medium/high of the next 21 sessions' realised vol (models.labels.VOL_EDGES);
- behaviour momentum/mean-reversion/mixed of the next 63 sessions (models.labels.behaviour_codes).
Labels reach 63 sessions ahead, so the purge gap (horizon) is 63. The stated metric is the health score's mean
daily rank IC with the next 21-session return, beside zero skill (0) and persistence (the trailing 21-session
return as the score); the two classification heads are reported beside majority class and persistence, and
the API lists which heads beat their baselines out of sample so a caller can ignore the others.

Sizes are fixed by convention, not tuned: 17 inputs -> 32 -> 32 -> an 8-dimensional latent (about half the input
width, a common bottleneck ratio), heads 8 -> 16 -> out; the reconstruction and the three head losses weigh the
same; the VAE's KL term weighs 0.1 (a light prior: the latent must stay informative for the supervised heads).
Training thins rows to every 5th date and uses a rolling 10-year window, the desk's convention for the per-asset
models (tools/agents.py mean reversion). Tried on the in-sample era and not kept: adding each feature's
cross-sectional percentile as a second input (the usual transform for cross-sectional targets) moved the
2011-2014 walk-forward mean rank IC from +0.003 to -0.025; both are noise beside persistence's +0.039.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models.deep import DeepModel
from models.inputs import ModelInputs
from models.labels import (BEHAVIOUR_WINDOW, VOL_HORIZON, behaviour_codes, cross_sectional_rank, forward,
                           trailing_autocorr, trailing_return, trailing_vol, vol_codes)
from models.metrics import Evaluation, accuracy, balanced_accuracy, mean_rank_ic, span
from models.significance import Scored
from models.scaling import Standardizer
from models.training import ModelSpec, Rows, fit_window
from models.training import evaluate_between as training_evaluate_between

NAME = "health"
# vocab.contracts.ASSET_FEATURES without the raw close (a price level says nothing comparable across assets).
FEATURES = ("ret_1d", "ret_5d", "ret_21d", "ret_63d", "ret_126d", "ret_252d", "vol_21d", "vol_63d", "drawdown_252d",
            "trend_strength", "rsi_14", "bb_z_20", "ema_cross", "ema_cross_prev", "ema_trend", "dist_sma200", "rs_63d")
RETURN_HORIZON = 21
HEADS = ("health", "vol_bucket", "behaviour")


def default_recipe(seed: int = 7, variational: bool = False) -> dict[str, Any]:
    return {"features": list(FEATURES), "horizon": BEHAVIOUR_WINDOW, "return_horizon": RETURN_HORIZON,
            "window": "rolling", "train_years": 10, "val_fraction": 0.2, "stride": 5, "min_dates": 500,
            "hidden": 32, "latent": 8, "variational": variational, "beta": 0.1, "epochs": 10, "batch_size": 256,
            "lr": 1e-3, "weight_decay": 1e-4, "seed": seed, "threads": 1}


def _mlp(x: np.ndarray, p: dict[str, np.ndarray], prefix: str, n_linear: int) -> np.ndarray:
    """nn.Sequential of Linear/ReLU pairs (indices 0, 2, ...), ReLU between, none after the last."""
    for i in range(n_linear):
        x = x @ p[f"{prefix}.{2 * i}.weight"].T + p[f"{prefix}.{2 * i}.bias"]
        if i < n_linear - 1 or prefix == "encoder":
            x = np.maximum(x, 0.0)
    return x


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class HealthModel(DeepModel):
    name = NAME

    @staticmethod
    def build_nets(params: dict[str, Any]) -> dict[str, Any]:
        from models.health_torch import build_nets

        return build_nets(params)

    def _export(self) -> dict[str, Any]:
        return {"p": self.arrays["ae"], "scaler": Standardizer.from_dict(self.state["scaler"])}

    def outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Health score, vol-bucket and behaviour probabilities for raw feature rows (no NaN)."""
        k = self.kernels
        p = k["p"]
        mu = _mlp(k["scaler"].transform(x).astype(np.float64), p, "encoder", 2) @ p["mu.weight"].T + p["mu.bias"]
        health = 1.0 / (1.0 + np.exp(-_mlp(mu, p, "health", 2)[:, 0]))
        return {"health": health, "vol": _softmax(_mlp(mu, p, "vol", 2)), "behaviour": _softmax(_mlp(mu, p, "behaviour", 2))}

    def predict_at(self, inputs: ModelInputs, day: Any, symbols: list[str]) -> dict[str, Any]:
        """Per symbol: outputs on the last session on or before ``day``, or None where a feature is missing."""
        pos = inputs.position(day)
        cols = inputs.symbol_positions(symbols)
        x = inputs.asset_cube(FEATURES)[pos, cols]
        ok = np.isfinite(x).all(axis=1)
        out = self.outputs(x[ok]) if ok.any() else None
        rows, j = {}, 0
        for symbol, complete in zip(symbols, ok, strict=True):
            if complete:
                rows[symbol] = {key: value[j] for key, value in out.items()}
                j += 1
            else:
                rows[symbol] = None
        return {"session": inputs.session(pos), "rows": rows}


def rows(inputs: ModelInputs, start: pd.Timestamp, end: pd.Timestamp, recipe: dict[str, Any]) -> Rows:
    """One row per (session, symbol) in [start, end] with complete features and all three labels."""
    close = inputs.close_matrix()
    h, w = int(recipe["return_horizon"]), int(recipe["horizon"])
    ret_fwd = forward(trailing_return(close, h), h)
    vol_now, rho_now = trailing_vol(close, VOL_HORIZON), trailing_autocorr(close, w)
    vol_y, beh_y = vol_codes(forward(vol_now, VOL_HORIZON)), behaviour_codes(forward(rho_now, w), w)
    vol_p, beh_p = vol_codes(vol_now), behaviour_codes(rho_now, w)
    x = inputs.asset_cube(FEATURES)
    dates = inputs.sessions.to_numpy()
    in_range = (dates >= np.datetime64(start)) & (dates <= np.datetime64(end))
    keep = (np.isfinite(x).all(axis=2) & np.isfinite(ret_fwd) & (vol_y >= 0) & (beh_y >= 0) & (vol_p >= 0)
            & (beh_p >= 0) & in_range[:, None])
    target = cross_sectional_rank(np.where(keep, ret_fwd, np.nan))
    t, s = np.nonzero(keep)
    return Rows(dates[t], {"x": x[t, s], "target": target[t, s], "ret_fwd": ret_fwd[t, s], "vol": vol_y[t, s],
                           "behaviour": beh_y[t, s], "vol_persist": vol_p[t, s], "beh_persist": beh_p[t, s],
                           "ret_trailing": trailing_return(close, h)[t, s]})


def _fit(train: Rows, recipe: dict[str, Any], progress) -> tuple[dict[str, Any], dict[str, Any]]:
    from models.health_torch import fit_nets     # training needs torch; inference does not

    return fit_nets(train, recipe, progress)


def _head(truth: np.ndarray, pred: np.ndarray, persist: np.ndarray, flat: int) -> dict[str, Any]:
    value = balanced_accuracy(truth, pred)
    baselines = {"majority": balanced_accuracy(truth, np.full(len(truth), flat)),
                 "persistence": balanced_accuracy(truth, persist)}
    best = max((v for v in baselines.values() if v is not None), default=None)
    return {"balanced_accuracy": value, "baselines": baselines, "accuracy": accuracy(truth, pred),
            "beats_baseline": value is not None and best is not None and value > best}


def evaluate(model: HealthModel, data: Rows) -> Evaluation:
    d, (n_dates, first, last) = data.data, span(data.dates)
    if len(data) == 0:
        return Evaluation("rank_ic", None, {"zero_skill": 0.0, "persistence": None}, 0, 0, None, None)
    out = model.outputs(d["x"])
    vol = _head(d["vol"], out["vol"].argmax(axis=1), d["vol_persist"], model.state["vol_majority"])
    beh = _head(d["behaviour"], out["behaviour"].argmax(axis=1), d["beh_persist"], model.state["behaviour_majority"])
    block, score, fwd, trailing = int(model.horizon), out["health"], d["ret_fwd"], d["ret_trailing"]
    scored = {"model": Scored(data.dates, lambda r, days: mean_rank_ic(days, score[r], fwd[r]), block),
              "persistence": Scored(data.dates, lambda r, days: mean_rank_ic(days, trailing[r], fwd[r]), block),
              "zero_skill": Scored.constant(data.dates, 0.0, block)}
    return Evaluation("rank_ic", mean_rank_ic(data.dates, out["health"], d["ret_fwd"]),
                      {"zero_skill": 0.0, "persistence": mean_rank_ic(data.dates, d["ret_trailing"], d["ret_fwd"])},
                      len(data), n_dates, first, last,
                      extra={"vol_bucket": vol, "behaviour": beh,
                             "health_mean": round(float(out["health"].mean()), 6),
                             "health_sd": round(float(out["health"].std()), 6)}, scored=scored)


SPEC = ModelSpec(name=NAME, prefix="health-ae", model_cls=HealthModel, default_recipe=default_recipe, rows=rows,
                 fit=_fit, evaluate=evaluate)


def train(inputs: ModelInputs, cutoff, recipe: dict[str, Any] | None = None, progress=None) -> HealthModel:
    """The health model for ``cutoff`` (models.training.fit_window: reads nothing after the cutoff)."""
    return fit_window(SPEC, inputs, cutoff, recipe, progress)


def evaluate_between(model, inputs: ModelInputs, start, end) -> Evaluation:
    """The model on every row dated in [start, end] whose label ``inputs`` already hold."""
    return training_evaluate_between(SPEC, model, inputs, start, end)
