"""Volatility state: a Gaussian hidden Markov model (hmmlearn) on the benchmark's daily log return and the log of its
21-session realised volatility (Trade-Matrix sizes its Kelly fraction by such a state; ARCHITECTURE.md: Models).

The states are ordered by their mean volatility and named from calm to crisis (4 states: bull, neutral, bear,
crisis; 3: bull, neutral, crisis). The state on a date is the *filtered* posterior of its last session: the forward
pass over a window that ends on that date, so nothing after it is read. Out of sample the model must explain the
two series better than its naive baseline, a single Gaussian fitted on the same rows (mean log-likelihood per
session on the purged validation tail): a model that sees no states is no better than that.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from models.metrics import Evaluation, span
from models.significance import Scored
from models.small import SmallModel, SmallSpec, evaluate_small, fit_small
from vocab.terms import VOL_STATE_NAMES

NAME = "vol_state"
VOL_STATES: tuple[str, ...] = VOL_STATE_NAMES   # the four states, calm to crisis (vocab.terms.VolState)
_NAMES = {4: VOL_STATES, 3: ("bull", "neutral", "crisis")}
VOL_WINDOW = 21
INFERENCE_SESSIONS = 150   # the forward filter's window: seven months of sessions forget its starting guess


def default_recipe(seed: int = 7) -> dict[str, Any]:
    return {"n_states": 4, "n_iter": 20, "tol": 1e-2, "seed": seed, "horizon": 1,
            "window": "expanding", "val_fraction": 0.2, "min_dates": 500,
            "features": ["bench_log_return", "bench_log_vol_21d"]}


def features_of(bench: np.ndarray) -> np.ndarray:
    """Per session: [log return, log annualised 21-session realised vol]; NaN until 21 returns are known."""
    logret = np.full(len(bench), np.nan)
    logret[1:] = np.diff(np.log(bench))
    vol = pd.Series(logret).rolling(VOL_WINDOW).std().to_numpy() * np.sqrt(252)
    with np.errstate(divide="ignore"):
        return np.column_stack([logret, np.log(vol)])


def rows(inputs: Any, start: pd.Timestamp, end: pd.Timestamp, recipe: dict[str, Any]) -> dict[str, np.ndarray]:
    x = features_of(inputs.benchmark_array())
    days = inputs.session_array()
    keep = np.isfinite(x).all(axis=1) & (days >= np.datetime64(start, "ns")) & (days <= np.datetime64(end, "ns"))
    return {"dates": days[keep], "X": x[keep]}


def _take(r: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in r.items()}


def _hmm(state: dict[str, Any]):
    from hmmlearn.hmm import GaussianHMM

    n = len(state["startprob"])
    h = GaussianHMM(n_components=n, covariance_type="full")
    h.n_features = 2
    h.startprob_ = np.asarray(state["startprob"])
    h.transmat_ = np.asarray(state["transmat"])
    h.means_ = np.asarray(state["means"])
    h.covars_ = np.asarray(state["covars"])
    return h


def fit(r: dict[str, np.ndarray], recipe: dict[str, Any]) -> dict[str, Any]:
    from hmmlearn.hmm import GaussianHMM

    mu, sd = r["X"].mean(axis=0), r["X"].std(axis=0)
    z = (r["X"] - mu) / sd
    h = GaussianHMM(n_components=int(recipe["n_states"]), covariance_type="full", n_iter=int(recipe["n_iter"]),
                    tol=float(recipe["tol"]), random_state=int(recipe["seed"]))
    h.fit(z)
    order = np.argsort(h.means_[:, 1])   # calm to crisis, by mean (scaled log) volatility
    covars = h.covars_[order]
    return {"mu": mu.tolist(), "sd": sd.tolist(), "startprob": h.startprob_[order].tolist(),
            "transmat": h.transmat_[np.ix_(order, order)].tolist(), "means": h.means_[order].tolist(),
            "covars": covars.tolist(), "iid_mean": z.mean(axis=0).tolist(), "iid_cov": np.cov(z.T).tolist(),
            "names": list(_NAMES[int(recipe["n_states"])])}


def _iid_rows(z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Each row's log-density under the one Gaussian of the i.i.d. baseline."""
    d = z - mean
    inv, (_, logdet) = np.linalg.inv(cov), np.linalg.slogdet(cov)
    return -0.5 * (np.einsum("ij,jk,ik->i", d, inv, d) + logdet + z.shape[1] * np.log(2 * np.pi))


def _iid_loglik(z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    return float(np.mean(_iid_rows(z, mean, cov)))


def _hmm_rows(s: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """Each row's one-step predictive log-likelihood log p(z_t | z_1..z_t-1) under the HMM, from one forward pass
    over the whole ordered sequence (they sum to its log-likelihood): what a bootstrap over dates may resample.
    Scoring a resampled sequence instead would join unrelated blocks as if one followed the other and charge the
    HMM for transitions that never happened."""
    from hmmlearn._hmmc import forward_scaling

    logd = _log_density(s, z)
    shift = logd.max(axis=1)
    _, _, scaling = forward_scaling(np.asarray(s["startprob"], dtype=float), np.asarray(s["transmat"], dtype=float),
                                    np.exp(logd - shift[:, None]))
    return shift - np.log(scaling)


def evaluate(model: SmallModel, r: dict[str, np.ndarray], inputs: Any) -> Evaluation:
    s = model.state
    n_dates, first, last = span(r["dates"])
    if len(r["X"]) == 0:
        return Evaluation("loglik", None, {"iid_gaussian": None}, 0, 0, None, None)
    z = (r["X"] - np.asarray(s["mu"])) / np.asarray(s["sd"])
    hmm, mean, cov = _hmm(s), np.asarray(s["iid_mean"]), np.asarray(s["iid_cov"])
    value = hmm.score(z) / len(z)
    base = _iid_loglik(z, mean, cov)
    # per-row log-likelihoods, resampled by date; they are as persistent as volatility, so blocks of a month
    block = max(int(model.horizon), VOL_WINDOW)
    rows_hmm, rows_iid = _hmm_rows(s, z), _iid_rows(z, mean, cov)
    scored = {"model": Scored(r["dates"], lambda i, _: float(rows_hmm[i].mean()) if len(i) else None, block),
              "iid_gaussian": Scored(r["dates"], lambda i, _: float(rows_iid[i].mean()) if len(i) else None, block)}
    return Evaluation("loglik", round(float(value), 6), {"iid_gaussian": round(base, 6)}, len(z), n_dates, first, last,
                      scored=scored)


def _log_density(s: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """log N(z_t; mean_k, cov_k) per row and state."""
    out = np.empty((len(z), len(s["means"])))
    for k, (mean, cov) in enumerate(zip(np.asarray(s["means"]), np.asarray(s["covars"]), strict=True)):
        chol = np.linalg.cholesky(cov)
        d = np.linalg.solve(chol, (z - mean).T)
        out[:, k] = -0.5 * (d * d).sum(axis=0) - np.log(np.diag(chol)).sum() - 0.5 * z.shape[1] * np.log(2 * np.pi)
    return out


def filtered(s: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """The forward filter: P(state_t | z_1..z_t) for every row (each row reads only the rows before it) — hmmlearn's
    compiled scaled forward pass (its rows are the normalised alphas), the densities shifted per row for range."""
    return _forward(s, _densities(s, z))


def _densities(s: dict[str, Any], z: np.ndarray) -> np.ndarray:
    logd = _log_density(s, z)
    return np.exp(logd - logd.max(axis=1, keepdims=True))   # per row: a window's slice is shifted the same way


def _forward(s: dict[str, Any], dens: np.ndarray) -> np.ndarray:
    from hmmlearn._hmmc import forward_scaling

    _, alphas, _ = forward_scaling(np.asarray(s["startprob"], dtype=float), np.asarray(s["transmat"], dtype=float),
                                   dens)
    return alphas


def window_features(bench: np.ndarray, pos: int) -> np.ndarray:
    """The features of the sessions an inference on session ``pos`` reads: enough closes before the window that
    its first row is complete, and nothing after ``pos``."""
    return features_of(bench[max(0, pos - INFERENCE_SESSIONS - VOL_WINDOW - 1):pos + 1])


def posteriors_at(s: dict[str, Any], x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The filtered state probabilities on each of ``positions`` (rows of the session-aligned features ``x``), each
    from the forward pass over the INFERENCE_SESSIONS sessions that end there (nothing after it is read) - the same
    window a night's inference reads. A position without a complete feature row gets NaN."""
    ok = np.isfinite(x).all(axis=1)
    dens = np.full((len(x), len(s["means"])), np.nan)
    if ok.any():
        dens[ok] = _densities(s, (x[ok] - np.asarray(s["mu"])) / np.asarray(s["sd"]))
    out = np.full((len(positions), len(s["means"])), np.nan)
    cache: dict[int, np.ndarray] = {}
    for k, pos in enumerate(np.asarray(positions, dtype=int)):
        if pos not in cache:
            lo = max(0, pos - INFERENCE_SESSIONS)
            window = dens[lo:pos + 1][ok[lo:pos + 1]]
            cache[pos] = _forward(s, window)[-1] if ok[pos] else np.full(len(s["means"]), np.nan)
        out[k] = cache[pos]
    return out


class VolStateModel(SmallModel):
    name = NAME

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.state["names"])

    def predict_at(self, inputs: Any, day: date) -> dict[str, Any]:
        """The filtered state probabilities on the last session on or before ``day`` (only data to it is read)."""
        pos = inputs.position(day)
        x = window_features(inputs.benchmark_array(), pos)
        if not np.isfinite(x[-1]).all():
            from models.errors import NoData

            raise NoData(f"vol_state: fewer than {VOL_WINDOW + 1} benchmark closes up to {inputs.session(pos)}")
        s = self.state
        prob = posteriors_at(s, x, np.array([len(x) - 1]))[0]
        vols = np.exp(np.asarray(s["means"])[:, 1] * s["sd"][1] + s["mu"][1])
        return {"session": inputs.session(pos), "probabilities": prob, "state_vols": vols,
                "current_vol": float(np.exp(x[-1, 1]))}


SPEC = SmallSpec(name=NAME, prefix="volstate-hmm", model_cls=VolStateModel, default_recipe=default_recipe, rows=rows,
                 fit=fit, evaluate=evaluate, dates=lambda r: r["dates"], take=_take)


def train(inputs: Any, cutoff: date, recipe: dict[str, Any] | None = None, progress: Any = None) -> VolStateModel:
    return fit_small(SPEC, inputs, cutoff, recipe, progress)


def evaluate_between(model: VolStateModel, inputs: Any, start: date, end: date) -> Evaluation:
    return evaluate_small(SPEC, model, inputs, start, end)
