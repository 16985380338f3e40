"""The desk's own track record: how its past confirmed, adjusted and vetoed entry proposals turned out.

An outcome is the forward return of the proposal's direction over its horizon, from the close of its date to the close
``horizon_days`` sessions later. It is *resolved* on a decision date D only when that later close is on or before D:
nothing after D reaches a prompt for D (ARCHITECTURE.md: invariant 4). The record looks back ``sessions_back`` sessions
from D.

Rows are read from the store once and kept; a later night reads only the dates it has not seen, so a replay pays one
small query per night.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from memory.store import Store

DECISIONS = ("confirm", "adjust", "veto")


@dataclass(frozen=True)
class Outcomes:
    """Resolved outcomes of one decision kind: how many, their mean forward return and the share that gained."""

    decision: str
    n: int
    mean_return: float
    hit_rate: float


class _Rows:
    """One symbol's decisions as growing arrays: session index of the proposal's date, the session index its
    outcome resolves on, the agent's code (``TrackRecord._agents``), the decision's index in DECISIONS; and the
    direction's sign."""

    def __init__(self) -> None:
        self.n = 0
        self._ints = np.empty((4, 64), dtype=np.int64)
        self._sign = np.empty(64, dtype=float)

    def add(self, start: int, end: int, agent: int, decision: int, sign: float) -> None:
        if self.n == len(self._sign):  # double the room: a night adds rows to most symbols
            self._ints = np.concatenate([self._ints, np.empty_like(self._ints)], axis=1)
            self._sign = np.concatenate([self._sign, np.empty_like(self._sign)])
        self._ints[:, self.n] = (start, end, agent, decision)
        self._sign[self.n] = sign
        self.n += 1

    def arrays(self) -> tuple[np.ndarray, ...]:
        start, end, agent, decision = self._ints[:, :self.n]
        return start, end, agent, decision, self._sign[:self.n]


class TrackRecord:
    """Resolved outcomes per symbol and agent, as known on a decision date."""

    def __init__(self, store: Store, closes: pd.DataFrame, sessions_back: int = 252) -> None:
        self.store, self.closes, self.sessions_back = store, closes, sessions_back
        self._sessions = pd.DatetimeIndex(closes.index)
        self._values = closes.to_numpy(dtype=float)
        self._column = {str(c): i for i, c in enumerate(closes.columns)}
        self._rows: dict[str, _Rows] = defaultdict(_Rows)
        self._agents: dict[str, int] = {}  # agent name -> code, in the order first read
        self._loaded: tuple[date, date] | None = None  # [first, end) of the dates read
        self._day: date | None = None  # the decision date whose answers ``_known`` holds
        self._known: dict[str, dict[str, list[Outcomes]] | None] = {}

    def _index(self, day: date) -> int:
        """The session index of the last session on or before ``day`` (-1 before the first)."""
        return int(self._sessions.searchsorted(pd.Timestamp(day), side="right")) - 1

    def _load(self, start: date, end: date) -> None:
        if self._loaded is None or start < self._loaded[0] or end < self._loaded[1]:
            self._rows.clear()
            self._agents.clear()
            rows, self._loaded = self.store.decisions_between(start, end), (start, end)
        elif end > self._loaded[1]:
            rows, self._loaded = self.store.decisions_between(self._loaded[1], end), (self._loaded[0], end)
        else:
            return
        for r in rows:
            at = self._index(r.as_of)
            horizon = int(r.horizon_days or 0)
            if at < 0 or horizon < 1 or r.decision not in DECISIONS:
                continue
            agent = self._agents.setdefault(r.agent, len(self._agents))
            self._rows[r.symbol].add(at, at + horizon, agent, DECISIONS.index(r.decision),
                                     1.0 if r.action == "BUY_LONG" else -1.0)

    def on(self, day: date, symbols: Iterable[str]) -> dict[str, dict[str, list[Outcomes]]]:
        """symbol -> agent (and ``"*"``, every agent) -> outcomes by decision, resolved by ``day``."""
        today = self._index(day)
        if today < 0 or self.sessions_back == 0:
            return {}
        first = max(0, today - self.sessions_back)
        self._load(self._sessions[first].date(), day)
        if day != self._day:  # the overlay and the risk reviewer of one night ask about the same date
            self._day, self._known = day, {}
        out: dict[str, dict[str, list[Outcomes]]] = {}
        for symbol in sorted(set(symbols)):
            if symbol not in self._known:
                self._known[symbol] = self._symbol(symbol, first, today)
            if self._known[symbol] is not None:
                out[symbol] = self._known[symbol]
        return out

    def _symbol(self, symbol: str, first: int, today: int) -> dict[str, list[Outcomes]] | None:
        rows, column = self._rows.get(symbol), self._column.get(symbol)
        if rows is None or column is None or not rows.n:
            return None
        start, end, agent, decision, sign = rows.arrays()
        known = np.flatnonzero((start >= first) & (end <= today))  # resolved on or before the decision date, never after
        if not len(known):
            return None
        price = self._values[:, column]
        returns = (price[end[known]] / price[start[known]] - 1.0) * sign[known]
        finite = np.isfinite(returns)
        returns, agents, decisions = returns[finite], agent[known][finite], decision[known][finite]
        names = {code: name for name, code in self._agents.items()}
        out = {"*": _outcomes(returns, decisions)} if len(returns) else {}
        for code in sorted(set(agents.tolist()), key=names.__getitem__):
            mine = agents == code
            out[names[code]] = _outcomes(returns[mine], decisions[mine])
        return out


def _outcomes(returns: np.ndarray, decisions: np.ndarray) -> list[Outcomes]:
    """Outcomes by decision kind, in DECISIONS order; each group's returns keep their row order (one mean, one way)."""
    order = np.argsort(decisions, kind="stable")
    counts = np.bincount(decisions, minlength=len(DECISIONS))
    out, at = [], 0
    for d, n in zip(DECISIONS, counts.tolist(), strict=True):
        if n:
            picked = returns[order[at:at + n]]  # the mean as ndarray.mean takes it (the same sum), without its overhead
            out.append(Outcomes(decision=d, n=n, mean_return=float(np.add.reduce(picked)) / n,
                                hit_rate=int(np.count_nonzero(picked > 0)) / n))
        at += n
    return out
