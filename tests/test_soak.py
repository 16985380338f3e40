"""The compressed-time soak (issue 19 item 8): `desk serve`'s scheduler — APScheduler's own cron jobs on a manual,
fake clock — through a month of the calendar: 22 NYSE sessions of nights and mornings, Thanksgiving (closed) and its
early close, four weekends. Along the way the market data stops updating halfway (the store's bars end on
2022-12-07 while the calendar runs on to 12-23), Slack is down for three days (the loopback Slack server stops
listening), and the process is killed mid-morning (SIGKILL, right after the broker filled an order and before the
desk recorded it) and restarted within the misfire grace. Every failure must be visible in /health, /metrics,
`desk status` and the outbox; no order is placed twice; nothing is lost (every session's night and morning is
decided in the ledger, every report reaches Slack once it is back)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from desk.actor import Actor
from desk.core.core import Core
from desk.serve.main import Serve
from desk.serve.schedule import NY, DeskSchedule
from desk.slack.sender import OutboxSender, web_client
from memory.outbox import Outbox
from memory.schedule import ScheduleLog
from memory.store import Store
from tests.kit import run_cli
from tests.slack_kit import FakeSlack, settings
from tests.test_schedule import FakeClock, ManualScheduler

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
DATA_ENDS = date(2022, 12, 7)


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


class Desk:
    """One `desk serve` process's scheduler, health and metrics on the fake clock (no port, no threads)."""

    def __init__(self, s, clock: FakeClock, monkeypatch) -> None:
        self.serve = Serve(s, host="127.0.0.1", port=0, clock=clock)
        self.scheduler = ManualScheduler(clock, monkeypatch)
        self.schedule = DeskSchedule(s.schedule, self.serve.scheduled_run, clock=clock, heard=self.serve.heard)
        self.serve.schedule, self.serve.apscheduler = self.schedule, self.scheduler
        self.schedule.install(self.scheduler)
        self.scheduler.start(paused=False)

    def health(self) -> tuple[int, dict]:
        return self.serve.health()

    def metrics(self) -> str:
        return self.serve.metrics.render().decode()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def _drain(s, store: Store, clock: FakeClock, force: bool = False):
    """The outbox's sender, on the wall clock: the outbox stamps its rows and backoffs in wall time (only the
    scheduler's clock is compressed); ``force`` is its first pass once Slack answers again."""
    return OutboxSender(store, web_client(s.slack), s.slack).drain(force=force)


def _until(desk: Desk, s, store: Store, clock: FakeClock, end: datetime) -> None:
    """Step the scheduler to ``end`` five minutes at a time, delivering the outbox every simulated hour."""
    while clock.now < end:
        desk.scheduler.tick(min(end, clock.now + timedelta(hours=1)), step=timedelta(minutes=5))
        _drain(s, store, clock)


def test_a_month_of_serve_with_stale_data_slack_down_and_a_kill_loses_nothing_and_hides_nothing(home, monkeypatch,
                                                                                                  capsys):
    fake = FakeSlack().start()
    s = settings(home, fake, slack={"mode": "http", "errors_channel": "CERRORS"})
    Core(s).execute("data_load", {"source": "bundled", "until": DATA_ENDS},
                    Actor(who="soak", via="scheduler"))  # the feed stops on 12-07
    store = Store(home / "desk.sqlite")
    clock = FakeClock(ny(2022, 11, 23, 8, 0))
    desk = Desk(s, clock, monkeypatch)
    try:
        night = date(2022, 11, 23)  # the first night that plans entries: its morning is the one killed
        while True:
            _until(desk, s, store, clock, ny(night.year, night.month, night.day, 22, 30))
            if any(i.side == "buy" for i in store.intents(as_of=night)):
                break
            night = _next_session(night)
            assert night < DATA_ENDS, "no night planned an entry before the data ends: nothing to kill mid-order"
        session = _next_session(night)
        _until(desk, s, store, clock, ny(session.year, session.month, session.day, 9, 40))
        assert desk.health()[0] == 200, desk.health()[1]["reasons"]  # fresh data, every run ok: all is well

        # the process is killed during the 09:45 morning: after the broker filled the first order, before the desk
        # recorded it (a real SIGKILL, in a process of its own, on the same home)
        desk.stop()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("DESK_")}, "DESK_HOME": str(home)}
        killed = subprocess.run([sys.executable, "-m", "tests.crash_harness", str(home), "morning",
                                 night.isoformat(), "submit-after:1"], check=False, cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=600)
        assert killed.returncode == -9, killed.stderr
        clock.now = ny(session.year, session.month, session.day, 9, 55)  # restarted within the misfire grace
        desk = Desk(s, clock, monkeypatch)
        desk.schedule.catch_up()  # the morning resumes from its checkpoint
        [morning] = [r for r in store.runs(limit=50, kind="morning") if r.as_of == night]
        assert morning.status == "ok"

        _until(desk, s, store, clock, ny(2022, 11, 29, 8, 0))
        fake.stop()  # Slack down for three days: reports wait in the outbox, runs do not wait for Slack
        _until(desk, s, store, clock, ny(2022, 12, 2, 8, 0))
        waiting = Outbox(store).depth()["pending"]
        assert waiting > 0 and all(r.status == "ok" for r in store.runs(limit=6) if r.kind == "night")
        fake.start()
        _drain(s, store, clock, force=True)
        _until(desk, s, store, clock, ny(2022, 12, 5, 9, 40))
        assert Outbox(store).depth()["pending"] == 0  # delivered once Slack answered again
        _until(desk, s, store, clock, ny(2022, 12, 24, 8, 0))
        _drain(s, store, clock, force=True)

        # -- nothing lost: every session's night and morning was decided, each key ran at most once
        fires = ScheduleLog(store).fires(limit=1000)
        sessions = sorted({f.session for f in fires if f.outcome != "closed"})
        assert len(sessions) >= 20 and date(2022, 11, 24) not in sessions  # Thanksgiving: closed
        assert {f.session for f in fires if f.outcome == "closed"} == {date(2022, 11, 24)}
        for phase in ("night", "morning"):
            decided = {f.session for f in fires if f.phase == phase and f.outcome != "deferred"}
            assert decided >= set(sessions), phase
        ok_keys = [(r.kind, r.as_of.isoformat()) for r in store.runs(limit=500, status="ok") if r.kind in
                   ("night", "morning")]
        assert len(ok_keys) == len(set(ok_keys))
        assert ("night", "2022-12-07") in ok_keys and ("night", "2022-12-08") not in ok_keys

        # -- no order twice: one broker order per client order id, the store's fills equal the broker's
        broker_orders = [r[0] for r in _broker(home).execute("SELECT client_order_id FROM orders")]
        assert len(broker_orders) == len(set(broker_orders)) > 0
        assert sorted(broker_orders) == sorted(o.client_order_id for o in store.orders()
                                               if o.status in ("filled", "rejected"))

        # -- every failure visible: the ledger, the store's runs, /health, /metrics, desk status, the outbox
        failed_nights = [f for f in fires if f.phase == "night" and f.outcome == "failed"]
        assert {f.night for f in failed_nights} == {d for d in sessions if d > DATA_ENDS}
        assert all(f.run_id and store.run(f.run_id).status == "error" for f in failed_nights)
        code, health = desk.health()
        assert code == 503
        assert any(r.startswith("stale data: data ends 2022-12-07") for r in health["reasons"])
        assert any("the last scheduled night (2022-12-23) failed" in r for r in health["reasons"])
        text = desk.metrics()
        n = len(failed_nights)
        assert f'desk_scheduled_failures_total{{phase="night",reason="refused"}} {n:.1f}' in text
        assert "desk_attention 1.0" in text and "desk_data_age_sessions 12.0" in text
        errors = [c.args for c in fake.delivered if c.args.get("channel") == "CERRORS"]
        assert sum("scheduled night for" in json.dumps(e) for e in errors) == n
        assert Outbox(store).depth()["pending"] == 0 and Outbox(store).depth()["dead"] == 0
        assert morning.run_id in json.dumps([c.args for c in fake.delivered])
    finally:
        desk.stop()
        fake.stop()
    clock_line = run_cli(capsys, "status")[1].splitlines()[0]
    assert clock_line.startswith("ATTENTION")


def _next_session(day: date) -> date:
    import pandas as pd

    from desk.serve.schedule import Calendar

    return Calendar().cal.next_session(pd.Timestamp(day)).date()


def _broker(home: Path):
    import sqlite3

    return sqlite3.connect(home / "paper_broker.sqlite")
