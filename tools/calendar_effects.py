"""Calendar effects from the XNYS exchange calendar: turn of month, options-expiry week, quarter end, pre-holiday.

The exchange publishes its calendar in advance, so knowing the next session at t is not look-ahead.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

CALENDAR = "XNYS"
CALENDAR_START = "1990-01-01"
FLAGS = ("turn_of_month", "opex_week", "quarter_end", "pre_holiday")
# Turn of month = last session of a month and the first three of the next (Ariel 1987; Lakonishok & Smidt 1988).
TOM_FIRST_SESSIONS = 3


@lru_cache(maxsize=1)
def planned_sessions() -> pd.DatetimeIndex:
    """XNYS sessions from 1990 to the calendar's published end, as scheduled in advance (tz-naive midnights).

    Ad-hoc closures (9/11, Hurricane Sandy, state funerals) were announced days or hours before, so they stay in
    as planned sessions: counting them as holidays would flag a 'pre-holiday' that nobody could have known.
    """
    import exchange_calendars as xcals  # lazily: a night whose weather is cached never needs it

    cal = xcals.get_calendar(CALENDAR, start=CALENDAR_START)
    sessions = pd.DatetimeIndex(cal.sessions).as_unit("ns")
    adhoc = pd.DatetimeIndex(cal.adhoc_holidays).as_unit("ns")
    adhoc = adhoc[(adhoc >= sessions[0]) & (adhoc <= sessions[-1]) & (adhoc.weekday < 5)]
    return sessions.union(adhoc)


def _third_friday(ts: pd.DatetimeIndex) -> np.ndarray:
    first = (ts.to_period("M").to_timestamp()).to_numpy().astype("datetime64[D]")
    return np.busday_offset(first, 2, roll="forward", weekmask="Fri")


def calendar_flags(dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Boolean flags per date plus ``known``: False where the date is not a planned XNYS session or the
    calendar does not reach its next session (then no flag is claimed)."""
    sessions = planned_sessions()
    days = pd.DatetimeIndex(dates).as_unit("ns")
    pos = sessions.get_indexer(days)
    known = (pos >= 0) & (pos + 1 < len(sessions))
    safe = np.where(known, pos, 0)
    nxt = sessions[np.minimum(safe + 1, len(sessions) - 1)]
    month_key = sessions.year * 12 + sessions.month
    starts = np.r_[True, month_key[1:] != month_key[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(sessions)), 0))
    rank_in_month = (np.arange(len(sessions)) - group_start)[safe]          # 0 = first session of the month
    last_of_month = np.asarray(nxt.month != days.month)
    d64 = days.to_numpy().astype("datetime64[D]")
    weekdays_between = np.busday_count(d64 + 1, nxt.to_numpy().astype("datetime64[D]"))
    friday = _third_friday(days)
    flags = pd.DataFrame({
        "turn_of_month": last_of_month | (rank_in_month < TOM_FIRST_SESSIONS),
        "opex_week": (d64 - days.weekday.to_numpy().astype("timedelta64[D]")) == friday - np.timedelta64(4, "D"),
        "quarter_end": last_of_month & np.isin(days.month, (3, 6, 9, 12)),
        "pre_holiday": weekdays_between > 0,
    }, index=dates)
    flags[~known] = False
    flags["known"] = known
    return flags
