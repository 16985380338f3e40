"""The scheduler on a fake clock (no sleeping): APScheduler's own cron jobs fire at 22:00 and 09:45 New York time on
NYSE sessions; a holiday is skipped; an early close is the calendar's; a fire too early waits for the close; a double
trigger — two threads, two processes — runs a key once; a missed fire within the grace runs at start."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler

from desk.serve.schedule import NY, DeskSchedule, decide, Calendar
from graph.config import ScheduleSettings
from tests import kit

ROOT = Path(__file__).resolve().parents[1]
CAL = Calendar()


class FakeClock:
    def __init__(self, when: datetime) -> None:
        self.now = when

    def __call__(self) -> datetime:
        return self.now


class ManualScheduler(BaseScheduler):
    """APScheduler's scheduler, stepped by hand on a fake clock: ``tick`` processes the jobs due at the clock's time
    in this thread (APScheduler's debug executor)."""

    def __init__(self, clock: FakeClock, monkeypatch) -> None:
        super().__init__(timezone=NY, executors={"default": DebugExecutor()})
        self.clock = clock

        class FrozenDatetime(datetime):
            @classmethod
            def now(cls, tz=None):
                return clock.now.astimezone(tz) if tz else clock.now

        import apscheduler.executors.base as executors
        import apscheduler.schedulers.base as schedulers

        monkeypatch.setattr(schedulers, "datetime", FrozenDatetime)
        monkeypatch.setattr(executors, "datetime", FrozenDatetime)

    def shutdown(self, wait=True):
        super().shutdown(wait)

    def wakeup(self):
        pass

    def tick(self, until: datetime, step: timedelta = timedelta(minutes=1)) -> None:
        """Advance the clock to ``until`` minute by minute, running what falls due."""
        while self.clock.now < until:
            self.clock.now = min(until, self.clock.now + step)
            self._process_jobs()


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def driven(monkeypatch):
    """A DeskSchedule on a manual APScheduler and a fake clock; ``ran`` lists the run keys it ran."""

    def make(start: datetime, schedule: ScheduleSettings | None = None, run=None):
        clock = FakeClock(start)
        scheduler = ManualScheduler(clock, monkeypatch)
        ran, heard = [], []
        desk = DeskSchedule(schedule or ScheduleSettings(), run or (lambda phase, night: ran.append((phase, night))),
                            clock=clock, heard=lambda f, o: heard.append(f))
        desk.install(scheduler)
        scheduler.start(paused=False)
        return scheduler, desk, ran, heard

    return make


def test_the_cron_jobs_fire_at_22_00_and_09_45_new_york_on_sessions_only(driven):
    scheduler, desk, ran, heard = driven(ny(2024, 7, 1, 12, 0))  # Monday; Thursday 4 July is a holiday
    scheduler.tick(ny(2024, 7, 8, 12, 0))
    assert ran == [("night", date(2024, 7, 1)), ("morning", date(2024, 7, 1)), ("night", date(2024, 7, 2)),
                   ("morning", date(2024, 7, 2)), ("night", date(2024, 7, 3)), ("morning", date(2024, 7, 3)),
                   ("night", date(2024, 7, 5)), ("morning", date(2024, 7, 5))]
    skipped = [f for f in heard if f.action == "skip"]
    assert [(f.phase, f.session) for f in skipped] == [("morning", date(2024, 7, 4)), ("night", date(2024, 7, 4))]
    assert "NYSE is closed on Thu 2024-07-04" in skipped[0].reason


def test_daylight_saving_moves_nothing_the_night_stays_at_22_00_new_york(driven):
    scheduler, desk, ran, heard = driven(ny(2024, 3, 8, 21, 0))  # Friday before the spring change
    scheduler.tick(ny(2024, 3, 12, 0, 0))
    fired = [f for f in heard if f.phase == "night"]
    assert [f.session for f in fired] == [date(2024, 3, 8), date(2024, 3, 11)]
    assert desk.scheduler.get_job("night").next_run_time == ny(2024, 3, 12, 22, 0)


def test_an_early_close_lets_a_night_set_after_it_run_and_an_ordinary_day_waits_for_the_close(driven):
    schedule = ScheduleSettings(night="13:30", after_close_minutes=15)
    scheduler, desk, ran, heard = driven(ny(2024, 11, 27, 12, 0), schedule)  # Wed; Fri 29 Nov closes at 13:00
    scheduler.tick(ny(2024, 11, 30, 0, 0))
    wed = [f for f in heard if f.session == date(2024, 11, 27) and f.phase == "night"]
    assert [f.action for f in wed] == ["defer", "run"] and "waits until 16:15" in wed[0].reason
    fri = [f for f in heard if f.session == date(2024, 11, 29) and f.phase == "night"]
    assert [f.action for f in fri] == ["run"] and "13:00 (an early close)" in fri[0].reason
    assert ("night", date(2024, 11, 29)) in ran
    assert all(f.session != date(2024, 11, 28) or f.action == "skip" for f in heard)  # Thanksgiving


def test_the_morning_runs_the_previous_sessions_night_key():
    f = decide("morning", ny(2024, 7, 5, 9, 45), ScheduleSettings(), CAL)
    assert (f.action, f.night) == ("run", date(2024, 7, 3))
    early = decide("morning", ny(2024, 7, 5, 9, 0), ScheduleSettings(morning="09:00"), CAL)
    assert early.action == "defer" and early.at == ny(2024, 7, 5, 9, 40)


def test_triggers_missed_while_busy_coalesce_into_one_run(driven):
    scheduler, desk, ran, heard = driven(ny(2024, 7, 1, 21, 0))
    scheduler.tick(ny(2024, 7, 1, 21, 59))
    scheduler.clock.now = ny(2024, 7, 1, 22, 40)  # the process was frozen across the fire time
    scheduler._process_jobs()
    assert ran == [("night", date(2024, 7, 1))]


def test_a_fire_missed_by_more_than_the_grace_does_not_run(driven):
    scheduler, desk, ran, heard = driven(ny(2024, 7, 1, 21, 0), ScheduleSettings(misfire_grace_minutes=30))
    scheduler.tick(ny(2024, 7, 1, 21, 59))
    scheduler.clock.now = ny(2024, 7, 1, 23, 0)
    scheduler._process_jobs()
    assert ran == []


def test_catch_up_at_start_runs_a_phase_missed_today_within_the_grace(driven):
    scheduler, desk, ran, heard = driven(ny(2024, 7, 1, 22, 20))
    desk.catch_up()
    assert ran == [("night", date(2024, 7, 1))]
    scheduler2, desk2, ran2, _ = driven(ny(2024, 7, 1, 23, 30))
    desk2.catch_up()
    assert ran2 == []


def test_a_double_trigger_runs_the_key_once(home, monkeypatch):
    """The scheduler fires the night and, the same minute, an operator and a second `desk serve` trigger it too:
    one run, the others are told it ran or that it is running."""
    from desk.actor import Actor
    from desk.core.core import Core
    from tests.slack_kit import settings

    s = settings(home)
    outcomes = []
    run = lambda phase, night: outcomes.append(Core(s).execute(  # the schedule's run function
        "run", {"phase": phase, "date": night, "once": True}, Actor(who="t", via="scheduler")))
    clock = FakeClock(ny(2017, 3, 1, 22, 0))
    desk = DeskSchedule(ScheduleSettings(), run, clock=clock)
    desk.fire("night")
    desk.fire("night")
    env = {**kit.child_env(), "DESK_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "desk.cli", "ops", "run", "night", "2017-03-01"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert [o.status for o in outcomes] == ["ran", "skipped"] and "skipped" in proc.stdout
    assert len(kit.open_store(home).runs(kind="night", limit=10)) == 1


def test_two_processes_triggering_one_key_at_once_run_it_once(home):
    env = {**kit.child_env(), "DESK_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-m", "desk.cli", "ops", "--json", "run", "night", "2017-03-01"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    import json

    statuses = sorted(json.loads(o[0][o[0].index("{"):])["status"] for o in outs)
    assert statuses in (["busy", "ran"], ["ran", "skipped"])
    assert len(kit.open_store(home).runs(kind="night", limit=10)) == 1
