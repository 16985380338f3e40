"""The invariants (ARCHITECTURE.md) through the real graphs: no order twice, no look-ahead, halt means halt."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests import kit
from tests.kit import run_cli

# A pre-hold-out night on which the default desk writes entries (checked by the tests themselves).
NIGHT = date(2017, 3, 1)


def _desk(home: Path, **parts):
    """The desk as a process would open it: with its checkpointer."""
    return kit.desk(home, checkpointing=True, **parts)


def _night_with_entries(desk) -> tuple[date, dict]:
    """The first night from NIGHT on that produces at least one entry intent."""
    sessions = desk.sessions()
    i = sessions.searchsorted(pd.Timestamp(NIGHT))
    for ts in sessions[i:i + 40]:
        out = desk.night(ts.date())
        if any(it.side == "buy" for it in out["intents"]):
            return ts.date(), out
    pytest.fail("no entry intents in 40 nights from 2017-03-01")


def test_morning_run_twice_submits_each_client_order_id_once(home):
    desk = _desk(home)
    day, _ = _night_with_entries(desk)
    first = desk.morning(day)
    filled = [r for r in first["results"] if r.status == "filled"]
    assert filled, "the morning should fill the night's entries"
    second = _desk(home).morning(day)
    assert not [r for r in second["results"] if r.status == "filled"]
    broker_orders = desk.ctx.broker.orders()
    ids = [o.client_order_id for o in broker_orders]
    assert len(ids) == len(set(ids)) == len(filled)
    assert len(desk.store.fills()) == len(filled)


class _CrashAfter:
    """The real broker, but the process 'dies' inside the execution node after N submissions went through."""

    def __init__(self, broker, submits: int) -> None:
        self.broker, self.left = broker, submits

    def submit(self, order):
        if self.left == 0:
            raise RuntimeError("injected failure inside the execution node")
        self.left -= 1
        return self.broker.submit(order)

    def __getattr__(self, name):
        return getattr(self.broker, name)


def test_morning_crash_inside_execution_then_rerun_submits_each_order_once(home):
    day, night = _night_with_entries(_desk(home))
    entries = [i for i in night["intents"] if i.side == "buy"]
    real = kit.desk(home).ctx.broker
    desk = _desk(home, broker=_CrashAfter(real, submits=1))
    with pytest.raises(RuntimeError, match="injected failure"):
        desk.morning(day)
    assert len(real.orders()) == 1
    again = _desk(home)  # a restart: new process state, same files; the checkpointer resumes the morning
    result = again.morning(day)
    orders = again.ctx.broker.orders()
    ids = [o.client_order_id for o in orders]
    assert len(ids) == len(set(ids))
    assert len([o for o in orders if o.status == "filled"]) == len(again.store.fills())
    accepted = {r.intent_id for r in result["results"] if r.status in ("filled", "already_done", "rejected")}
    assert {i.intent_id for i in entries if again.store.intent(i.intent_id).status != "skipped"} <= accepted | {
        o.intent_id for o in again.store.orders()}


def _decisions(home: Path, day: date) -> dict:
    desk = _desk(home)
    out = desk.night(day)
    return {
        "regime": out["regime"],
        "proposals": sorted((p.key, str(p.action), round(p.strength, 12), p.model_version) for p in out["proposals"]),
        "verdicts": sorted((v.proposal_key, v.decision, v.size_multiplier, v.reason) for v in out["verdicts"]),
        # everything but measured latencies, which are not decisions
        "intents": sorted(i.model_dump_json(exclude={"verdicts"}) for i in out["intents"]),
        "intent_verdicts": sorted((i.intent_id, v.proposal_key, v.decision, v.size_multiplier, v.stop)
                                  for i in out["intents"] for v in i.verdicts),
        "models": [m["version"] for m in desk.ctx.registry.list("mean_reversion")],
    }


def test_night_decisions_identical_on_a_store_truncated_at_the_decision_date(home, tmp_path, capsys):
    day = date(2016, 6, 15)
    truncated = tmp_path / "truncated"
    code, _, err = run_cli(capsys, "--home", str(truncated), "data", "load", "--until", day.isoformat())
    assert code == 0, err
    full, cut = _decisions(home, day), _decisions(truncated, day)
    assert full == cut
    assert full["proposals"], "the night should produce proposals"
    desk = _desk(truncated)
    assert desk.sessions()[-1].date() == day
    for m in desk.ctx.registry.list("mean_reversion"):
        assert date.fromisoformat(str(m["cutoff"])) < day


def test_truncated_store_stays_truncated_after_a_run(home, capsys):
    code, _, err = run_cli(capsys, "data", "load", "--until", "2015-01-02")
    assert code == 0, err
    code, out, err = run_cli(capsys, "run", "--json")
    assert code == 0, err
    assert json.loads(out)["night"]["as_of"] == "2015-01-02"
    code, out, _ = run_cli(capsys, "data", "status", "--json")
    assert json.loads(out)["data_until"] == "2015-01-02"


def _cli_process(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = kit.child_env()
    env["DESK_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "desk.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_halt_survives_a_restart_and_blocks_every_entry(home):
    day, _ = _night_with_entries(_desk(home))
    assert _cli_process(home, "halt", "--reason", "operator drill").returncode == 0
    status = _cli_process(home, "status", "--json")
    assert json.loads(status.stdout)["halted"] is True
    assert json.loads(status.stdout)["halt_reason"] == "operator drill"
    desk = _desk(home)
    out = desk.night(day)
    assert not [x for x in out["intents"] if x.side == "buy"]
    assert any(d.rule == "halted" for ds in out["denials"].values() for d in ds)
    morning = desk.morning(day)
    assert not [r for r in morning["results"] if r.side == "buy" and r.status == "filled"]
    audit = [(a.action, a.target) for a in desk.store.audit_log()]
    assert ("halt", "desk") in audit and audit[0] == ("override", "halt desk")  # the state change, then the command


def test_a_second_night_run_for_a_date_starts_clean_not_from_the_last_runs_state(home):
    desk = _desk(home)
    desk.store.set_halted(True, "drill", "test")
    halted = desk.night(NIGHT)
    assert any(d.rule == "halted" for ds in halted["denials"].values() for d in ds)
    desk.store.set_halted(False, None, "test")
    again = desk.night(NIGHT)
    assert not any(d.rule == "halted" for ds in again["denials"].values() for d in ds)
    assert again["run_id"] != halted["run_id"]
