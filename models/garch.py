"""GARCH(1,1) volatility forecasts per asset (arch; ARCHITECTURE.md: Models): the sizing step targets volatility with
them.

Per symbol, a constant-mean GARCH(1,1) with normal errors is fitted (arch) on the percent log returns of its
training window. The forecast on a date runs the variance recursion with those parameters over the returns up to
that date only, and gives the mean variance over the next ``horizon`` sessions (the usual closed form towards the
unconditional variance), annualised. Out of sample it must beat both naive forecasts of the same 21-session
realised variance - persistence (the trailing 21-session realised variance) and the training window's constant
variance - on the negative QLIKE loss (Patton 2011: robust to noise in the realised proxy), higher is better.
"""

from __future__ import annotations

import warnings
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from models.metrics import Evaluation, span
from models.significance import Scored
from models.small import SmallModel, SmallSpec, evaluate_small, fit_small

NAME = "garch"
INFERENCE_SESSIONS = 150   # the recursion's window on a night, started at the training variance


def default_recipe(seed: int = 0) -> dict[str, Any]:
    return {"horizon": 21, "window": "rolling", "train_years": 10, "val_fraction": 0.2, "min_dates": 500,
            "seed": seed, "features": ["log_return"]}


def _returns(close: np.ndarray) -> np.ndarray:
    """Percent log returns, sessions × symbols (NaN where either close is missing)."""
    out = np.full(close.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = 100 * np.diff(np.log(close), axis=0)
    return out


def _forward_rv(ret: np.ndarray, h: int) -> np.ndarray:
    """Mean squared return over the next h sessions (NaN when any is unknown or beyond the data)."""
    sq = pd.DataFrame(ret ** 2)
    return sq.rolling(h).mean().shift(-h).to_numpy()


def rows(inputs: Any, start: pd.Timestamp, end: pd.Timestamp, recipe: dict[str, Any]) -> dict[str, Any]:
    """Sessions in [start, end] whose forward realised variance the inputs hold (the label), with every symbol."""
    ret = _returns(inputs.close_matrix())
    rv = _forward_rv(ret, int(recipe["horizon"]))
    days = inputs.session_array()
    keep = (days >= np.datetime64(start, "ns")) & (days <= np.datetime64(end, "ns")) & np.isfinite(rv).any(axis=1)
    idx = np.flatnonzero(keep)
    return {"dates": days[idx], "idx": idx, "ret": ret, "rv": rv, "symbols": list(inputs.symbols)}


def _take(r: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    return {**r, "dates": r["dates"][mask], "idx": r["idx"][mask]}


def fit(r: dict[str, Any], recipe: dict[str, Any]) -> dict[str, Any]:
    from arch import arch_model

    params: dict[str, list[float]] = {}
    lo, hi = (int(r["idx"][0]), int(r["idx"][-1])) if len(r["idx"]) else (0, -1)
    for j, symbol in enumerate(r["symbols"]):
        x = r["ret"][lo:hi + 1, j]
        x = x[np.isfinite(x)]
        if len(x) < 250:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = arch_model(x, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False).fit(disp="off")
        mu, omega, alpha, beta = (float(res.params[k]) for k in ("mu", "omega", "alpha[1]", "beta[1]"))
        if not (omega > 0 and alpha >= 0 and beta >= 0 and alpha + beta < 1):
            continue   # a non-stationary fit forecasts nothing sensible: the symbol gets no forecast
        params[symbol] = [mu, omega, alpha, beta, float(np.var(x))]
    return {"params": params}


def _filter(ret: np.ndarray, p: np.ndarray) -> np.ndarray:
    """sigma²_{t+1} per session (the forecast made at t for t+1), sessions × symbols; p is symbols × 5.

    s²_{t+1} = ω + α·e²_t + β·s²_t from s² = the training variance; a missing return carries s² in place of e²
    (s²_{t+1} = ω + (α + β)·s²_t). A loop over the sessions, vectorised over the symbols: at 150 sessions a night it
    is cheaper than importing scipy.signal's lfilter into every run."""
    mu, omega, alpha, beta, var0 = p.T
    out = np.full(ret.shape, np.nan)
    s2 = var0.copy()
    e2 = (ret - mu) ** 2
    for t in range(len(ret)):
        s2 = omega + alpha * np.where(np.isfinite(e2[t]), e2[t], s2) + beta * s2
        out[t] = s2
    return out


def _filter_last(ret: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The last row of ``_filter`` (what a night's forecast needs) in closed form, without the loop over sessions:
    s²_T = P_0·s²_0 + Σ_k c_k·P_{k+1}, with a_t = β (α + β for a missing return), c_t = ω + α·e²_t (ω when missing)
    and P_k = a_k·…·a_{T-1}. The tests hold it to the loop."""
    mu, omega, alpha, beta, var0 = p.T
    e2 = (ret - mu) ** 2
    known = np.isfinite(e2)
    a = np.where(known, beta, alpha + beta)
    c = omega + alpha * np.where(known, e2, 0.0)
    tail = np.cumprod(a[::-1], axis=0)[::-1]                  # P_k for k = 0..T-1
    after = np.vstack([tail[1:], np.ones((1, a.shape[1]))])   # P_{k+1}
    return tail[0] * var0 + (c * after).sum(axis=0)


def _mean_forecast(next_var: np.ndarray, p: np.ndarray, h: int) -> np.ndarray:
    """Mean variance over the next h sessions from sigma²_{t+1} (closed form towards the unconditional variance)."""
    _, omega, alpha, beta, _ = p.T
    phi = alpha + beta
    uncond = omega / (1 - phi)
    return uncond + (next_var - uncond) * (1 - phi ** h) / (h * (1 - phi))


def _matrix(state: dict[str, Any], symbols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    have = np.array([s in state["params"] for s in symbols])
    p = np.array([state["params"].get(s, [0.0, 1.0, 0.0, 0.0, 1.0]) for s in symbols], dtype=float)
    return p, have


def evaluate(model: SmallModel, r: dict[str, Any], inputs: Any) -> Evaluation:
    h = model.horizon
    p, have = _matrix(model.state, r["symbols"])
    ret, rv, idx = r["ret"], r["rv"], r["idx"]
    n_dates, first, last = span(r["dates"])
    if len(idx) == 0 or not have.any():
        return Evaluation("neg_qlike", None, {"persistence": None, "constant": None}, 0, 0, first, last)
    forecast = _mean_forecast(_filter(ret, p), p, h)[idx][:, have]
    trailing = pd.DataFrame(ret ** 2).rolling(h).mean().to_numpy()[idx][:, have]
    constant = np.broadcast_to(p[have, 4], forecast.shape)
    truth = rv[idx][:, have]

    def neg_qlike(f: np.ndarray, rows: np.ndarray | slice = slice(None)) -> float | None:
        t, f = truth[rows], f[rows]
        ok = np.isfinite(t) & np.isfinite(f) & (f > 0) & (t > 0)
        if not ok.any():
            return None
        q = t[ok] / f[ok]
        return round(float(-np.mean(q - np.log(q) - 1)), 6)

    ok = np.isfinite(truth)
    scored = {name: Scored(r["dates"], lambda i, _, f=f: neg_qlike(f, i), h)
              for name, f in (("model", forecast), ("persistence", trailing), ("constant", constant))}
    return Evaluation("neg_qlike", neg_qlike(forecast), {"persistence": neg_qlike(trailing),
                                                         "constant": neg_qlike(constant)},
                      int(ok.sum()), n_dates, first, last, scored=scored)


class GarchModel(SmallModel):
    name = NAME

    def predict_at(self, inputs: Any, day: date, symbols: list[str]) -> dict[str, Any]:
        """Annualised forecast volatility over the next ``horizon`` sessions per symbol (None: no fit for it), from
        the returns of the INFERENCE_SESSIONS sessions to ``day``'s session (nothing after it)."""
        pos = inputs.position(day)
        cols = inputs.symbol_positions(symbols)
        close = inputs.close_matrix()[max(0, pos - INFERENCE_SESSIONS):pos + 1][:, cols]
        p, have = _matrix(self.state, list(symbols))
        ret = _returns(close)[1:]
        nxt = _filter_last(ret, p) if len(ret) else np.full(len(symbols), np.nan)
        ann = np.sqrt(252 * _mean_forecast(nxt, p, self.horizon)) / 100
        rows = {s: (float(v) if ok and np.isfinite(v) else None) for s, v, ok in zip(symbols, ann, have, strict=True)}
        return {"session": inputs.session(pos), "rows": rows}


SPEC = SmallSpec(name=NAME, prefix="garch11", model_cls=GarchModel, default_recipe=default_recipe, rows=rows,
                 fit=fit, evaluate=evaluate, dates=lambda r: r["dates"], take=_take)


def train(inputs: Any, cutoff: date, recipe: dict[str, Any] | None = None, progress: Any = None) -> GarchModel:
    return fit_small(SPEC, inputs, cutoff, recipe, progress)


def evaluate_between(model: GarchModel, inputs: Any, start: date, end: date) -> Evaluation:
    return evaluate_small(SPEC, model, inputs, start, end)
