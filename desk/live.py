"""Live or history: which clock a run's data is measured against (ARCHITECTURE.md: invariant 8, no look-ahead).

A night in history (a past ``--date``, a replay, or ``desk run`` on history: the bundled data, which ends in 2022,
or a CSV file) is measured against its own date: what the desk held that night, so history always runs. A live night — ``--date``
today, the scheduler's night, or ``desk run`` without a date on a live data source — is measured against the
exchange calendar's last closed session as of the wall clock, and plans no entries on data older than
``data.max_age_sessions`` sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from desk.config import Settings
from graph.config import LIVE_SOURCES
from tools.calendar import NEW_YORK, last_closed_session


@dataclass(frozen=True)
class RunMode:
    """A run's clock: ``reference`` is the session a live night's data is measured against (None: history)."""

    live: bool
    reference: date | None
    asked: date | None
    source: str

    def say(self, day: date) -> str:
        """One progress line: which night this is and what its data is measured against ("" for a dated night in
        history: nothing to say)."""
        if self.live:
            ends = f"the data ends {day}" if day != self.reference else f"live night {day}"
            return f"{ends}: measured against the exchange calendar's last closed session {self.reference}"
        if self.asked is None:
            return (f"no --date: the night of {day}, the latest date with data, run as history (data.source = "
                    f"{self.source}); a live source or --date today is measured against today's calendar")
        return ""


def run_mode(settings: Settings, day: date | None, now: datetime | None = None,
             stored_source: str | None = None) -> RunMode:
    """Live when ``day`` is today (New York), or when no day is given and the data is live: ``data.source`` is a live
    source, or the store's benchmark was last loaded from one (``stored_source``: a `desk data load --source
    yfinance` makes the next run live whatever the setting). History otherwise."""
    now = now or datetime.now(UTC)
    today = now.astimezone(NEW_YORK).date()
    source = stored_source if stored_source in LIVE_SOURCES else settings.data.source
    live = day == today or (day is None and source in LIVE_SOURCES)
    reference = last_closed_session(now, settings.cache_dir) if live else None
    return RunMode(live=live, reference=reference, asked=day, source=source)
