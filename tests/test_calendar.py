"""Sessions beyond the data come from the XNYS calendar, whose sessions are cached under the desk's cache: the same
answers as the exchange calendar itself, from a damaged or short cache too."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd
import pytest

from tools import calendar

XNYS = xcals.get_calendar("XNYS", start="1990-01-01")
DATA = pd.DatetimeIndex(pd.bdate_range("2024-01-02", "2024-06-28"))


@pytest.fixture(autouse=True)
def fresh_process_cache():
    calendar._SESSIONS.clear()
    yield
    calendar._SESSIONS.clear()


def expected_next(day: pd.Timestamp) -> date:
    return (XNYS.next_session(day) if XNYS.is_session(day) else XNYS.date_to_session(day, "next")).date()


@pytest.mark.parametrize("day", ["2024-06-27", "2024-06-28", "2024-07-03", "2024-07-04", "2024-12-24",
                                 "2024-12-31", "2025-01-08", "2025-04-17", "2025-11-27"])
def test_next_session_beyond_the_data_is_the_exchanges(tmp_path: Path, day: str) -> None:
    ts = pd.Timestamp(day)
    assert calendar.next_session(ts.date(), DATA, tmp_path) == expected_next(ts)


def test_sessions_between_across_the_end_of_the_data_count_the_exchanges_sessions(tmp_path: Path) -> None:
    start, end = pd.Timestamp("2024-06-20"), pd.Timestamp("2024-07-10")
    inside = int(len(DATA) - DATA.searchsorted(start, side="right"))
    beyond = len(XNYS.sessions_in_range(DATA[-1] + pd.Timedelta(days=1), end))
    assert calendar.sessions_between(start.date(), end.date(), DATA, tmp_path) == inside + beyond
    assert calendar.sessions_between(end.date(), start.date(), DATA, tmp_path) == 0


def test_the_second_process_reads_the_cached_sessions_without_building_the_calendar(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    calendar.next_session(date(2024, 7, 3), DATA, tmp_path)
    [file] = (tmp_path / "calendar").glob("xnys-sessions-*.parquet")
    calendar._SESSIONS.clear()
    monkeypatch.setattr(calendar, "_xnys", lambda: pytest.fail("the calendar was built again"))
    assert calendar.next_session(date(2024, 7, 3), DATA, tmp_path) == date(2024, 7, 5)
    assert file.exists()


def test_a_damaged_or_short_cache_builds_the_calendar_again(tmp_path: Path, caplog) -> None:
    calendar.next_session(date(2024, 7, 3), DATA, tmp_path)
    [file] = (tmp_path / "calendar").glob("*.parquet")
    file.write_bytes(b"not parquet")
    calendar._SESSIONS.clear()
    with caplog.at_level(logging.WARNING, logger="desk.calendar"):
        assert calendar.next_session(date(2024, 12, 24), DATA, tmp_path) == date(2024, 12, 26)
    assert "unreadable" in caplog.text
    pd.DataFrame({"session": pd.DatetimeIndex(["2024-07-01", "2024-07-02"])}).to_parquet(file)   # ends too early
    calendar._SESSIONS.clear()
    assert calendar.next_session(date(2024, 7, 3), DATA, tmp_path) == date(2024, 7, 5)
    assert pd.read_parquet(file)["session"].iloc[-1] > pd.Timestamp("2025-01-01")   # rewritten in full
