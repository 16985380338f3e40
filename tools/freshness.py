"""How old the desk's market data is, in exchange sessions (ARCHITECTURE.md: invariant 8: stale data never opens a
position).

A night measures its data against a reference session: a night in history (a replay, ``desk run --date D`` for a
past D) against its own date D — no look-ahead, and history always runs; a live night (today's, the scheduler's,
or ``desk run`` on a live source) against the exchange calendar's last closed session as of the wall clock.
``desk status`` and ``/health`` measure the same way against the wall clock (``as_of_now``).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tools.calendar import last_closed_session, sessions_between


class Freshness(BaseModel):
    """The data's last session against a reference session: the age in sessions and whether it is within the limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    last_bar: date | None = Field(description="the data's last session (None: the store holds none)")
    reference: date = Field(description="the session the age is measured against")
    age_sessions: int | None = Field(description="sessions after last_bar up to and including reference")
    limit: int = Field(ge=0, description="data.max_age_sessions")
    live: bool = Field(description="measured against the wall clock's calendar (a live night), not a date in history")

    @property
    def stale(self) -> bool:
        return self.age_sessions is None or self.age_sessions > self.limit

    @property
    def reason(self) -> str:
        """One line: how old the data is and against what."""
        against = ("the exchange calendar's last closed session" if self.live else "the night's date")
        if self.last_bar is None:
            return f"no market data in the store ({against} is {self.reference})"
        age = self.age_sessions
        return (f"data ends {self.last_bar}, {age} session{'' if age == 1 else 's'} before {against} "
                f"{self.reference} (data.max_age_sessions = {self.limit})")


def measure(last_bar: date | None, reference: date, limit: int, *, live: bool, sessions: pd.DatetimeIndex,
            cache_dir: Path | None = None) -> Freshness:
    """The age of data ending ``last_bar`` against the ``reference`` session (``sessions``: the data's own, the XNYS
    calendar beyond them)."""
    age = None if last_bar is None else sessions_between(last_bar, reference, sessions, cache_dir)
    return Freshness(last_bar=last_bar, reference=reference, age_sessions=age, limit=limit, live=live)


def as_of_now(sessions: pd.DatetimeIndex, limit: int, now: datetime, cache_dir: Path | None = None) -> Freshness:
    """The data (``sessions``: the market's) against the calendar's last closed session as of ``now``: what
    ``desk status`` and ``/health`` show."""
    last = sessions[-1].date() if len(sessions) else None
    return measure(last, last_closed_session(now, cache_dir), limit, live=True, sessions=sessions,
                   cache_dir=cache_dir)
