"""Direction: a dual-branch network - a dense branch over each asset's static features and a liquid-time-constant
branch (ncps CfC, the closed-form LTC of Hasani et al. 2022, with AutoNCP wiring) over its last 21 sessions -
predicting P(the close 21 sessions ahead is higher) (mltrade; ARCHITECTURE.md: Models, reference systems).

Sequence channels per session, all known at the decision: the asset's daily log return and the benchmark's,
each divided by its own 63-session daily volatility at the window's end (so a "3" is a three-sigma day whatever
the name), and the RSI rescaled to about unit range, (RSI - 50) / 25. Static features: models.health.FEATURES.
The horizon, 21 sessions, is the trend agent's (tools/agents.py); it is also the purge gap.

Stated metric: AUC on the purged validation tail, beside zero skill (0.5) and persistence (the trailing
21-session return as the score: "it keeps going"). Sizes are fixed, not tuned: AutoNCP with 16 neurons and 4
motor outputs (ncps' documented small configuration; sparsity 0.5), a 17 -> 32 -> 16 dense branch with dropout
0.1, a 20 -> 16 -> 1 head; 8 epochs of batch 256 on every 5th date of a rolling 10-year window (models.training).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from models.deep import DeepModel
from models.health import FEATURES
from models.inputs import ModelInputs
from models.kernels import WiredCfC
from models.labels import ANNUAL, forward, log_returns, trailing_return, trailing_vol
from models.metrics import Evaluation, accuracy, auc, auc_rows, span
from models.scaling import Standardizer
from models.significance import Scored
from models.training import ModelSpec, Rows, fit_window
from models.training import evaluate_between as training_evaluate_between

NAME = "direction"
HORIZON = 21
SEQUENCE_CHANNELS = ("asset_logret_z", "bench_logret_z", "rsi_scaled")
VOL_WINDOW = 63


def default_recipe(seed: int = 7) -> dict[str, Any]:
    return {"features": list(FEATURES), "sequence_channels": list(SEQUENCE_CHANNELS), "sequence": 21,
            "horizon": HORIZON, "window": "rolling", "train_years": 10, "val_fraction": 0.2, "stride": 5,
            "min_dates": 500, "ncp_units": 16, "ncp_motor": 4, "dense": 32, "dropout": 0.1, "epochs": 8,
            "batch_size": 256, "lr": 1e-3, "weight_decay": 1e-4, "seed": seed, "threads": 1}


def sequences(inputs: ModelInputs, length: int) -> np.ndarray:
    """Sessions × symbols × length × channels windows ending at each session (a strided view; NaN-laden where a
    series is missing)."""
    def compute() -> np.ndarray:
        close, bench = inputs.close_matrix(), inputs.benchmark_array()
        rsi = inputs.asset_cube(("rsi_14",))[..., 0]
        scale = trailing_vol(close, VOL_WINDOW) / np.sqrt(ANNUAL)
        bench_scale = trailing_vol(bench, VOL_WINDOW)[:, 0] / np.sqrt(ANNUAL)
        n, s = close.shape
        out = np.full((n, s, length, len(SEQUENCE_CHANNELS)), np.nan, dtype=np.float32)
        if n >= length:
            win = lambda a: sliding_window_view(a, length, axis=0)  # n-length+1, ..., length
            with np.errstate(invalid="ignore", divide="ignore"):
                out[length - 1:, :, :, 0] = win(log_returns(close)) / scale[length - 1:, :, None]
                bench_z = win(log_returns(bench)[:, 0]) / bench_scale[length - 1:, None]
                out[length - 1:, :, :, 1] = bench_z[:, None, :]
                out[length - 1:, :, :, 2] = (win(rsi) - 50.0) / 25.0
        return out
    return inputs.memo(f"direction:seq:{length}", compute)


class DirectionModel(DeepModel):
    name = NAME

    @staticmethod
    def build_nets(params: dict[str, Any]) -> dict[str, Any]:
        from models.direction_torch import build_nets

        return build_nets(params)

    def _export(self) -> dict[str, Any]:
        arrays = self.arrays["net"]
        return {"p": arrays, "cfc": WiredCfC(arrays, "cfc.rnn_cell"),
                "static": Standardizer.from_dict(self.state["static"])}

    def p_up(self, static: np.ndarray, seq: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """P(up over the horizon) for raw static rows and raw sequences (no NaN)."""
        k = self.kernels
        p = k["p"]
        out = []
        for lo in range(0, len(static), chunk):
            x = k["static"].transform(static[lo:lo + chunk]).astype(np.float64)
            d = np.maximum(x @ p["dense.0.weight"].T + p["dense.0.bias"], 0.0)
            d = np.maximum(d @ p["dense.3.weight"].T + p["dense.3.bias"], 0.0)
            z = np.concatenate([d, k["cfc"](np.clip(seq[lo:lo + chunk].astype(np.float64), -5.0, 5.0))], axis=1)
            z = np.maximum(z @ p["head.0.weight"].T + p["head.0.bias"], 0.0) @ p["head.2.weight"].T + p["head.2.bias"]
            out.append(1.0 / (1.0 + np.exp(-z[:, 0])))
        return np.concatenate(out) if out else np.zeros(0)

    def predict_at(self, inputs: ModelInputs, day: Any, symbols: list[str]) -> dict[str, Any]:
        """Per symbol: P(up) on the last session on or before ``day``, or None where an input is missing."""
        pos = inputs.position(day)
        cols = inputs.symbol_positions(symbols)
        static = inputs.asset_cube(FEATURES)[pos, cols]
        seq = sequences(inputs, int(self.params["sequence"]))[pos, cols]
        ok = np.isfinite(static).all(axis=1) & np.isfinite(seq).all(axis=(1, 2))
        probs = self.p_up(static[ok], seq[ok]) if ok.any() else np.zeros(0)
        it = iter(probs)
        return {"session": inputs.session(pos),
                "rows": {s: (float(next(it)) if good else None) for s, good in zip(symbols, ok, strict=True)}}


def rows(inputs: ModelInputs, start: pd.Timestamp, end: pd.Timestamp, recipe: dict[str, Any]) -> Rows:
    """One row per (session, symbol) in [start, end] with complete inputs and a realised 21-session label."""
    close, h = inputs.close_matrix(), int(recipe["horizon"])
    ret_fwd, ret_now = forward(trailing_return(close, h), h), trailing_return(close, h)
    static, seq = inputs.asset_cube(FEATURES), sequences(inputs, int(recipe["sequence"]))
    dates = inputs.sessions.to_numpy()
    in_range = (dates >= np.datetime64(start)) & (dates <= np.datetime64(end))
    keep = (np.isfinite(static).all(axis=2) & np.isfinite(seq).all(axis=(2, 3)) & np.isfinite(ret_fwd)
            & np.isfinite(ret_now) & in_range[:, None])
    t, s = np.nonzero(keep)
    return Rows(dates[t], {"static": static[t, s], "seq": seq[t, s], "y": (ret_fwd[t, s] > 0).astype(np.float32),
                           "ret_trailing": ret_now[t, s]})


def _fit(train: Rows, recipe: dict[str, Any], progress) -> tuple[dict[str, Any], dict[str, Any]]:
    from models.direction_torch import fit_nets     # training needs torch; inference does not

    return fit_nets(train, recipe, progress)


def evaluate(model: DirectionModel, data: Rows) -> Evaluation:
    d, (n_dates, first, last) = data.data, span(data.dates)
    if len(data) == 0:
        return Evaluation("auc", None, {"zero_skill": 0.5, "persistence": None}, 0, 0, None, None)
    prob, y = model.p_up(d["static"], d["seq"]), d["y"].astype(int)
    flat = np.full(len(y), int(model.state["base_rate"] >= 0.5))
    block, trailing = int(model.horizon), d["ret_trailing"]
    scored = {"model": Scored(data.dates, lambda r, _: auc_rows(y[r], prob[r]), block),
              "persistence": Scored(data.dates, lambda r, _: auc_rows(y[r], trailing[r]), block),
              "zero_skill": Scored.constant(data.dates, 0.5, block)}
    return Evaluation("auc", auc(y, prob), {"zero_skill": 0.5, "persistence": auc(y, trailing)},
                      len(y), n_dates, first, last,
                      extra={"accuracy": accuracy(y, (prob > 0.5).astype(int)), "majority_accuracy": accuracy(y, flat),
                             "brier": round(float(np.mean((prob - y) ** 2)), 6), "base_rate": round(float(y.mean()), 6)},
                      scored=scored)


SPEC = ModelSpec(name=NAME, prefix="direction-cfc", model_cls=DirectionModel, default_recipe=default_recipe,
                 rows=rows, fit=_fit, evaluate=evaluate)


def train(inputs: ModelInputs, cutoff, recipe: dict[str, Any] | None = None, progress=None) -> DirectionModel:
    """The direction model for ``cutoff`` (models.training.fit_window: reads nothing after the cutoff)."""
    return fit_window(SPEC, inputs, cutoff, recipe, progress)


def evaluate_between(model, inputs: ModelInputs, start, end) -> Evaluation:
    """The model on every row dated in [start, end] whose label ``inputs`` already hold."""
    return training_evaluate_between(SPEC, model, inputs, start, end)
