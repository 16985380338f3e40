"""Trading sessions: the data's own sessions where it has them, the XNYS exchange calendar beyond them.

Building the XNYS calendar costs a few tenths of a second, paid by every `desk run` for the morning after the
data's last day. Its sessions are kept as a Parquet file under the desk's cache, named by the exchange_calendars
version (a new version may know of new holidays), and the calendar is built only when that file is missing,
unreadable or ends before the date asked about.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from functools import cache
from importlib.metadata import version
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from memory.parquet import write_atomically

log = logging.getLogger("desk.calendar")
NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE, EARLIEST_CLOSE = time(16, 0), time(13, 0)  # XNYS: 16:00, early closes at 13:00
_SESSIONS: dict[Path | None, pd.DatetimeIndex] = {}


@cache
def _xnys():
    import exchange_calendars as xcals  # imported lazily: building the calendar costs ~0.3 s

    return xcals.get_calendar("XNYS", start="1990-01-01")


def _cache_file(cache_dir: Path) -> Path:
    return Path(cache_dir) / "calendar" / f"xnys-sessions-{version('exchange_calendars')}.parquet"


def xnys_sessions(cache_dir: Path | None = None, needed: pd.Timestamp | None = None) -> pd.DatetimeIndex:
    """The XNYS sessions from 1990 to the calendar's published end (read from ``cache_dir`` when it holds them up
    to ``needed``, else built and written there)."""
    held = _SESSIONS.get(cache_dir)
    if held is not None and (needed is None or held[-1] > needed):
        return held
    if cache_dir is not None and (path := _cache_file(cache_dir)).exists():
        try:
            held = pd.DatetimeIndex(pd.read_parquet(path)["session"])
        except Exception as exc:  # noqa: BLE001 - derived data: build the calendar again
            log.warning("calendar cache %s unreadable (%s): building the calendar", path, exc)
            held = None
        if held is not None and len(held) and (needed is None or held[-1] > needed):
            _SESSIONS[cache_dir] = held
            return held
    held = pd.DatetimeIndex(_xnys().sessions).tz_localize(None).as_unit("ns")
    _SESSIONS[cache_dir] = held
    if cache_dir is not None:
        path = _cache_file(cache_dir)
        try:
            write_atomically(pd.DataFrame({"session": held}), path)
        except OSError as exc:  # costs speed on the next run, never this one: not a line in front of the user
            log.info("calendar cache %s not written (%s)", path, exc)
    return held


def next_session(day: date, sessions: pd.DatetimeIndex, cache_dir: Path | None = None) -> date:
    """The first trading session after ``day``."""
    ts = pd.Timestamp(day)
    pos = sessions.searchsorted(ts, side="right")
    if pos < len(sessions):
        return sessions[pos].date()
    xnys = xnys_sessions(cache_dir, needed=ts)
    if xnys[-1] > ts:
        return xnys[xnys.searchsorted(ts, side="right")].date()
    return _xnys().next_session(ts).date() if _xnys().is_session(ts) else _xnys().date_to_session(ts, "next").date()


def sessions_between(start: date, end: date, sessions: pd.DatetimeIndex, cache_dir: Path | None = None) -> int:
    """Number of sessions after ``start`` up to and including ``end`` (0 when end <= start)."""
    if end <= start:
        return 0
    a, b = pd.Timestamp(start), pd.Timestamp(end)
    last = sessions[-1] if len(sessions) else a
    if b <= last:
        return int(sessions.searchsorted(b, side="right") - sessions.searchsorted(a, side="right"))
    inside = int(len(sessions) - sessions.searchsorted(a, side="right"))
    after = max(a, last)
    xnys = xnys_sessions(cache_dir, needed=b)
    if xnys[-1] >= b:
        return inside + int(xnys.searchsorted(b, side="right") - xnys.searchsorted(after, side="right"))
    return inside + len(_xnys().sessions_in_range(after + pd.Timedelta(days=1), b))


def last_closed_session(now: datetime, cache_dir: Path | None = None) -> date:
    """The last XNYS session whose close (an early close included) is at or before ``now`` (a zone-aware time)."""
    if now.tzinfo is None:
        raise ValueError(f"last_closed_session needs a time with its zone, got {now!r}")
    local = now.astimezone(NEW_YORK)
    today = pd.Timestamp(local.date())
    sessions = xnys_sessions(cache_dir, needed=today)
    pos = int(sessions.searchsorted(today, side="right"))  # sessions[:pos] are on or before today
    if pos and sessions[pos - 1] == today and not _closed(today, local):
        pos -= 1
    if not pos:
        raise ValueError(f"no XNYS session closed before {now.isoformat()}")
    return sessions[pos - 1].date()


def _closed(session: pd.Timestamp, local: datetime) -> bool:
    """Whether ``session`` (today, in New York) has closed by ``local``; only a time between the earliest early close
    and the regular close builds the calendar to ask."""
    if local.time() >= REGULAR_CLOSE:
        return True
    if local.time() < EARLIEST_CLOSE:
        return False
    return _xnys().session_close(session) <= pd.Timestamp(local)
