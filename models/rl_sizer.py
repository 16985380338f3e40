"""The RL sizer (Trade-Matrix sizes with an RL agent): a stable-baselines3 PPO policy on a gymnasium environment over
the training window. It is promoted - and so may size anything (the sizing node's FULL_RL and BLENDED tiers) - only
if it beats Kelly (and the fixed size) out of sample, through the registry's gate like every model.

Rows: every (session, symbol) where a trend long fires by the trend agent's published entry rule (slope t-stat > 2,
positive 63- and 126-session returns, above the SMA200; tools/agents.py), with its forward return over HORIZON
sessions (the label). Observation: the proposal (strength, confidence as the agent computes them), the asset
(21-session volatility and return), the regime (the index's 21-session volatility and the filtered probabilities of
the four volatility states, bull to crisis) and the book (the gross the desk would hold that night if it took every
such signal at the base weight). Action: a size multiplier in [0, 1] of the base weight. Reward: the risk-adjusted
return after costs, a·r − cost·a − ½·γ·(a·r)², per row.

The volatility states come from a Gaussian HMM (models.vol_state) that the sizer fits itself, inside its own fit,
on the index sessions of its training rows only (to the last row's date), and keeps in its state: the validation
fit's HMM never saw the purged tail it is scored on, and inference reads the same HMM the policy was trained with,
over the same window as the vol_state tool (the INFERENCE_SESSIONS to the night, nothing after it).

Out of sample (the purged tail), each sizing rule's P&L per period is the mean over a date's rows of size × forward
return, on every HORIZON-th date so that periods do not overlap; the metric is its annualised Sharpe ratio, beside two baselines on the same rows: ``fixed``
(size 1) and ``kelly`` (half of the full Kelly fraction from the head's win rate and payoff, volatility-targeted).
"""

from __future__ import annotations

import base64
import io
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from models.metrics import Evaluation, span
from models.significance import Scored
from models.errors import NoModel
from models.small import SmallModel, SmallSpec, evaluate_small, fit_small
from models.vol_state import VOL_STATES, features_of, posteriors_at, window_features
from models.vol_state import fit as fit_vol_state

NAME = "rl_sizer"
HORIZON = 21
BASE_OBS: tuple[str, ...] = ("strength", "confidence", "vol_21d", "ret_21d", "index_vol_21d", "book_gross")
OBS_NAMES: tuple[str, ...] = BASE_OBS + tuple(f"p_{name}" for name in VOL_STATES)
HMM_RECIPE = {"n_states": len(VOL_STATES), "n_iter": 20, "tol": 1e-2}
FEATURES = ("trend_strength", "ret_63d", "ret_126d", "dist_sma200", "rs_63d", "vol_21d", "ret_21d")
TARGET_VOL = 0.25   # the desk's picks.target_vol default: the Kelly baseline is volatility-targeted the same way
BASE_WEIGHT = 0.20  # the desk's picks.base_weight default: a row's share of the book at full size


def default_recipe(seed: int = 7) -> dict[str, Any]:
    return {"timesteps": 20_000, "gamma_risk": 5.0, "cost": 0.001, "net": [32, 32], "lr": 3e-4, "n_steps": 512,
            "batch": 128, "seed": seed, "horizon": HORIZON, "window": "rolling", "train_years": 10,
            "val_fraction": 0.2, "min_dates": 250, "features": list(OBS_NAMES)}


def observation(strength: float, confidence: float, vol: float, ret_21d: float, index_vol: float,
                gross: float) -> np.ndarray:
    """One observation's first part (BASE_OBS; the sizer adds its volatility states); an unknown value is 0 (never a
    guessed size)."""
    x = np.array([strength, confidence, vol, ret_21d, index_vol, min(2.0, max(0.0, gross))], dtype=np.float32)
    return np.where(np.isfinite(x), x, 0.0).astype(np.float32)


def rows(inputs: Any, start: pd.Timestamp, end: pd.Timestamp, recipe: dict[str, Any]) -> dict[str, np.ndarray]:
    cube = inputs.asset_cube(FEATURES)                       # sessions × symbols × features
    close = inputs.close_matrix()
    days = inputs.session_array()
    h = int(recipe["horizon"])
    t, rs, r63, r126, dist, vol, r21 = (cube[:, :, i] for i in range(len(FEATURES)))
    with np.errstate(invalid="ignore"):
        fires = (t > 2.0) & (r126 > 0) & (r63 > 0) & (dist > 0)
    fwd = np.full(close.shape, np.nan)
    fwd[:-h] = close[h:] / close[:-h] - 1.0
    bench = inputs.benchmark_array()
    logret = np.r_[np.nan, np.diff(np.log(bench))]
    index_vol = pd.Series(logret).rolling(21).std().to_numpy() * np.sqrt(252)
    gross = np.minimum(1.0, fires.sum(axis=1) * BASE_WEIGHT)
    inside = (days >= np.datetime64(start, "ns")) & (days <= np.datetime64(end, "ns"))
    ok = fires & np.isfinite(fwd) & np.isfinite(vol) & inside[:, None]
    i, j = np.nonzero(ok)
    strength = np.minimum(1.0, t[i, j] / 8.0)
    confidence = np.minimum(1.0, 0.5 + np.maximum(0.0, np.nan_to_num(rs[i, j])) * 2.0)
    obs = np.column_stack([strength, confidence, vol[i, j], np.nan_to_num(r21[i, j]), np.nan_to_num(index_vol[i]),
                           gross[i]]).astype(np.float32)
    return {"dates": days[i], "obs": obs, "ret": fwd[i, j], "pos": i, "bench_x": features_of(bench)}


ROW_KEYS = ("dates", "obs", "ret", "pos")   # one entry per row; ``bench_x`` is per session of the inputs


def _take(r: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: (v[mask] if k in ROW_KEYS else v) for k, v in r.items()}


def _fit_hmm(r: dict[str, np.ndarray], seed: int) -> dict[str, Any]:
    """The sizer's own volatility-state HMM, on the index sessions its rows span (to the last row's date only)."""
    x = r["bench_x"][int(r["pos"].min()):int(r["pos"].max()) + 1]
    x = x[np.isfinite(x).all(axis=1)]
    return fit_vol_state({"X": x}, {**HMM_RECIPE, "seed": seed})


def full_obs(hmm: dict[str, Any], r: dict[str, np.ndarray]) -> np.ndarray:
    """The rows' observations with the filtered volatility states of their dates (0 where unknown)."""
    post = np.nan_to_num(posteriors_at(hmm, r["bench_x"], r["pos"]))
    return np.column_stack([r["obs"], post]).astype(np.float32)


def _kelly_size(state: dict[str, Any], obs: np.ndarray) -> np.ndarray:
    vol = obs[:, 2]
    target = np.where(vol > 0, np.minimum(1.0, TARGET_VOL / np.where(vol > 0, vol, 1.0)), 0.5)
    return np.full(len(obs), state["kelly_share"]) * target


def _env(r: dict[str, np.ndarray], recipe: dict[str, Any]):
    import gymnasium as gym

    class SizingEnv(gym.Env):
        """Each step is one signal row in date order: the action sizes it, the reward is its risk-adjusted return."""

        observation_space = gym.spaces.Box(-10.0, 10.0, shape=(len(OBS_NAMES),), dtype=np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)   # size = (action + 1) / 2
        episode = 256

        def __init__(self) -> None:
            self.obs, self.ret = r["obs"], r["ret"]
            self.i = self.stop = 0

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            top = max(1, len(self.ret) - self.episode)
            self.i = int(self.np_random.integers(0, top))
            self.stop = min(len(self.ret), self.i + self.episode)
            return self.obs[self.i], {}

        def step(self, action):
            a = float(np.clip((action[0] + 1.0) / 2.0, 0.0, 1.0))
            pnl = a * float(self.ret[self.i])
            reward = pnl - recipe["cost"] * a - 0.5 * recipe["gamma_risk"] * pnl * pnl
            self.i += 1
            done = self.i >= self.stop
            return self.obs[min(self.i, len(self.ret) - 1)], reward * 10.0, done, False, {}

    return SizingEnv()


def fit(r: dict[str, np.ndarray], recipe: dict[str, Any]) -> dict[str, Any]:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import Logger

    torch.set_num_threads(1)
    wins, losses = r["ret"][r["ret"] > 0], r["ret"][r["ret"] <= 0]
    p = len(wins) / max(1, len(r["ret"]))
    b = (wins.mean() / -losses.mean()) if len(wins) and len(losses) and losses.mean() < 0 else 1.0
    full = max(0.0, p - (1 - p) / b)
    hmm = _fit_hmm(r, int(recipe["seed"]))
    agent = PPO("MlpPolicy", _env({**r, "obs": full_obs(hmm, r)}, recipe), learning_rate=float(recipe["lr"]), n_steps=int(recipe["n_steps"]),
                batch_size=int(recipe["batch"]), seed=int(recipe["seed"]), verbose=0, device="cpu",
                policy_kwargs={"net_arch": list(recipe["net"])})
    agent.set_logger(Logger(folder=None, output_formats=[]))  # its default logger leaves an empty SB3-* folder in /tmp per fit
    agent.learn(total_timesteps=int(recipe["timesteps"]))
    buffer = io.BytesIO()
    agent.save(buffer)
    return {"policy": base64.b64encode(buffer.getvalue()).decode(), "kelly_share": min(1.0, 0.5 * full / BASE_WEIGHT),
            "head_p": p, "head_b": float(b), "hmm": hmm, "actor": _actor(agent.policy)}


def _actor(policy: Any) -> list[list[list[float]]]:
    """The deterministic action path of a PPO MlpPolicy as plain arrays: each hidden layer's [weight, bias] (tanh
    after each), then the action layer's. The policy's observation path is a flatten, so this is all of it."""
    import torch

    layers = [m for m in policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)] + [policy.action_net]
    if not all(isinstance(m, torch.nn.Tanh) for m in policy.mlp_extractor.policy_net
               if not isinstance(m, torch.nn.Linear)):
        raise ValueError("the RL sizer's policy is expected to use tanh activations")
    return [[m.weight.detach().cpu().numpy().tolist(), m.bias.detach().cpu().numpy().tolist()] for m in layers]


def actor_action(actor: list, obs: np.ndarray) -> np.ndarray:
    """The policy's deterministic action for each row (its mean, clipped to the action space), in numpy: a night
    asks the sizer without importing torch and stable-baselines3 (about 3 s)."""
    x = np.atleast_2d(obs).astype(np.float32)
    for i, (w, b) in enumerate(actor):
        x = x @ np.asarray(w, dtype=np.float32).T + np.asarray(b, dtype=np.float32)
        if i < len(actor) - 1:
            x = np.tanh(x)
    return np.clip(x, -1.0, 1.0)


def _sharpe(dates: np.ndarray, size: np.ndarray, ret: np.ndarray, horizon: int) -> float | None:
    """Annualised Sharpe of the per-period P&L (mean over a date's rows of size × forward return) on every
    ``horizon``-th date only, so the periods do not overlap. A rule that never bets has none."""
    if len(ret) == 0:
        return None
    unique = np.unique(dates)
    keep = np.isin(dates, unique[::horizon])
    period = pd.Series(size[keep] * ret[keep]).groupby(dates[keep]).mean()
    sd = float(period.std())
    return round(float(period.mean() / sd * np.sqrt(252 / horizon)), 6) if sd > 0 and len(period) > 2 else None


class RLSizer(SmallModel):
    name = NAME
    _policy: Any = None
    _layers: Any = None  # state["actor"] as float32 arrays, converted once
    _night: Any = None   # (inputs, day, volatility states): a night's entries ask for the same day's states

    def policy(self):
        if self._policy is None:
            from stable_baselines3 import PPO

            self._policy = PPO.load(io.BytesIO(base64.b64decode(self.state["policy"])), device="cpu")
        return self._policy

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic size multipliers in [0, 1], one per full observation row (OBS_NAMES): the policy's arrays
        in numpy (a sizer saved before they were kept asks the PPO policy itself)."""
        if "actor" in self.state:
            if self._layers is None:
                self._layers = [[np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32)]
                                for w, b in self.state["actor"]]
            action = actor_action(self._layers, obs)
        else:
            action, _ = self.policy().predict(np.atleast_2d(obs).astype(np.float32), deterministic=True)
        return np.clip((np.asarray(action, dtype=float).reshape(-1) + 1.0) / 2.0, 0.0, 1.0)

    def _hmm(self, day: date | None = None) -> dict[str, Any]:
        if "hmm" not in self.state:
            raise NoModel(NAME, day or self.cutoff, f"{self.version} was trained by an older desk, without the volatility states in "
                                     "its observation; retrain it (desk train --models rl_sizer)")
        return self.state["hmm"]

    def vol_states(self, inputs: Any, day: date) -> np.ndarray:
        """The filtered volatility-state probabilities of the sizer's own HMM on ``day``'s session (0 if unknown)."""
        hmm = self._hmm(day)
        held = self._night
        if held is not None and held[0] is inputs and held[1] == day:  # inputs are frozen: the same object, the same states
            return held[2].copy()
        x = window_features(inputs.benchmark_array(), inputs.position(day))
        states = np.nan_to_num(posteriors_at(hmm, x, np.array([len(x) - 1]))[0])
        self._night = (inputs, day, states)
        return states.copy()

    def size_at(self, inputs: Any, day: date, base: np.ndarray) -> float:
        """The size multiplier for one proposal on ``day`` from its BASE_OBS observation."""
        return float(self.act(np.concatenate([base, self.vol_states(inputs, day)]))[0])

    def rows_obs(self, r: dict[str, np.ndarray]) -> np.ndarray:
        return full_obs(self._hmm(), r)


def evaluate(model: RLSizer, r: dict[str, np.ndarray], inputs: Any) -> Evaluation:
    n_dates, first, last = span(r["dates"])
    if len(r["ret"]) == 0:
        return Evaluation("sharpe", None, {"kelly": None, "fixed": None}, 0, 0, first, last)
    h, ret = model.horizon, r["ret"]
    sizes = {"model": model.act(model.rows_obs(r)), "kelly": _kelly_size(model.state, r["obs"]), "fixed": np.ones(len(ret))}
    value, kelly, fixed = (_sharpe(r["dates"], sizes[k], ret, h) for k in ("model", "kelly", "fixed"))
    scored = {k: Scored(r["dates"], lambda i, days, size=size: _sharpe(days, size[i], ret[i], h), h)
              for k, size in sizes.items()}
    return Evaluation("sharpe", value, {"kelly": kelly, "fixed": fixed}, len(ret), n_dates, first, last, scored=scored)


SPEC = SmallSpec(name=NAME, prefix="rl-ppo", model_cls=RLSizer, default_recipe=default_recipe, rows=rows, fit=fit,
                 evaluate=evaluate, dates=lambda r: r["dates"], take=_take)


def train(inputs: Any, cutoff: date, recipe: dict[str, Any] | None = None, progress: Any = None) -> RLSizer:
    return fit_small(SPEC, inputs, cutoff, recipe, progress)


def evaluate_between(model: RLSizer, inputs: Any, start: date, end: date) -> Evaluation:
    return evaluate_small(SPEC, model, inputs, start, end)
