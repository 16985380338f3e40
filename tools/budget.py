"""The book's risk budget: one stated annualised volatility (``sizing.target_vol``) the night's new entries are
scaled to, beside what the book already holds.

The book's forecast volatility is sqrt(wᵀ Σ w) over the held positions and the new entries (weights as shares of
equity), with Σ = D C D: each position's own volatility on the diagonal (a GARCH forecast when usable, else the
realised 21-session volatility, as the sizing step read it) and C the correlation of daily log returns over the
trailing ``window`` sessions up to the night (never a later close). Tonight's budget is the target times the
regime's one factor (the weather's share of the budget), so the regime shapes the book once.

The new entries are scaled by one ``s`` so that the book meets tonight's budget: wᵀΣw with w = held + s·new is a
quadratic in ``s``. ``scale`` solves it both ways (an under-used budget enlarges the entries, never the largest one
beyond ``max_entry``, the per-position cap, so the entries keep their relative sizes; the hard rules still have the
last word), ``cap`` only shrinks (s ≤ 1); a book already at or over its budget takes no new entries,
and says so. A symbol without a usable volatility or correlation is counted as perfectly correlated with the rest
at a conservative volatility (the highest known), never as riskless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

from tools.closes import CloseArrays

BudgetMode = Literal["scale", "cap", "off"]
WINDOW = 126         # sessions of daily returns behind the correlations (half a year)
MIN_RETURNS = 42     # fewer overlapping returns than this: the pair counts as perfectly correlated
FALLBACK_VOL = 0.60  # a position whose volatility nobody knows, when no other volatility is known either


@dataclass(frozen=True)
class BudgetReading:
    """What the budget step saw and did."""

    scale: float
    budget: float
    held_vol: float
    entries_vol: float
    book_vol: float
    reason: str


def correlation(arrays: CloseArrays, symbols: list[str], day: date, window: int = WINDOW) -> np.ndarray:
    """The correlation of daily log returns over the ``window`` sessions up to ``day`` (NaN where too few)."""
    n = len(symbols)
    out = np.full((n, n), np.nan)
    np.fill_diagonal(out, 1.0)
    last = arrays.last_on_or_before(day)
    cols = arrays.columns_of(symbols)
    if last < 1 or n < 2:
        return out
    px = arrays.values[max(0, last - window):last + 1][:, np.maximum(cols, 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(np.log(px), axis=0)
    r[:, cols < 0] = np.nan
    ok = np.isfinite(r)
    full = ok.all(axis=0)
    if full.sum() >= 2 and len(r) >= MIN_RETURNS:   # the usual night: one matrix for every column without a gap
        k = np.flatnonzero(full)
        out[np.ix_(k, k)] = np.corrcoef(r[:, k], rowvar=False)
    for i in range(n):
        for j in range(i + 1, n):
            if full[i] and full[j] and len(r) >= MIN_RETURNS:
                continue
            both = ok[:, i] & ok[:, j]
            if both.sum() < MIN_RETURNS:
                continue
            a, b = r[both, i], r[both, j]
            sa, sb = a.std(), b.std()
            if sa > 0 and sb > 0:
                out[i, j] = out[j, i] = float(((a - a.mean()) * (b - b.mean())).mean() / (sa * sb))
    return out


def _quadratic_scale(held: np.ndarray, new: np.ndarray, cov: np.ndarray, budget: float) -> float:
    """The largest s ≥ 0 with (held + s·new)ᵀ cov (held + s·new) ≤ budget² (0 when the held book fills it)."""
    a, b, c = float(new @ cov @ new), float(held @ cov @ new), float(held @ cov @ held)
    room = budget * budget - c
    if room <= 0 or a <= 0:
        return 0.0 if room <= 0 else math.inf
    return (-b + math.sqrt(max(0.0, b * b + a * room))) / a


def book_scale(held: Mapping[str, float], entries: Mapping[str, float], vols: Mapping[str, float],
               corr: np.ndarray, symbols: list[str], target: float, regime_share: float,
               mode: BudgetMode, max_entry: float = 1.0) -> BudgetReading:
    """The scale of tonight's new entries that meets the budget ``target × regime_share`` (see the module)."""
    budget = target * regime_share
    known = [v for v in vols.values() if math.isfinite(v) and v > 0]
    worst = max(known, default=FALLBACK_VOL)
    sigma = np.array([vols[s] if math.isfinite(vols.get(s, math.nan)) and vols[s] > 0 else worst for s in symbols])
    c = np.where(np.isfinite(corr), corr, 1.0)
    cov = c * np.outer(sigma, sigma)
    h = np.array([held.get(s, 0.0) for s in symbols])
    n = np.array([entries.get(s, 0.0) for s in symbols])
    held_vol = math.sqrt(max(0.0, float(h @ cov @ h)))
    entries_vol = math.sqrt(max(0.0, float(n @ cov @ n)))
    before = math.sqrt(max(0.0, float((h + n) @ cov @ (h + n))))
    tonight = (f"tonight's budget {budget:.1%} = target {target:.0%} × regime {regime_share:.2f}; held book "
               f"{held_vol:.1%}, with the entries at their cascade sizes {before:.1%}")
    if mode == "off":
        return BudgetReading(1.0, budget, held_vol, entries_vol, before, "sizing.budget = off: no book budget")
    if entries_vol <= 0:
        return BudgetReading(1.0, budget, held_vol, entries_vol, before, f"{tonight}: no entry to scale")
    if budget <= 0:
        return BudgetReading(0.0, budget, held_vol, entries_vol, held_vol, f"{tonight}: no budget tonight")
    s = _quadratic_scale(h, n, cov, budget)
    if s <= 0:
        return BudgetReading(0.0, budget, held_vol, entries_vol, held_vol,
                             f"{tonight}: the held book fills the budget, no room for new entries")
    if mode == "cap" and s >= 1.0:
        return BudgetReading(1.0, budget, held_vol, entries_vol, before,
                             f"{tonight}: within the budget (sizing.budget = cap: never enlarged)")
    largest = float(n.max())
    capped = s > 1 and largest * s > max_entry
    if capped:
        s = max(1.0, max_entry / largest)
    after = math.sqrt(max(0.0, float((h + s * n) @ cov @ (h + s * n))))
    if capped:
        how = f"enlarged ×{s:.2f} until the largest entry reaches the {max_entry:.0%} per-position cap (book {after:.1%})"
    else:
        how = f"{'enlarged' if s > 1 else 'shrunk'} ×{s:.2f} to meet it"
    return BudgetReading(s, budget, held_vol, entries_vol, after, f"{tonight}: entries {how}")
