"""The freshness gate (ARCHITECTURE.md: invariant 8, issue 19 item 1): the night knows the exchange calendar's last
closed session and plans no entries on data older than ``data.max_age_sessions`` sessions (exits still run) — a failed
run with its reason and exit code 3. A night in history is measured against its own date, so history always runs."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from desk.actor import Actor
from desk.config import load_settings
from desk.core.core import Core
from desk.live import run_mode
from tests import kit
from tools.calendar import NEW_YORK, last_closed_session, xnys_sessions
from tools.freshness import as_of_now, measure

LAST = date(2022, 12, 28)  # the bundled history's last session


def _run(settings, *, day, phase, actor, now=None, progress=None):
    """`run` through the command core, on ``now``'s wall clock."""
    core = Core(settings, clock=(lambda: now) if now is not None else None)
    return core.execute("run", {"phase": phase, "date": day}, actor, progress=progress or (lambda msg: None))


def ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


@pytest.mark.parametrize(("now", "closed"), [
    ("2024-07-05 15:59", date(2024, 7, 3)),   # before the regular close; the 4th is a holiday
    ("2024-07-05 16:00", date(2024, 7, 5)),
    ("2024-07-03 12:59", date(2024, 7, 2)),   # an early-close day, before its 13:00 close
    ("2024-07-03 13:00", date(2024, 7, 3)),
    ("2024-07-06 10:00", date(2024, 7, 5)),   # a Saturday
    ("2024-07-08 09:30", date(2024, 7, 5)),   # Monday's open: Friday is the last closed session
])
def test_last_closed_session_waits_for_the_close_and_knows_early_closes_and_holidays(now, closed) -> None:
    assert last_closed_session(ny(now)) == closed


def test_last_closed_session_refuses_a_time_without_its_zone() -> None:
    with pytest.raises(ValueError, match="zone"):
        last_closed_session(datetime(2024, 7, 5, 16))


@pytest.mark.parametrize(("last", "reference", "age"), [
    (date(2017, 3, 3), date(2017, 3, 6), 1),    # Friday's data on Monday: one session, not three days
    (date(2017, 4, 13), date(2017, 4, 17), 1),  # Good Friday is no session
    (date(2017, 3, 8), date(2017, 3, 8), 0),
    (date(2017, 3, 8), date(2017, 3, 1), 0),    # data past the reference is never older than it
])
def test_data_age_counts_exchange_sessions_not_calendar_days(last, reference, age) -> None:
    fresh = measure(last, reference, 0, live=True, sessions=xnys_sessions())
    assert fresh.age_sessions == age and fresh.stale == (age > 0)


def test_no_data_at_all_is_stale_and_says_so() -> None:
    fresh = as_of_now(xnys_sessions()[:0], 3, ny("2024-07-08 17:00"))
    assert fresh.stale and fresh.reason == ("no market data in the store (the exchange calendar's last closed "
                                            "session is 2024-07-08)")


def test_a_run_is_live_only_for_today_or_without_a_date_on_a_live_source(home) -> None:
    bundled, live = load_settings(home=home), load_settings(home=home, data={"source": "yfinance"})
    now = ny("2024-07-08 22:00")
    assert not run_mode(bundled, None, now).live  # the bundled history ends in 2022: `desk run` is history
    assert not run_mode(live, date(2017, 3, 8), now).live  # a past date is history, whatever the source
    assert run_mode(bundled, date(2024, 7, 8), now).reference == date(2024, 7, 8)
    assert run_mode(live, None, now).reference == date(2024, 7, 8)


def test_a_night_in_history_is_measured_against_its_own_date(home) -> None:
    s = load_settings(home=home, data={"source": "yfinance"})
    got = _run(s, day=date(2017, 3, 8), phase="night", actor=Actor.local(), now=ny("2026-12-07 22:00"))
    assert (got.night.freshness.age_sessions, got.night.freshness.live, got.night.stale) == (0, False, None)
    assert kit.desk(home).store.last_run("night", date(2017, 3, 8)).status == "ok"


def test_a_live_night_on_the_last_closed_sessions_data_is_fresh(home) -> None:
    s = load_settings(home=home, data={"source": "yfinance"})
    said: list[str] = []
    got = _run(s, day=None, phase="night", actor=Actor.local(), now=ny("2022-12-28 22:00"),
                       progress=said.append)
    assert got.night.freshness.live and got.night.freshness.age_sessions == 0 and got.night.stale is None
    assert "live night 2022-12-28: measured against the exchange calendar's last closed session 2022-12-28" in said


def test_a_live_night_on_stale_data_plans_exits_only_is_a_failed_run_and_exits_3(home, capsys, monkeypatch) -> None:
    d = kit.desk(home)
    kit.hold(d, "XOM", 10.0, 120.0, stop=200.0, peak=130.0)  # through its stop: an exit to plan
    d.store.close()
    monkeypatch.setenv("DESK_DATA__SOURCE", "yfinance")
    code, out, err = kit.run_cli(capsys, "run", "--phase", "night", "--json")
    assert code == 3
    [line] = [x for x in err.splitlines() if x.startswith("error:")]  # --json: progress goes to stderr too
    assert line.startswith(f"error: the night of {LAST} planned no entries: stale data: data ends {LAST}, ")
    assert "sessions before the exchange calendar's last closed session" in line
    night = json.loads(out)["night"]
    assert night["freshness"]["live"] and night["freshness"]["age_sessions"] > 0
    assert [i["intent_id"] for i in night["intents"]] == [f"{LAST}:XOM:sell:exit"]  # exits still run
    assert night["denials"] and all(any(x.startswith("stale_data") for x in ds) for ds in night["denials"].values()
                                    if not all(x.startswith("risk_reviewer") for x in ds))
    run = kit.desk(home).store.last_run("night", LAST)
    assert run.status == "error" and "stale data: data ends" in run.summary


def test_a_live_night_whose_last_night_already_ran_is_still_a_failed_run(home) -> None:
    history = load_settings(home=home)
    _run(history, day=LAST, phase="all", actor=Actor.local())
    live = load_settings(home=home, data={"source": "yfinance"})
    got = _run(live, day=None, phase="night", actor=Actor.local(), now=ny("2023-01-10 22:00"))
    assert got.night.frozen and got.night.stale and got.night.freshness.age_sessions == 8
    store = kit.desk(home).store
    refused = store.last_run("night", date(2023, 1, 10))
    assert refused.status == "error" and "already ran and is frozen" in refused.summary
    assert [s.node for s in store.steps(refused.run_id)] == ["refused"]


def test_desk_run_without_a_date_on_the_bundled_history_runs_it_as_history_and_says_so(home, capsys) -> None:
    code, out, err = kit.run_cli(capsys, "run", "--phase", "night")
    assert code == 0, err
    assert f"no --date: the night of {LAST}, the latest date with data, run as history" in " ".join(out.split())
