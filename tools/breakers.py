"""Circuit breakers (ARCHITECTURE.md: invariant 5): conditions that halt new entries by themselves, for a cool-off, and
say why.

A breaker is a row (name, the session it tripped, how many sessions it lasts, why). It is active on a date when
fewer than that many sessions have passed since it tripped. Exits are never blocked by a breaker.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Protocol

import pandas as pd

from tools.calendar import sessions_between


class TrippedBreaker(Protocol):
    """A breaker as the store records it (``memory.audit.Breaker``)."""

    @property
    def name(self) -> str: ...
    @property
    def tripped(self) -> date: ...
    @property
    def sessions(self) -> int: ...
    @property
    def reason(self) -> str: ...


def active(breakers: Iterable[TrippedBreaker], day: date, sessions: pd.DatetimeIndex) -> list[str]:
    """The reasons of the breakers still active on ``day``."""
    out = []
    for b in breakers:
        if b.tripped <= day and sessions_between(b.tripped, day, sessions) < b.sessions:
            out.append(f"circuit breaker {b.name} (tripped {b.tripped}, {b.sessions} sessions): {b.reason}")
    return out


def daily_loss(previous_equity: float | None, equity: float, limit: float) -> str | None:
    """Why the daily-loss breaker trips, or None: equity fell more than ``limit`` since the previous snapshot."""
    if not previous_equity or previous_equity <= 0:
        return None
    change = equity / previous_equity - 1
    if change <= -limit:
        return f"equity fell {change:.1%} in one session ({previous_equity:,.0f} → {equity:,.0f}; limit {limit:.0%})"
    return None


def consecutive_errors(statuses: Iterable[str], limit: int) -> str | None:
    """Why the error breaker trips, or None: the latest ``limit`` runs (newest first) all failed."""
    recent = list(statuses)[:limit]
    if len(recent) == limit and all(s == "error" for s in recent):
        return f"the last {limit} runs failed"
    return None
