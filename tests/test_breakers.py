"""Circuit breakers halt new entries by themselves, say why, clear after their cool-off, and survive restarts."""

from __future__ import annotations

import sqlite3
from datetime import date

import pandas as pd
import pytest

from memory.audit import Breaker
from memory.schema import MIGRATIONS, SCHEMA_VERSION
from memory.store import Store
from tests import kit
from tests.kit import run_cli
from tools.breakers import active, consecutive_errors, daily_loss

SESSIONS = pd.DatetimeIndex(pd.bdate_range("2020-01-01", "2020-03-31"))


def test_daily_loss_trips_beyond_the_limit_only():
    assert daily_loss(100_000, 94_000, 0.05).startswith("equity fell -6.0% in one session")
    assert daily_loss(100_000, 95_500, 0.05) is None
    assert daily_loss(None, 50_000, 0.05) is None


def test_error_breaker_needs_the_latest_runs_all_failed():
    assert consecutive_errors(["error", "error", "error", "ok"], 3) == "the last 3 runs failed"
    assert consecutive_errors(["error", "ok", "error"], 3) is None
    assert consecutive_errors(["error", "error"], 3) is None


def test_a_breaker_is_active_for_its_sessions_then_clears_itself():
    b = [Breaker(name="daily_loss", tripped=date(2020, 1, 6), sessions=5, reason="test")]
    assert active(b, date(2020, 1, 6), SESSIONS) and active(b, date(2020, 1, 10), SESSIONS)
    assert active(b, date(2020, 1, 13), SESSIONS) == []
    assert active(b, date(2020, 1, 3), SESSIONS) == []  # not before it tripped


def test_a_one_session_loss_beyond_the_limit_blocks_entries_for_the_cool_off(home, capsys):
    desk = kit.desk(home)
    night = date(2017, 3, 1)
    desk.night(night)
    session = desk.morning_session(night)
    # the previous session's book was far larger: today's reconcile sees a 50% one-session loss
    desk.store.save_snapshot(date(2017, 3, 1), 200_000, 200_000, 0, 0, {})
    out = desk.morning(night)
    assert out["equity"] < 110_000
    [breaker] = desk.store.breakers()
    assert breaker.name == "daily_loss" and breaker.tripped == session
    blocked = kit.desk(home).night(session)  # a restart: the breaker is in the store
    assert not [i for i in blocked["intents"] if i.side == "buy"]
    assert all(d.rule in ("halted", "emergency_flat") and "circuit breaker daily_loss" in d.reason
               for ds in blocked["denials"].values() for d in ds if d.rule != "risk_reviewer")
    assert any(d.rule == "emergency_flat" for ds in blocked["denials"].values() for d in ds)   # the cascade's tier 4
    code, out_, _ = run_cli(capsys, "status", "--json")
    assert '"daily_loss"' in out_
    later = desk.sessions()[desk.sessions().searchsorted(pd.Timestamp(session)) + 5].date()
    assert not any(d.rule == "halted" for ds in desk.night(later)["denials"].values() for d in ds)


def test_resume_clears_a_breaker_early_and_audits_it(home, capsys):
    desk = kit.desk(home)
    desk.store.trip_breaker("daily_loss", date(2017, 3, 2), 5, "test loss")
    code, out, err = run_cli(capsys, "resume")
    assert code == 0 and "1 circuit breaker(s) cleared" in out
    assert desk.store.breakers() == []
    assert [a.action for a in desk.store.audit_log()[:2]] == ["override", "clear_breakers"]


class _BrokenTools:
    """An agent toolkit whose model file cannot be read."""

    tools = ()

    def prepare(self, day):
        raise RuntimeError("model file unreadable")


def test_three_failed_runs_in_a_row_trip_the_error_breaker(home):
    desk = kit.desk(home, tools=_BrokenTools())
    for day in (date(2017, 3, 1), date(2017, 3, 2), date(2017, 3, 3)):
        with pytest.raises(RuntimeError):
            desk.night(day)
    [breaker] = desk.store.breakers()
    assert breaker.name == "errors" and "the last 3 runs failed" in breaker.reason
    assert "model file unreadable" in breaker.reason


def test_a_v1_store_is_migrated_to_the_current_schema_keeping_its_data(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[1] + "INSERT INTO meta VALUES ('schema_version', '1');"
                       "INSERT INTO bars (symbol, date, close) VALUES ('AAPL', '2020-01-02', 75.0);")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    assert store.breakers() == [] and store.bars("AAPL")["close"].tolist() == [75.0]


def test_a_store_from_a_newer_desk_is_refused_in_one_line(home, capsys):
    conn = sqlite3.connect(home / "desk.sqlite")
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    code, _, err = run_cli(capsys, "status")
    assert code == 2 and "newer than this desk" in err and len(err.strip().splitlines()) == 1


def test_trials_count_distinct_configurations_whatever_their_key_order(tmp_path):
    store = Store(tmp_path / "desk.db")
    store.record_trial("eval", {"a": 1, "b": [2]}, date(2017, 1, 2), date(2018, 12, 31), {"sharpe": 0.5})
    store.record_trial("eval", {"b": [2], "a": 1}, date(2017, 1, 2), date(2018, 12, 31), {"sharpe": 0.6})
    store.record_trial("tune", {"a": 2}, date(2017, 1, 2), date(2018, 12, 31), {"sharpe": 0.1})
    assert store.trial_count() == 2 and store.trial_count("eval") == 1 and store.trial_count("tune") == 1
    rows = store.trials("eval")
    assert [r.metrics["sharpe"] for r in rows] == [0.5, 0.6] and rows[0].config == {"a": 1, "b": [2]}
