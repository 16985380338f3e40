"""Master picks: score one symbol 0..350 from the proposals that survived the overlay, and adapt the bar.

Points (Master Picks; ARCHITECTURE.md: reference systems): signal 0..100, confidence 0..50, agreement 0..75,
regime 0..75, risk budget 0..50. Agent weights (Thompson-sampled elsewhere) weight every vote and every mean.

Where the fixed numbers come from: the point budget per part is Master Picks'. The regime table below is an a priori
ordering (the regime's hostility to a long, REGIME_ORDER): full points in a calm uptrend, none in a panic, the
steps between judged, not fitted. The adaptive threshold's window (30 sessions) is Master Picks' "previous 30 days'
hit rate"; its bands (raise below 0.50, lower above 0.55: a coin flip, and a five-point edge over it), its reach (+50 /
−25 points: a harder bar after a bad run than the relief after a good one, the asymmetric caution of Master Picks'
"calibrated nightly") and its minimum sample (10 resolved picks, below which a rate is mostly noise) are
conventions chosen before any replay was run; none was chosen by looking at data from 2019 on.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tools.closes import CloseArrays, close_arrays
from vocab.contracts import Proposal
from vocab.terms import REGIME_ORDER, Action, Regime

# Regime alignment for longs; shorts read the table backwards (mirror of REGIME_ORDER).
LONG_REGIME_POINTS: dict[Regime, float] = {
    Regime.CALM_UPTREND: 75.0, Regime.RISK_ON_TREND: 60.0, Regime.CHOPPY: 30.0, Regime.RISK_OFF_TREND: 10.0,
    Regime.HIGH_VOL_PANIC: 0.0,
}
SHORT_REGIME_POINTS: dict[Regime, float] = dict(zip(REGIME_ORDER,
                                                    reversed([LONG_REGIME_POINTS[r] for r in REGIME_ORDER]), strict=True))

_AGAINST = {"long": (Action.SELL_SHORT, Action.CLOSE_LONG), "short": (Action.BUY_LONG, Action.CLOSE_SHORT)}
_FOR = {"long": Action.BUY_LONG, "short": Action.SELL_SHORT}


class ScoreCard(BaseModel):
    """One symbol's master-picks score, every part bounded, with the agents behind it and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    direction: str = Field(pattern="^(long|short|flat)$")
    total: float = Field(ge=0, le=350)
    signal: float = Field(ge=0, le=100)
    confidence: float = Field(ge=0, le=50)
    agreement: float = Field(ge=0, le=75)
    regime: float = Field(ge=0, le=75)
    budget: float = Field(ge=0, le=50)
    agents: list[str]
    dissent: float = Field(ge=0, le=1)
    explanation: str

    @property
    def parts(self) -> dict[str, float]:
        return {"signal": self.signal, "confidence": self.confidence, "agreement": self.agreement,
                "regime": self.regime, "budget": self.budget}


def check_regime(regime: Regime | str) -> Regime:
    """Return ``regime`` as a Regime if it is one of the five; otherwise raise ValueError naming the closest one."""
    if regime in LONG_REGIME_POINTS:
        return Regime(regime)
    names = [r.value for r in REGIME_ORDER]
    hint = difflib.get_close_matches(str(regime), names, n=1)
    raise ValueError(f"unknown regime {regime!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                     + f" (known: {', '.join(names)})")


def _weights(proposals: Sequence[Proposal], agent_weights: Mapping[str, float] | None) -> dict[str, float]:
    """Weight per agent: a missing agent gets the mean of the given weights; non-finite or negative → 0."""
    given = {a: float(w) for a, w in (agent_weights or {}).items()}
    valid = [w for w in given.values() if math.isfinite(w) and w >= 0]
    default = sum(valid) / len(valid) if valid else 1.0
    out: dict[str, float] = {}
    for p in proposals:
        w = given.get(p.agent, default)
        out[p.agent] = w if math.isfinite(w) and w >= 0 else 0.0
    return out


def _one_vote_per_agent(proposals: Sequence[Proposal]) -> list[Proposal]:
    """An agent votes once per symbol: its latest proposal (by as_of, then by order given)."""
    latest: dict[str, Proposal] = {}
    for p in proposals:
        if p.agent not in latest or p.as_of >= latest[p.agent].as_of:
            latest[p.agent] = p
    return [latest[a] for a in sorted(latest)]


def _flat(symbol: str, why: str) -> ScoreCard:
    return ScoreCard(symbol=symbol, direction="flat", total=0.0, signal=0.0, confidence=0.0, agreement=0.0,
                     regime=0.0, budget=0.0, agents=[], dissent=0.0, explanation=f"{symbol} flat: {why}")


def score_symbol(symbol: str, proposals: Sequence[Proposal], regime: str, budget_free: float,
                 agent_weights: Mapping[str, float] | None = None) -> ScoreCard:
    """Score ``symbol`` from the proposals that survived the overlay (proposals for other symbols are ignored).

    Direction is the weighted vote of BUY_LONG against SELL_SHORT (a tie is flat); HOLD is a vote for
    neither side but counts among the agents that voted; CLOSE_LONG / CLOSE_SHORT count as dissent
    against long / short. A flat card scores 0.
    """
    check_regime(regime)
    votes = _one_vote_per_agent([p for p in proposals if p.symbol == symbol])
    if not votes:
        return _flat(symbol, "no surviving proposals")
    w = _weights(votes, agent_weights)
    total_w = sum(w[p.agent] for p in votes)
    if total_w <= 0:
        return _flat(symbol, "every voting agent has weight 0")
    long_w = sum(w[p.agent] for p in votes if p.action is Action.BUY_LONG)
    short_w = sum(w[p.agent] for p in votes if p.action is Action.SELL_SHORT)
    if long_w == short_w:
        why = "no BUY_LONG or SELL_SHORT votes" if long_w == 0 else f"long and short votes tie at {long_w:.2f}"
        return _flat(symbol, why)
    direction = "long" if long_w > short_w else "short"
    supporters = [p for p in votes if p.action is _FOR[direction]]
    support_w = long_w if direction == "long" else short_w
    against_w = sum(w[p.agent] for p in votes if p.action in _AGAINST[direction])
    share, dissent = support_w / total_w, min(1.0, against_w / total_w)

    # weighted means of values in [0, 1]; min() guards against an ulp of rounding over the bound
    signal = min(100.0, 100.0 * sum(w[p.agent] * p.strength for p in supporters) / support_w)
    confidence = min(50.0, 50.0 * sum(w[p.agent] * p.confidence for p in supporters) / support_w)
    agreement = 75.0 * max(0.0, share - dissent)
    regime_pts = (LONG_REGIME_POINTS if direction == "long" else SHORT_REGIME_POINTS)[regime]
    free = min(1.0, max(0.0, budget_free)) if math.isfinite(budget_free) else 0.0
    budget = 50.0 * free
    total = min(350.0, signal + confidence + agreement + regime_pts + budget)
    names = [p.agent for p in supporters]
    explanation = (
        f"{direction} {symbol} {total:.0f}/350: signal {signal:.0f} (mean strength of {', '.join(names)})"
        f" + confidence {confidence:.0f} + agreement {agreement:.0f} (support {share:.2f} − dissent {dissent:.2f}"
        f" of {len(votes)} agents) + regime {regime_pts:.0f} ({regime}) + budget {budget:.0f} ({free:.0%} free"
        + ("; budget share unknown → 0" if not math.isfinite(budget_free) else "") + ")"
    )
    return ScoreCard(symbol=symbol, direction=direction, total=total, signal=signal, confidence=confidence,
                     agreement=agreement, regime=regime_pts, budget=budget, agents=names, dissent=dissent,
                     explanation=explanation)


def hit_rate(picks: Sequence[Mapping] | Mapping[str, Sequence], close: pd.DataFrame | CloseArrays, as_of: date,
             window_sessions: int = 30) -> tuple[float | None, int]:
    """Share of recent picks that made money over their horizon, counting only picks resolved by ``as_of``.

    A pick made on session i with horizon h resolves on session i+h; it counts when that session is on or
    before ``as_of`` (no look-ahead) and the pick was made within the last ``window_sessions`` sessions.
    ``picks`` are rows, or columns (``Store.picks_between(…, arrays=True)``). A row may carry ``direction``
    ('short' wins when the return is < 0); otherwise it is a long pick.
    Rows with an unknown symbol, a missing close or a bad reference price are skipped, not guessed.
    Returns (hit rate or None when nothing resolved, number resolved).
    """
    arr = close_arrays(close)
    if arr.empty or window_sessions <= 0:
        return None, 0
    last = arr.last_on_or_before(as_of)
    cols = picks if isinstance(picks, Mapping) else {
        "as_of": [str(r["as_of"])[:10] for r in picks], "horizon_days": [int(r["horizon_days"]) for r in picks],
        "reference_price": [r["reference_price"] for r in picks], "symbol": [r["symbol"] for r in picks],
        "direction": [r.get("direction") for r in picks]}
    if last < 0 or not len(cols["as_of"]):
        return None, 0
    first = max(0, last - window_sessions + 1)
    made = np.asarray(cols["as_of"], dtype="datetime64[D]")
    pos = np.searchsorted(arr.sessions, made, side="right") - 1  # the session each pick was made on (or the last before)
    horizon = np.asarray(cols["horizon_days"], dtype=int)
    ref = np.asarray(cols["reference_price"], dtype=float)
    j = arr.columns_of(cols["symbol"])
    ok = (pos >= first) & (pos <= last) & (horizon >= 1) & (pos + horizon <= last) & (j >= 0)
    ok &= np.isfinite(ref) & (ref > 0)
    at = np.flatnonzero(ok)
    end = arr.values[pos[at] + horizon[at], j[at]]
    done = np.isfinite(end)
    at, ret = at[done], end[done] / ref[at[done]] - 1.0
    short = (np.asarray(cols["direction"], dtype=object)[at] == "short" if "direction" in cols
             else np.zeros(len(at), dtype=bool))
    n = len(ret)
    hits = int(np.where(short, ret < 0, ret > 0).sum())
    return (hits / n if n else None), n


def adaptive_threshold(base: float, hit_rate: float | None, n: int, min_n: int = 10) -> tuple[float, str]:
    """Raise the bar (up to +50) as the hit rate falls below 0.50; lower it (up to −25) above 0.55.

    Linear in between: +50 at a hit rate of 0, −25 at 1. The result stays within 0..350.
    """
    if hit_rate is None or n < min_n or not math.isfinite(hit_rate):
        return base, f"threshold {base:.0f} (base): not enough resolved picks ({n} < {min_n})"
    hr = min(1.0, max(0.0, hit_rate))
    if hr < 0.5:
        delta = 50.0 * (0.5 - hr) / 0.5
    elif hr > 0.55:
        delta = -25.0 * (hr - 0.55) / 0.45
    else:
        delta = 0.0
    value = min(350.0, max(0.0, base + delta))
    return value, (f"threshold {base:.0f} → {value:.1f} ({delta:+.1f}): hit rate {hr:.2f} over {n} resolved picks"
                   f" (raise below 0.50, lower above 0.55)")
