"""Regime ensemble: a GRU with attention pooling and a Transformer encoder with a CLS token, over 21-session
sequences of market context, classifying the next 21 sessions into the desk's five regimes (ARCHITECTURE.md: Models).

Label: models.labels.forward_regime on the benchmark (rule and thresholds documented there), horizon 21
sessions, so the purge gap is 21. Inputs: 12 context series per session - the benchmark's 1- and 5-session log
returns, its trailing 21-session return and fall (the statistics the persistence baseline applies the label rule
to: a model that cannot see them starts behind its baseline) and eight weather columns available since 1990/91
(tools.weather.compute_weather).
VIX, liquidity, sentiment and rotation are left out: they exist only from 1999-2014 on, and the model must learn
from the 1990s crises too. Sizes follow TraderBot (ARCHITECTURE.md: reference systems): GRU 2 layers x 64 hidden;
Transformer 4 heads x 2 layers, d_model 32 (the smallest width four heads divide into 8-wide heads), feed-forward 64, sinusoidal
positions (Vaswani et al. 2017). Training: every 3rd session (the 21-session labels overlap), 8 epochs of batch
128, dropout 0.2, weight decay 1e-3, unweighted cross-entropy. Chosen on the in-sample era only (walk-forward
test years 2011-2014 and validation tails ending before 2015): the first setting tried (every session, 15
epochs of 64, dropout 0.1, decay 1e-4) memorised the overlapping windows - balanced accuracy 0.71 in sample,
0.20 out of sample - and took 2.5 minutes; the trailing 21-session return and fall as inputs raised the
2011-2014 mean test balanced accuracy from 0.195 to 0.216, and dropping the class weights (models.nn.class_weights,
still available with ``class_weighted``) raised it to 0.245 - still below the 0.251 of the best naive baseline.
Output: both nets' probabilities, their mean, and their
Jensen-Shannon disagreement in bits (0 agree .. 1 disjoint), which the fusion turns into a size cut.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from models import kernels
from models.deep import DeepModel
from models.errors import NoData
from models.inputs import ModelInputs
from models.labels import REGIME_HORIZON, forward_regime, trailing_fall, trailing_regime, trailing_return
from models.metrics import Evaluation, accuracy, balanced_accuracy, js_divergence, log_loss, span
from models.significance import Scored
from models.scaling import Standardizer
from models.training import ModelSpec, Rows, fit_window
from models.training import evaluate_between as training_evaluate_between
from vocab.terms import REGIME_NAMES

NAME = "regime"
WEATHER_FEATURES = ("bench_dist_sma200", "bench_ret_63d", "bench_vol_21d", "bench_drawdown", "macro_credit",
                    "vol_complexity", "fragility", "entropy_z")
FEATURES = ("bench_logret_1d", "bench_logret_5d", "bench_ret_21d", "bench_fall_21d", *WEATHER_FEATURES)
K = len(REGIME_NAMES)


def default_recipe(seed: int = 7) -> dict[str, Any]:
    return {"features": list(FEATURES), "sequence": 21, "horizon": REGIME_HORIZON, "window": "expanding",
            "train_years": None, "val_fraction": 0.2, "stride": 3, "min_dates": 500, "gru_hidden": 64,
            "gru_layers": 2, "tf_d_model": 32, "tf_heads": 4, "tf_layers": 2, "tf_ff": 64, "dropout": 0.2,
            "epochs": 8, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-3, "class_weighted": False,
            "seed": seed, "threads": 1}


def context(inputs: ModelInputs) -> np.ndarray:
    """Sessions × FEATURES: benchmark log returns over 1 and 5 sessions, the trailing 21-session return and fall
    (what the persistence baseline reads, models.labels), then the weather columns."""
    def compute() -> np.ndarray:
        bench = inputs.benchmark_array()
        logb = np.log(bench)
        r1, r5 = np.full(len(logb), np.nan), np.full(len(logb), np.nan)
        r1[1:], r5[5:] = logb[1:] - logb[:-1], logb[5:] - logb[:-5]
        h = REGIME_HORIZON
        return np.column_stack([r1, r5, trailing_return(bench, h)[:, 0], trailing_fall(bench, h)[:, 0],
                                inputs.weather_matrix(WEATHER_FEATURES)])
    return inputs.memo("regime:context", compute)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class RegimeEnsemble(DeepModel):
    name = NAME

    @staticmethod
    def build_nets(params: dict[str, Any]) -> dict[str, Any]:
        from models.regime_torch import build_nets

        return build_nets(params)

    def _export(self) -> dict[str, Any]:
        gru = self.arrays["gru"]
        return {"gru": gru, "gru_kernel": kernels.GRU(gru, "gru", self.params["gru_layers"]),
                "tf": self.arrays["transformer"], "scaler": Standardizer.from_dict(self.state["scaler"])}

    def probabilities(self, x: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """(GRU, Transformer) class probabilities for raw windows x (batch × sequence × features)."""
        k, p = self.kernels, self.params
        gru_out, tf_out = [], []
        for lo in range(0, len(x), chunk):
            z = k["scaler"].transform(x[lo:lo + chunk]).astype(np.float64)
            h = k["gru_kernel"](z)
            att = np.tanh(kernels.linear(h, k["gru"], "att"))
            w = _softmax(kernels.linear(att, k["gru"], "score")[..., 0])
            gru_out.append(_softmax(kernels.linear((w[..., None] * h).sum(axis=1), k["gru"], "head")))
            t = k["tf"]
            e = np.concatenate([np.broadcast_to(t["cls"], (len(z), 1, t["cls"].shape[-1])),
                                kernels.linear(z, t, "proj")], axis=1) + t["pe"]
            for layer in range(p["tf_layers"]):
                last = layer == p["tf_layers"] - 1
                e = kernels.transformer_layer(e, t, f"encoder.layers.{layer}", p["tf_heads"], first_only=last)
            tf_out.append(_softmax(kernels.linear(e[:, 0], t, "head")))
        return np.concatenate(gru_out), np.concatenate(tf_out)

    def predict_at(self, inputs: ModelInputs, day: Any) -> dict[str, Any]:
        """Probabilities for the last session on or before ``day``; reads only sessions up to it."""
        pos = inputs.position(day)
        length = int(self.params["sequence"])
        window = context(inputs)[max(0, pos - length + 1):pos + 1]
        if pos < length - 1 or not np.isfinite(window).all():
            bad = [FEATURES[j] for j in np.flatnonzero(~np.isfinite(window).all(axis=0))]
            raise NoData(f"regime inputs incomplete on {inputs.session(pos)}: the {length}-session window "
                         f"lacks {bad or 'sessions'} (warm-up or missing weather data)")
        gru, tf = (p[0] for p in self.probabilities(window[None]))
        mean = (gru + tf) / 2
        return {"session": inputs.session(pos), "gru": gru, "transformer": tf, "mean": mean,
                "disagreement": float(js_divergence(gru, tf))}

    def frame(self, inputs: ModelInputs) -> pd.DataFrame:
        """Every session's mean probabilities, regime and disagreement (NaN where the window is incomplete)."""
        x, ok = _windows(context(inputs), int(self.params["sequence"]))
        out = pd.DataFrame(np.nan, index=inputs.sessions, columns=[*REGIME_NAMES, "disagreement"])
        if ok.any():
            gru, tf = self.probabilities(x[ok])
            out.loc[out.index[ok], list(REGIME_NAMES)] = (gru + tf) / 2
            out.loc[out.index[ok], "disagreement"] = js_divergence(gru, tf)
        out["regime"] = pd.Series(np.asarray(REGIME_NAMES, dtype=object)[np.nan_to_num(
            out[list(REGIME_NAMES)].to_numpy()).argmax(axis=1)], index=out.index).where(ok)
        return out


def _windows(ctx: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Sessions × length × features windows ending at each session (zeros before ``length``) and a mask of
    complete ones."""
    x = np.zeros((len(ctx), length, ctx.shape[1]))
    if len(ctx) >= length:
        x[length - 1:] = sliding_window_view(ctx, length, axis=0).transpose(0, 2, 1)
    ok = np.isfinite(x).all(axis=(1, 2))
    ok[:length - 1] = False
    return x, ok


def rows(inputs: ModelInputs, start: pd.Timestamp, end: pd.Timestamp, recipe: dict[str, Any]) -> Rows:
    """One row per session in [start, end] with a complete window and a realised label (read from ``inputs``)."""
    x, ok = _windows(context(inputs), int(recipe["sequence"]))
    bench = inputs.benchmark_array()
    y, persist = forward_regime(bench, int(recipe["horizon"])), trailing_regime(bench, int(recipe["horizon"]))
    dates = inputs.sessions.to_numpy()
    keep = ok & (y >= 0) & (persist >= 0) & (dates >= np.datetime64(start)) & (dates <= np.datetime64(end))
    return Rows(dates[keep], {"x": x[keep], "y": y[keep], "persist": persist[keep]})


def _fit(train: Rows, recipe: dict[str, Any], progress) -> tuple[dict[str, Any], dict[str, Any]]:
    from models.regime_torch import fit_nets  # training needs torch; inference does not

    return fit_nets(train, recipe, progress)


def evaluate(model: RegimeEnsemble, data: Rows) -> Evaluation:
    """Balanced accuracy of the ensemble's argmax beside majority-class and persistence on the same rows."""
    y, n_dates, first, last = data.data["y"], *span(data.dates)
    if len(data) == 0:
        return Evaluation("balanced_accuracy", None, {"majority": None, "persistence": None}, 0, 0, None, None)
    gru, tf = model.probabilities(data.data["x"])
    mean = (gru + tf) / 2
    pred, flat = mean.argmax(axis=1), np.full(len(y), model.state["majority"])
    prior = np.asarray(model.state["class_counts"], dtype=float) + 1.0
    block, persist = int(model.horizon), data.data["persist"]
    scored = {"model": Scored(data.dates, lambda r, _: balanced_accuracy(y[r], pred[r]), block),
              "majority": Scored(data.dates, lambda r, _: balanced_accuracy(y[r], flat[r]), block),
              "persistence": Scored(data.dates, lambda r, _: balanced_accuracy(y[r], persist[r]), block)}
    return Evaluation(
        "balanced_accuracy", balanced_accuracy(y, pred),
        {"majority": balanced_accuracy(y, flat), "persistence": balanced_accuracy(y, data.data["persist"])},
        len(y), n_dates, first, last,
        extra={"accuracy": accuracy(y, pred), "log_loss": log_loss(y, mean),
               "gru_balanced_accuracy": balanced_accuracy(y, gru.argmax(axis=1)),
               "transformer_balanced_accuracy": balanced_accuracy(y, tf.argmax(axis=1)),
               "mean_disagreement": round(float(js_divergence(gru, tf).mean()), 6),
               "climatology_log_loss": log_loss(y, np.tile(prior / prior.sum(), (len(y), 1))),
               "majority_accuracy": accuracy(y, flat), "persistence_accuracy": accuracy(y, data.data["persist"]),
               "label_counts": np.bincount(y, minlength=K).tolist()}, scored=scored)


SPEC = ModelSpec(name=NAME, prefix="regime-gru-tf", model_cls=RegimeEnsemble, default_recipe=default_recipe,
                 rows=rows, fit=_fit, evaluate=evaluate)


def train(inputs: ModelInputs, cutoff, recipe: dict[str, Any] | None = None, progress=None) -> RegimeEnsemble:
    """The regime ensemble for ``cutoff`` (models.training.fit_window: reads nothing after the cutoff)."""
    return fit_window(SPEC, inputs, cutoff, recipe, progress)


def evaluate_between(model, inputs: ModelInputs, start, end) -> Evaluation:
    """The model on every row dated in [start, end] whose label ``inputs`` already hold."""
    return training_evaluate_between(SPEC, model, inputs, start, end)
