"""Whom to trust: each agent's track record from its resolved picks, known by D only, and the nightly agent weights.

A row is one agent's part in one long pick (its signal = strength × confidence, the close it was made at, its
horizon). It *resolves* on the session ``horizon`` sessions after the one it was made on, and counts only when that
session is on or before D: nothing later is read. From the resolved rows:

- the win rate, mean win and mean loss (Kelly's calibration, tools.kelly);
- the rolling information coefficient: the rank correlation of the signal with the realised return;
- a Beta(1 + wins, 1 + losses) posterior over the trust window, Thompson-sampled each night with a generator
  seeded by (seed, D) — the same night always gives the same weights (TradeNova's nightly re-weighting). A
  posterior with fewer than ``min_draw_picks`` resolved picks in the window has no evidence to explore: its
  weight is the posterior mean, not a draw, so no noise enters the sizes of a desk that has not yet been judged
  (``trust.min_draw_picks = 0`` draws always, as before issue 18);
- drift: the live hit rate (the last ``drift_window`` sessions, rows of the agent's current model version only)
  against its reference rate (its older resolved rows); ``margin`` below it, with enough rows on both sides, is
  drift and cuts the weight until the agent is retrained (a new model version starts its live record afresh).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tools.closes import CloseArrays, close_arrays


class AgentRecord(BaseModel):
    """One agent's resolved track record on D."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: str
    resolved: int = Field(ge=0)
    wins: int = Field(ge=0)
    mean_win: float | None = None
    mean_loss: float | None = Field(None, description="mean absolute return of the losing picks")
    ic: float | None = Field(None, ge=-1, le=1, description="rank correlation of signal and realised return")
    window_wins: int = Field(0, ge=0, description="wins inside the trust (posterior) window")
    window_losses: int = Field(0, ge=0)
    live_rate: float | None = None
    live_n: int = 0
    reference_rate: float | None = None
    reference_n: int = 0


class AgentWeight(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: str
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)
    sample: float = Field(ge=0, le=1)
    weight: float = Field(ge=0)
    drift: bool
    reason: str


def _rank(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), vectorised."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    group = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    mean = np.bincount(group, weights=np.arange(len(x), dtype=float)) / np.bincount(group)
    out = np.empty(len(x))
    out[order] = mean[group]
    return out


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3:
        return None
    a, b = _rank(x), _rank(y)
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float(np.clip((a * b).sum() / denom, -1, 1)) if denom > 0 else None


@dataclass(frozen=True)
class Resolved:
    """Resolved rows as arrays: agent, signal, model version, the session position made on, return, win."""

    agent: np.ndarray
    signal: np.ndarray
    model_version: np.ndarray
    made: np.ndarray
    ret: np.ndarray

    def __len__(self) -> int:
        return len(self.ret)

    @property
    def win(self) -> np.ndarray:
        return self.ret > 0


_EMPTY = Resolved(*(np.array([], dtype=t) for t in (object, float, object, int, float)))


def columns(rows: Sequence[Mapping]) -> dict[str, list]:
    """Rows (dicts) as the columns ``resolve`` reads."""
    names = ("as_of", "agent", "symbol", "horizon_days", "reference_price", "signal", "model_version")
    return {n: [r[n] for r in rows] for n in names}


def resolve(picks: Mapping[str, Sequence] | Sequence[Mapping], close: pd.DataFrame | CloseArrays,
            as_of: date) -> Resolved:
    """The picks (columns, as the store gives them, or rows) resolved by ``as_of``. ``close`` may hold sessions
    after ``as_of``: they are never read (the truncation tests check both give the same answer)."""
    cols = picks if isinstance(picks, Mapping) else columns(picks)
    arr = close_arrays(close)
    if not len(cols["as_of"]) or arr.empty:
        return _EMPTY
    last = arr.last_on_or_before(as_of)
    made_on = cols["as_of"]
    if not (isinstance(made_on, np.ndarray) and made_on.dtype == "datetime64[D]"):
        made_on = np.array([str(d)[:10] for d in made_on], dtype="datetime64[D]")
    made = np.searchsorted(arr.sessions, made_on, side="right") - 1
    end = made + np.asarray(cols["horizon_days"], dtype=int)
    j = arr.columns_of(cols["symbol"])
    idx = np.flatnonzero((made >= 0) & (end <= last) & (j >= 0))
    ref = np.asarray(cols["reference_price"], dtype=float)[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = arr.values[end[idx], j[idx]] / ref - 1.0
    keep = np.isfinite(ret)
    idx, ret = idx[keep], ret[keep]
    return Resolved(agent=np.asarray(cols["agent"], dtype=object)[idx],
                    signal=np.asarray(cols["signal"], dtype=float)[idx],
                    model_version=np.asarray(cols["model_version"], dtype=object)[idx], made=made[idx], ret=ret)


def records(resolved: Resolved, agents: Sequence[str], last_session: int, *, trust_window: int,
            drift_window: int, min_ic_picks: int) -> dict[str, AgentRecord]:
    """Every agent's record from ``resolve``'s rows; ``last_session`` is D's session position."""
    out = {}
    for agent in agents:
        mine = resolved.agent == agent
        ret, made, win = resolved.ret[mine], resolved.made[mine], resolved.win[mine]
        versions = resolved.model_version[mine]
        inside = made > last_session - trust_window
        recent = made > last_session - drift_window
        live = recent & (versions == versions[-1]) if len(versions) else recent
        ref = ~recent
        losses = ret[~win]
        out[agent] = AgentRecord(
            agent=agent, resolved=int(len(ret)), wins=int(win.sum()),
            mean_win=float(ret[win].mean()) if win.any() else None,
            mean_loss=float(-losses.mean()) if len(losses) and -losses.mean() > 0 else None,
            ic=_spearman(resolved.signal[mine], ret) if len(ret) >= min_ic_picks else None,
            window_wins=int((win & inside).sum()), window_losses=int((~win & inside).sum()),
            live_rate=float(win[live].mean()) if live.any() else None, live_n=int(live.sum()),
            reference_rate=float(win[ref].mean()) if ref.any() else None, reference_n=int(ref.sum()))
    return out


def drifting(rec: AgentRecord, margin: float, min_picks: int) -> tuple[bool, str]:
    """Whether the agent's live hit rate fell ``margin`` below its reference rate (with enough rows on each side)."""
    if rec.live_rate is None or rec.reference_rate is None or min(rec.live_n, rec.reference_n) < min_picks:
        return False, (f"drift not judged ({rec.live_n} live, {rec.reference_n} reference resolved picks; "
                       f"need {min_picks})")
    if rec.live_rate < rec.reference_rate - margin:
        return True, (f"drift: live hit rate {rec.live_rate:.2f} over {rec.live_n} picks is below its reference "
                      f"{rec.reference_rate:.2f} by more than {margin:.2f}: down-weighted until retrained")
    return False, f"no drift: live {rec.live_rate:.2f} vs reference {rec.reference_rate:.2f}"


def thompson(recs: Mapping[str, AgentRecord], as_of: date, seed: int, *, margin: float, min_picks: int,
             drift_factor: float, mode: str = "thompson", min_draw_picks: int = 0) -> list[AgentWeight]:
    """Tonight's weight per agent (mean 1 over the agents): a draw from each Beta posterior with at least
    ``min_draw_picks`` resolved picks in its window (else the posterior mean), cut on drift; with ``mode = equal``
    every weight is 1 (the posteriors are still reported)."""
    rng = np.random.default_rng([seed, as_of.toordinal()])
    draws = []
    for agent in sorted(recs):
        rec = recs[agent]
        a, b = 1.0 + rec.window_wins, 1.0 + rec.window_losses
        draw = float(rng.beta(a, b))   # drawn for every agent, so one agent's evidence never shifts another's draw
        sample = draw if rec.window_wins + rec.window_losses >= min_draw_picks else a / (a + b)
        drift, why = drifting(rec, margin, min_picks)
        raw = 1.0 if mode == "equal" else sample * (drift_factor if drift else 1.0)
        draws.append((agent, a, b, sample, raw, drift, why))
    total = sum(d[4] for d in draws)
    n = len(draws)
    out = []
    for agent, a, b, sample, raw, drift, why in draws:
        weight = raw * n / total if total > 0 else 1.0
        seen = int(a + b - 2)
        how = ("equal weights" if mode == "equal" else
               f"Thompson draw {sample:.3f} from Beta({a:.0f}, {b:.0f})" if seen >= min_draw_picks else
               f"posterior mean {sample:.3f} of Beta({a:.0f}, {b:.0f}): {seen} resolved picks in the window, fewer "
               f"than {min_draw_picks} to draw from")
        out.append(AgentWeight(agent=agent, alpha=a, beta=b, sample=sample, weight=weight, drift=drift,
                               reason=f"{how} → weight {weight:.2f}; {why}"))
    return out
