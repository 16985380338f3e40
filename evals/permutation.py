"""The permutation check: is the desk's choice of stocks better than random choices made at the same moments?

The desk's book is cut into **spells**: one symbol held from the close it was first held at to the close it was
last held at, with the desk's weight (market value over equity) at each of those closes. A **random book** keeps
every spell — when it starts, how long it lasts, the weight it carries each day — and gives it a symbol drawn at
random from the universe instead: one with a close on the spell's first day and not held by another spell of the
same random book at the time. So each random book has the desk's daily invested fraction, its number of
positions, its entries and exits on the same days (its turnover) and its holding periods; only the names differ.

Both the desk and the random books are scored the same way: the holdings' return, each day's return being the sum
over spells of the weight at the previous close times the symbol's close-to-close return (closes of the market
view, no costs: costs do not depend on which names are held). The statistic is that return's annualised mean
(× 252). The p-value is one-sided, (1 + random books at or above the desk) / (1 + random books): small when the desk
chose better than chance. Seeded, so the same book gives the same p-value; vectorised over the random books.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

TRADING_DAYS = 252
BOOKS = 1000


class PermutationCheck(BaseModel):
    """The desk's selection against random books at its own exposure and turnover, over one period."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    end: date
    books: int = Field(description="random books drawn")
    spells: int = Field(description="holdings (one symbol from first to last close held) in the period")
    desk: float = Field(description="annualised mean daily return of the desk's holdings, no costs")
    random_mean: float = Field(description="the same figure averaged over the random books")
    random_p95: float = Field(description="the random books' 95th percentile")
    excess: float = Field(description="desk minus random_mean: what choosing the names earned, a year")
    p_value: float = Field(ge=0, le=1, description="(1 + random books at or above the desk) / (1 + books)")
    seed: int


@dataclass(frozen=True)
class Spell:
    column: int   # the symbol's column in the returns
    first: int    # row of the first close held
    last: int     # row of the last close held
    weights: np.ndarray  # weight at each close first..last


def spells(weights: np.ndarray) -> list[Spell]:
    """The spells of a (days × symbols) weight matrix: runs of positive weight per symbol, ordered by first day."""
    held = np.nan_to_num(weights, nan=0.0) > 0
    out: list[Spell] = []
    for col in range(held.shape[1]):
        h = held[:, col].astype(np.int8)
        edges = np.diff(np.concatenate(([0], h, [0])))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True):
            out.append(Spell(column=col, first=int(a), last=int(b), weights=weights[a:b + 1, col].astype(float)))
    out.sort(key=lambda s: (s.first, s.column))
    return out


def _book_returns(returns: np.ndarray, book: list[Spell], names: np.ndarray) -> np.ndarray:
    """(books × days) holdings returns: on day t the sum over spells of the weight at t-1 times the return at t of
    the spell's name in each book (``names``: spells × books)."""
    days = returns.shape[0]
    out = np.zeros((names.shape[1], days))
    for s, spell in enumerate(book):
        a, b = spell.first + 1, min(spell.last + 1, days - 1)  # returns earned on the days after each held close
        if b < a:
            continue
        w = spell.weights[: b - a + 1]
        out[:, a:b + 1] += (returns[a:b + 1][:, names[s]] * w[:, None]).T
    return out


def draw_names(book: list[Spell], quoted: np.ndarray, books: int, rng: np.random.Generator) -> np.ndarray:
    """(spells × books) random names: for each spell and book, a symbol quoted on the spell's first day and free in
    that book for the spell's whole span (spells are placed in order of their first day)."""
    symbols = quoted.shape[1]
    busy_until = np.full((books, symbols), -1, dtype=np.int64)
    names = np.empty((len(book), books), dtype=np.int64)
    rows = np.arange(books)
    for s, spell in enumerate(book):
        free = (busy_until < spell.first) & quoted[spell.first][None, :]
        scores = np.where(free, rng.random((books, symbols)), -1.0)
        pick = scores.argmax(axis=1)
        stuck = scores[rows, pick] < 0  # no free quoted name (never with a universe larger than the book): its own
        pick[stuck] = spell.column
        names[s] = pick
        busy_until[rows, pick] = spell.last
    return names


def check(weights: pd.DataFrame, closes: pd.DataFrame, periods: Mapping[str, tuple[date, date]], *,
          books: int = BOOKS, seed: int = 0) -> dict[str, PermutationCheck]:
    """The permutation check of a book over each period (name → first and last day of its returns).

    ``weights``: the desk's weight per symbol (columns) at each close (index: its sessions); ``closes``: the
    universe's closes, a superset of the weights' columns. Periods with no return inside are left out."""
    if books < 1:
        raise ValueError(f"a permutation check needs at least one random book, got {books}")
    cols = list(closes.columns)
    unknown = sorted(set(weights.columns) - set(cols))
    if unknown:
        raise ValueError(f"weights name symbols without closes: {', '.join(unknown)}")
    if weights.empty:
        return {}
    idx = closes.index[(closes.index >= weights.index[0]) & (closes.index <= weights.index[-1])]
    if len(idx) < 2:
        return {}
    px = closes.loc[idx, cols].to_numpy(dtype=float)
    w = weights.reindex(index=idx, columns=cols).ffill().fillna(0.0).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = px[1:] / px[:-1] - 1.0
    rets = np.vstack([np.zeros((1, len(cols))), np.nan_to_num(rets, nan=0.0, posinf=0.0, neginf=0.0)])
    quoted = np.isfinite(px) & (px > 0)
    book = spells(w)
    rng = np.random.default_rng(seed)
    names = draw_names(book, quoted, books, rng)
    random = _book_returns(rets, book, names)
    own = _book_returns(rets, book, np.array([[s.column] for s in book], dtype=np.int64).reshape(len(book), 1))[0] \
        if book else np.zeros(len(idx))
    out: dict[str, PermutationCheck] = {}
    dates = np.asarray(idx.date)
    for name, (a, b) in periods.items():
        inside = (dates >= a) & (dates <= b)
        inside[0] = False  # the first day has no return
        if not inside.any():
            continue
        desk = float(own[inside].mean() * TRADING_DAYS)
        rand = random[:, inside].mean(axis=1) * TRADING_DAYS
        first, last = np.flatnonzero(inside)[[0, -1]]
        n = sum(1 for s in book if s.first < last and s.last + 1 > first)
        out[name] = PermutationCheck(
            start=dates[first], end=dates[last], books=books, spells=n, desk=desk, random_mean=float(rand.mean()),
            random_p95=float(np.quantile(rand, 0.95)), excess=desk - float(rand.mean()),
            p_value=float((1 + np.sum(rand >= desk - 1e-15)) / (1 + books)), seed=seed)
    return out
