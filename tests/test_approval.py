"""Approval mode (``execution.require_approval``): the morning pauses before execution with ``interrupt()``, posts its
entries with buttons, and resumes from Slack or the command line — also in another process, also after the process
that paused it was killed. Rejected, or unapproved by the deadline: no entries; exits and stops still run."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import date
import json
from pathlib import Path

import pytest

from desk.errors import DeskError
from desk.actions import runs
from desk.actor import Actor
from desk.core.core import Core
from desk.core.text import run_line
from desk.slack import wiring
from memory.overrides import Overrides
from tests import kit
from tests.broker_kit import order
from tests.slack_kit import OPERATOR, FakeSlack, blocks_text, settings

ROOT = Path(__file__).resolve().parents[1]
NIGHT = date(2017, 3, 1)
APPROVAL = {"execution": {"require_approval": True}}
OP = Actor(who=OPERATOR, via="slack")


def _paused(home, **parts):
    d = kit.desk(home, checkpointing=True, settings=APPROVAL, **parts)
    d.night(NIGHT)
    out = d.morning(NIGHT)
    assert out.get("__interrupt__"), "the morning should wait for approval"
    return d, out["run_id"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = kit.child_env()
    return {**env, "DESK_HOME": str(home), "DESK_EXECUTION__REQUIRE_APPROVAL": "true", **extra}


def test_a_morning_that_needs_approval_pauses_before_execution_and_sends_nothing(home):
    d, run_id = _paused(home)
    assert d.store.run(run_id).status == "paused"
    assert d.store.orders() == [] and d.ctx.broker.orders() == []
    asked = Overrides(d.store).approval(run_id)
    entries = [i for i in asked.intents if i.side == "buy"]
    assert entries and asked.deadline > asked.asked and asked.decision is None
    assert [s.node for s in d.store.steps(run_id)] == ["load_intents", "check_book", "quotes", "validate"]
    with pytest.raises(DeskError, match="paused waiting for approval"):
        d.morning(NIGHT)


def test_an_approval_from_a_second_process_executes_the_entries(home):
    d, run_id = _paused(home)
    proc = subprocess.run([sys.executable, "-m", "desk.cli", "ops", "approve", run_id], cwd=ROOT, env=_env(home),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"approve {run_id} by cli:" in proc.stdout
    store = kit.open_store(home)
    assert store.run(run_id).status == "ok"
    buys = [o for o in store.orders() if o.side == "buy"]
    assert buys and all(o.status == "filled" for o in buys if o.intent_id)
    assert Overrides(store).approval(run_id).decision == "approve"
    assert [s.node for s in store.steps(run_id)][-4:] == ["approval", "execute", "reconcile", "report"]


def test_a_paused_run_survives_the_kill_of_the_process_that_paused_it(home):
    kit.desk(home, checkpointing=True).night(NIGHT)
    script = ("import sys, threading; from datetime import date; from tests import kit\n"
              "d = kit.desk(sys.argv[1], checkpointing=True, settings={'execution': {'require_approval': True}})\n"
              "out = d.morning(date(2017, 3, 1)); print(out['run_id'], flush=True); threading.Event().wait()\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(home)], cwd=ROOT, env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id.startswith("morning-"), proc.stderr.read() if proc.poll() is not None else run_id
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    s = settings(home, execution={"require_approval": True})
    result = run_line(Core(s), "approve", OP)  # the one waiting run, found without its id
    assert result.target == run_id and "orders filled" in result.effect
    store = kit.open_store(home)
    assert store.run(run_id).status == "ok" and not store.runs(status="running")
    assert any(o.side == "buy" and o.status == "filled" for o in store.orders())


def test_a_rejection_runs_exits_and_stops_but_no_entry(home):
    d = kit.desk(home, checkpointing=True, settings=APPROVAL)
    price = d.ctx.market.price("XOM", NIGHT)
    kit.hold(d, "XOM", 10.0, price, stop=price * 0.8, peak=price * 1.5)  # through its trailing stop
    d.ctx.broker.set_session(NIGHT)
    d.ctx.broker.submit(order("seed-xom", symbol="XOM", quantity=10.0))
    d.night(NIGHT)
    run_id = d.morning(NIGHT)["run_id"]
    result = run_line(Core(settings(home, execution={"require_approval": True})),
                      f"reject {run_id} too much event risk", OP)
    assert result.action == "reject" and result.reason == "too much event risk"
    store = kit.open_store(home)
    sells = [o for o in store.orders() if o.side == "sell"]
    assert [(o.symbol, o.status) for o in sells] == [("XOM", "filled")]
    asked = [store.intent(i.intent_id) for i in Overrides(store).approval(run_id).intents if i.side == "buy"]
    assert asked and all(i.status == "skipped" and "rejected by slack:UOPERATOR1" in i.status_reason
                         for i in asked)
    with pytest.raises(DeskError, match="is ok .*reject by slack:UOPERATOR1.*not waiting for approval"):
        run_line(Core(settings(home)), f"approve {run_id}", OP)


def test_unapproved_by_the_deadline_no_entry_runs_and_slack_hears_it(home):
    fake = FakeSlack().start()
    try:
        s = settings(home, fake, execution={"require_approval": True})
        d, run_id = _paused(home, reporters=wiring.reporters(s))
        d.store.db.execute("UPDATE approvals SET deadline = '2000-01-01T00:00:00.000+00:00'")
        [done] = runs.expire_due(Core(s, reporters=wiring.reporters(s)))
        assert done.action == "expire" and "entries not executed" in done.effect
        store = kit.open_store(home)
        assert not [o for o in store.orders() if o.side == "buy"]
        asked = {i.intent_id for i in Overrides(store).approval(run_id).intents if i.side == "buy"}
        assert asked and all("not approved by the deadline" in store.intent(i).status_reason for i in asked)
        assert wiring.flush(s, timeout=5).waiting == 0
        said = "\n".join(blocks_text(p) for p in fake.posts() + fake.posts("chat.update"))
        assert "not approved by the deadline" in said
        decided = fake.posts("chat.update")[-1]
        assert "⌛ not approved by the deadline" in blocks_text(decided) and "desk_approve" not in str(decided)
    finally:
        fake.stop()


def test_an_approval_after_the_deadline_counts_as_the_deadline(home):
    d, run_id = _paused(home)
    d.store.db.execute("UPDATE approvals SET deadline = '2000-01-01T00:00:00.000+00:00'")
    result = run_line(Core(settings(home, execution={"require_approval": True})), f"approve {run_id}", OP)
    assert result.action == "expire" and "after the deadline" in result.reason
    assert not [o for o in kit.open_store(home).orders() if o.side == "buy"]


def test_a_veto_clicked_while_the_run_waits_is_honoured_when_it_is_approved(home):
    d, run_id = _paused(home)
    entries = [i.intent_id for i in Overrides(d.store).approval(run_id).intents if i.side == "buy"]
    core = Core(settings(home, execution={"require_approval": True}))
    run_line(core, f"veto {entries[0]} not this one", OP)
    run_line(core, f"approve {run_id}", OP)
    store = kit.open_store(home)
    assert store.intent(entries[0]).status == "vetoed"
    assert not [o for o in store.orders() if o.intent_id == entries[0]]
    assert [o.intent_id for o in store.orders() if o.side == "buy"] == entries[1:] or \
        {o.intent_id for o in store.orders() if o.side == "buy"} <= set(entries[1:])


def test_the_approval_message_carries_buttons_and_hostile_text_stays_text(home):
    fake = FakeSlack().start()
    try:
        s = settings(home, fake, execution={"require_approval": True})
        d = kit.desk(home, checkpointing=True, settings=APPROVAL, reporters=wiring.reporters(s))
        d.night(NIGHT)
        hostile = "<!channel> <https://evil.example|click to approve> *urgent* &amp;"
        for row in d.store.intents(as_of=NIGHT):  # a reason in every chain (a model's, a user's)
            payload = json.loads(row.payload)
            payload["reasons"] = [hostile, *payload["reasons"]]
            d.store.db.execute("UPDATE intents SET payload = ? WHERE intent_id = ?",
                               [json.dumps(payload), row.intent_id])
        d.morning(NIGHT)
        assert wiring.flush(s, timeout=5).waiting == 0
        [message] = [p for p in fake.posts() if "desk_approve" in str(p.get("blocks"))]
        blocks = message["blocks"] if isinstance(message["blocks"], list) else json.loads(message["blocks"])
        actions = [e["action_id"] for b in blocks for e in b.get("elements", []) if b["type"] == "actions"]
        vetoes = [b["accessory"]["value"] for b in blocks if b.get("accessory")]
        asked = [i.intent_id for i in Overrides(d.store).open_approvals()[0].intents if i.side == "buy"]
        assert actions == ["desk_approve", "desk_reject"] and vetoes == asked
        text = json.dumps(message)
        assert "<!channel>" not in text and "<https://" not in text and "&lt;!channel&gt;" in text
        assert all(b["text"]["type"] == "plain_text" for b in blocks if "text" in b)
    finally:
        fake.stop()


def test_without_approval_mode_the_morning_never_pauses(home):
    d = kit.desk(home, checkpointing=True)
    d.night(NIGHT)
    out = d.morning(NIGHT)
    assert not out.get("__interrupt__") and out["approval"].decision == "not_required"
