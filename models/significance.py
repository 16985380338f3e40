"""Is a model's margin real? A paired block bootstrap over the dates of its purged tail (ARCHITECTURE.md: Models).

A model and what it is compared with (a naive baseline, or the incumbent) are scored on the same dates. The dates
are resampled in blocks (a stationary bootstrap, Politis & Romano 1994, mean block length ≈ the label horizon, so
overlapping labels stay together), both sides are re-scored on every resample with their own stated metric, and
the margin's distribution gives a one-sided p-value: the share of resamples in which the model did not beat the
other side. A margin is significant when that share is below the promotion's alpha.

Each side is a ``Scored``: the date of each of its rows and a function scoring any selection of rows (with the
dates relabelled per drawn block, so a metric that averages over dates counts a date drawn twice twice). Resamples
are seeded: the same evidence always gives the same decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

RESAMPLES = 200
SEED = 20050101


@dataclass(frozen=True)
class Scored:
    """Rows one model (or baseline) was scored on, and how to score a selection of them."""

    dates: np.ndarray                                          # each row's date (datetime64)
    score: Callable[[np.ndarray, np.ndarray], float | None]    # (row indices, their relabelled dates) -> metric
    block: int = 5                                             # the label horizon: the bootstrap's mean block

    @classmethod
    def constant(cls, dates: np.ndarray, value: float, block: int = 5) -> Scored:
        """A baseline whose metric is a constant (zero skill: AUC 0.5, rank IC 0)."""
        return cls(dates, lambda rows, days: value, block)


@dataclass(frozen=True)
class MarginTest:
    versus: str
    margin: float
    low: float        # the 5% quantile of the bootstrapped margin
    high: float       # the 95% quantile
    p_value: float    # share of resamples where the margin was <= 0 (one-sided)
    n_dates: int
    resamples: int
    block: int

    def to_dict(self) -> dict[str, Any]:
        return {"versus": self.versus, "margin": round(self.margin, 6), "low": round(self.low, 6),
                "high": round(self.high, 6), "p_value": round(self.p_value, 4), "n_dates": self.n_dates,
                "resamples": self.resamples, "block": self.block, "method": "paired stationary block bootstrap"}

    def text(self, alpha: float) -> str:
        verdict = "significant" if self.p_value < alpha else "not significant"
        return (f"margin {self.margin:+.4f} over {self.versus}, 90% interval [{self.low:+.4f}, {self.high:+.4f}], "
                f"p {self.p_value:.3f} ({verdict} at {alpha:g}; paired block bootstrap over {self.n_dates} dates, "
                f"{self.resamples} resamples, mean block {self.block})")


@dataclass(frozen=True)
class _Groups:
    """Rows of each common date, as contiguous ranges of the rows sorted by date."""

    order: np.ndarray   # row indices sorted by date
    lo: np.ndarray      # each date's first position in ``order``
    size: np.ndarray    # each date's number of rows

    @classmethod
    def of(cls, dates: np.ndarray, days: np.ndarray) -> _Groups:
        order = np.argsort(dates, kind="stable")
        sorted_dates = dates[order]
        lo = np.searchsorted(sorted_dates, days, side="left")
        return cls(order, lo, np.searchsorted(sorted_dates, days, side="right") - lo)

    def pick(self, draw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the drawn dates (a date drawn twice gives its rows twice) and each row's draw label."""
        sizes = self.size[draw]
        total = int(sizes.sum())
        starts = np.cumsum(sizes) - sizes
        offset = np.arange(total) - np.repeat(starts, sizes)
        rows = self.order[np.repeat(self.lo[draw], sizes) + offset]
        return rows, np.repeat(np.arange(len(draw)), sizes).astype("datetime64[D]")


def _stationary(n: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """One stationary-bootstrap draw of n positions in 0..n-1 (circular), blocks of geometric length."""
    k = n // max(1, block) * 3 + 16                      # more blocks than n positions can need, nearly always
    lengths = rng.geometric(1.0 / max(1, block), size=k)
    while lengths.sum() < n:
        lengths = np.r_[lengths, rng.geometric(1.0 / max(1, block), size=k)]
    starts = rng.integers(n, size=len(lengths))
    ends = np.cumsum(lengths)
    pos = np.arange(n)
    which = np.searchsorted(ends, pos, side="right")
    offset = pos - (ends - lengths)[which]
    return (starts[which] + offset) % n


def paired_test(model: Scored, other: Scored, versus: str, resamples: int = RESAMPLES,
                seed: int = SEED) -> MarginTest | None:
    """The model's margin over ``other`` on their common dates, and its bootstrap distribution (None when there
    are fewer than two common dates or a side cannot be scored)."""
    days = np.intersect1d(np.unique(model.dates), np.unique(other.dates))
    if len(days) < 2:
        return None
    mine, theirs = _Groups.of(model.dates, days), _Groups.of(other.dates, days)
    everything = np.arange(len(days))
    first, second = model.score(*mine.pick(everything)), other.score(*theirs.pick(everything))
    if first is None or second is None:
        return None
    rng = np.random.default_rng(seed)
    block = max(model.block, other.block)
    margins = []
    for _ in range(resamples):
        draw = _stationary(len(days), block, rng)
        x, y = model.score(*mine.pick(draw)), other.score(*theirs.pick(draw))
        if x is not None and y is not None:
            margins.append(x - y)
    if not margins:
        return None
    m = np.asarray(margins)
    return MarginTest(versus=versus, margin=float(first - second), low=float(np.quantile(m, 0.05)),
                      high=float(np.quantile(m, 0.95)), p_value=float(np.mean(m <= 0)), n_dates=len(days),
                      resamples=len(m), block=block)
