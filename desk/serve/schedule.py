"""When the graphs run by themselves: APScheduler 3 cron jobs in America/New_York on the NYSE calendar.

- The night fires at ``schedule.night`` and the morning at ``schedule.morning`` (New York time), Monday to Friday.
- The exchange calendar decides (``exchange_calendars`` XNYS): on a holiday nothing runs; a night never starts
  sooner than ``schedule.after_close_minutes`` after that session's close — an early close (13:00) is the
  calendar's, so a night set for 13:30 runs at 13:30 on the day after Thanksgiving and waits for 16:15 on an ordinary
  day; a morning never starts sooner than ``after_open_minutes`` after the open. A fire too early is deferred to the
  earliest allowed time, once.
- Each job has ``max_instances=1`` and ``coalesce=True``: triggers missed while one ran collapse into one.
- Misfire policy: a fire missed by less than ``schedule.misfire_grace_minutes`` (the process was busy, suspended or
  restarted) still runs — on start, ``catch_up`` fires a phase whose time passed today within that grace; an older
  miss does not run by itself (run it with `desk ops run PHASE DATE`): it is a ``missed`` decision — heard like any
  other, so it is recorded as a skipped run with its reason (``desk.serve.ledger``) — whether APScheduler saw it
  pass (``EVENT_JOB_MISSED``: the process was busy or suspended) or ``catch_up`` finds it on start (the process was
  stopped at that time).
- A run key (phase, date) runs once however often it is triggered: the run function is the core's ``run`` with
  ``once`` (desk/actions/runs.py: the book's lock, then the store's record of that key).

Time comes from ``clock``: the tests drive the scheduler with a fake one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from graph.config import ScheduleSettings

log = logging.getLogger("desk.schedule")
NY = ZoneInfo("America/New_York")
PHASES = ("night", "morning")


@cache
def _xnys():
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start="2000-01-01")


class Calendar:
    """NYSE sessions, opens and closes (early closes included), in New York time."""

    def __init__(self, cal: Any | None = None) -> None:
        self.cal = cal or _xnys()

    def is_session(self, day: date) -> bool:
        return bool(self.cal.is_session(pd.Timestamp(day)))

    def open(self, day: date) -> datetime:
        return self.cal.session_open(pd.Timestamp(day)).to_pydatetime().astimezone(NY)

    def close(self, day: date) -> datetime:
        return self.cal.session_close(pd.Timestamp(day)).to_pydatetime().astimezone(NY)

    def previous(self, day: date) -> date:
        return self.cal.previous_session(pd.Timestamp(day)).date()


@dataclass(frozen=True)
class Fire:
    """What one trigger of a phase decided: run (the run key: phase and night date), skip, or defer."""

    phase: str
    action: str  # run | skip | defer | missed
    session: date
    night: date | None
    at: datetime | None
    reason: str


def _at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), NY)


def decide(phase: str, now: datetime, schedule: ScheduleSettings, cal: Calendar) -> Fire:
    """What a trigger of ``phase`` at ``now`` does, by the exchange calendar."""
    local = now.astimezone(NY)
    today = local.date()
    if not cal.is_session(today):
        return Fire(phase, "skip", today, None, None, f"NYSE is closed on {today:%a %Y-%m-%d}: no {phase} runs")
    if phase == "night":
        close = cal.close(today)
        earliest = close + timedelta(minutes=schedule.after_close_minutes)
        early = " (an early close)" if close.time() < time(16, 0) else ""
        if local < earliest:
            return Fire(phase, "defer", today, today, earliest,
                        f"the session closes at {close:%H:%M}{early}: the night waits until {earliest:%H:%M}")
        return Fire(phase, "run", today, today, None, f"the session closed at {close:%H:%M}{early}")
    opened = cal.open(today)
    earliest = opened + timedelta(minutes=schedule.after_open_minutes)
    if local < earliest:
        return Fire(phase, "defer", today, cal.previous(today), earliest,
                    f"the session opens at {opened:%H:%M}: the morning waits until {earliest:%H:%M}")
    return Fire(phase, "run", today, cal.previous(today), None, f"the session opened at {opened:%H:%M}")


RunFn = Callable[[str, date], Any]  # (phase, night date) -> the outcome
Clock = Callable[[], datetime]


class DeskSchedule:
    """The desk's jobs on an APScheduler 3 scheduler (a ``BackgroundScheduler`` in ``desk serve``)."""

    def __init__(self, schedule: ScheduleSettings, run: RunFn, *, clock: Clock,
                 calendar: Calendar | None = None, heard: Callable[[Fire, Any], None] = lambda f, o: None,
                 extra: dict[str, tuple[Callable[[], Any], int]] | None = None) -> None:
        self.schedule, self.run, self.clock = schedule, run, clock
        self.cal = calendar or Calendar()
        self.heard = heard  # hears every decision and what its run returned (or raised)
        self.extra = extra or {}  # name -> (job, every N seconds): the approval deadlines
        self.scheduler = None

    def install(self, scheduler) -> None:
        self.scheduler = scheduler
        grace = self.schedule.misfire_grace_minutes * 60
        for phase in PHASES:
            hh, mm = getattr(self.schedule, phase).split(":")
            scheduler.add_job(self.fire, CronTrigger(day_of_week="mon-fri", hour=int(hh), minute=int(mm),
                                                     timezone=NY),
                              args=[phase], id=phase, name=f"{phase} at {hh}:{mm} New York",
                              max_instances=1, coalesce=True, misfire_grace_time=grace, replace_existing=True)
        scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
        for name, (job, every) in self.extra.items():
            scheduler.add_job(job, "interval", seconds=every, id=name, name=name, max_instances=1, coalesce=True,
                              misfire_grace_time=every, replace_existing=True)

    def fire(self, phase: str) -> tuple[Fire, Any]:
        """One trigger of ``phase``: decide by the calendar, then run, skip or defer."""
        f = decide(phase, self.clock(), self.schedule, self.cal)
        outcome: Any = None
        if f.action == "run":
            try:
                outcome = self.run(phase, f.night)
            except Exception as exc:  # noqa: BLE001 - a failed run is reported, the scheduler keeps going
                log.warning("scheduled %s for %s failed: %s", phase, f.night, exc)
                outcome = exc
        elif f.action == "defer" and self.scheduler is not None:
            self.scheduler.add_job(self.fire, DateTrigger(run_date=f.at), args=[phase],
                                   id=f"{phase}-{f.session.isoformat()}", name=f"{phase} deferred to {f.at:%H:%M}",
                                   max_instances=1, coalesce=True, replace_existing=True,
                                   misfire_grace_time=self.schedule.misfire_grace_minutes * 60)
        log.info("%s: %s (%s)", phase, f.action, f.reason)
        self.heard(f, outcome)
        return f, outcome

    def missed(self, phase: str, due: datetime, why: str) -> Fire | None:
        """The decision for a time of ``phase`` that passed unrun (None: the exchange was closed then)."""
        f = decide(phase, due, self.schedule, self.cal)
        if f.action == "skip":
            return None
        return Fire(phase, "missed", f.session, f.night, due,
                    f"its time {due.astimezone(NY):%Y-%m-%d %H:%M} New York passed unrun: {why} (beyond the misfire "
                    f"grace of {self.schedule.misfire_grace_minutes} min; run it with `desk ops run {phase} "
                    f"{f.night}`)")

    def _missed(self, event) -> None:
        phase = str(event.job_id).split("-")[0]
        if phase not in PHASES:
            return
        f = self.missed(phase, event.scheduled_run_time, "desk serve was busy or suspended")
        if f is not None:
            log.warning("%s: missed (%s)", phase, f.reason)
            self.heard(f, None)

    def catch_up(self) -> list[tuple[Fire, Any]]:
        """On start: a phase whose time passed today by less than the misfire grace fires now (its run key runs
        once: if it already ran, nothing happens); the latest time of each phase that passed beyond the grace is
        heard as ``missed`` (the ledger records it only if that key never ran nor was decided)."""
        now = self.clock().astimezone(NY)
        grace = timedelta(minutes=self.schedule.misfire_grace_minutes)
        out = []
        for phase in PHASES:
            due = _at(now.date(), getattr(self.schedule, phase))
            if now.weekday() < 5 and due <= now < due + grace:
                out.append(self.fire(phase))
                continue
            last = self._last_due(phase, now - grace)
            f = None if last is None else self.missed(phase, last, "desk serve was not running")
            if f is not None:
                self.heard(f, None)
                out.append((f, None))
        return out

    def _last_due(self, phase: str, before: datetime) -> datetime | None:
        """The latest time of ``phase`` on a session day before ``before`` (within a week)."""
        hhmm = getattr(self.schedule, phase)
        for back in range(8):
            day = before.date() - timedelta(days=back)
            due = _at(day, hhmm)
            if due < before and day.weekday() < 5 and self.cal.is_session(day):
                return due
        return None

    def next_runs(self) -> dict[str, str]:
        if self.scheduler is None:
            return {}
        return {j.id: j.next_run_time.isoformat() for j in self.scheduler.get_jobs() if j.next_run_time}
