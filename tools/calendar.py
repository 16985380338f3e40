"""Trading sessions: the data's own sessions where it has them, the XNYS exchange calendar beyond them."""

from __future__ import annotations

from datetime import date
from functools import cache

import pandas as pd


@cache
def _xnys():
    import exchange_calendars as xcals  # imported lazily: building the calendar costs ~0.3 s

    return xcals.get_calendar("XNYS", start="1990-01-01")


def next_session(day: date, sessions: pd.DatetimeIndex) -> date:
    """The first trading session after ``day``."""
    ts = pd.Timestamp(day)
    pos = sessions.searchsorted(ts, side="right")
    if pos < len(sessions):
        return sessions[pos].date()
    return _xnys().next_session(ts).date() if _xnys().is_session(ts) else _xnys().date_to_session(ts, "next").date()


def sessions_between(start: date, end: date, sessions: pd.DatetimeIndex) -> int:
    """Number of sessions after ``start`` up to and including ``end`` (0 when end <= start)."""
    if end <= start:
        return 0
    a, b = pd.Timestamp(start), pd.Timestamp(end)
    last = sessions[-1] if len(sessions) else a
    if b <= last:
        return int(sessions.searchsorted(b, side="right") - sessions.searchsorted(a, side="right"))
    inside = int(len(sessions) - sessions.searchsorted(a, side="right"))
    extra = len(_xnys().sessions_in_range(max(a, last) + pd.Timedelta(days=1), b))
    return inside + extra
