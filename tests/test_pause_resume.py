"""Graphs that pause: a run waits at ``interrupt()`` as ``paused`` and is resumed with ``Command(resume=…)`` on its
own thread — by another process too. LangGraph's control flow is never reported as a failed step."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from graph.errors import DeskError
from tests import kit
from tests.pausing import pausing_runner

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2017, 3, 1)

RESUME_IN_ANOTHER_PROCESS = """
import json, sys
from datetime import date
from tests import kit
from tests.pausing import pausing_runner
runner = pausing_runner(kit.desk(sys.argv[1], checkpointing=True))
out = runner.resume(sys.argv[2], sys.argv[3])
print(json.dumps({"decision": out.get("decision"), "done": out.get("done")}))
"""


def _paused(home):
    runner = pausing_runner(kit.desk(home, checkpointing=True))
    out = runner.run("pausing", {"as_of": DAY}, DAY)
    return runner, out


def test_a_run_that_calls_interrupt_is_recorded_paused_with_its_question(home):
    runner, out = _paused(home)
    [asked] = out["__interrupt__"]
    assert asked.value == {"question": "execute the morning of 2017-03-01?"}
    row = runner.store.run(out["run_id"])
    assert row.status == "paused" and "execute the morning" in row.summary
    steps = runner.store.steps(out["run_id"])
    assert [s.node for s in steps] == ["prepare"] and all(s.status == "ok" for s in steps)


def test_a_paused_run_is_resumed_by_a_second_process(home):
    runner, out = _paused(home)
    env = kit.child_env()
    proc = subprocess.run([sys.executable, "-c", RESUME_IN_ANOTHER_PROCESS, str(home), out["run_id"], "approve"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"decision": "approve", "done": "yes"}
    row = runner.store.run(out["run_id"])
    assert row.status == "ok"
    nodes = [(s.node, s.status) for s in runner.store.steps(out["run_id"])]
    assert nodes == [("prepare", "ok"), ("approve", "ok"), ("finish", "ok")]
    assert runner.store.audit_log()[0].action == "finished"


def test_a_branch_routes_a_rejected_run_to_its_end(home):
    runner, out = _paused(home)
    done = runner.resume(out["run_id"], "reject")
    assert done["decision"] == "reject" and "done" not in done
    assert [s.node for s in runner.store.steps(out["run_id"])] == ["prepare", "approve"]


def test_a_paused_run_blocks_a_new_run_for_its_date_and_cannot_be_resumed_twice(home):
    runner, out = _paused(home)
    with pytest.raises(DeskError, match="paused waiting for approval"):
        runner.run("pausing", {"as_of": DAY}, DAY)
    runner.resume(out["run_id"], "approve")
    with pytest.raises(DeskError, match="is ok, not paused"):
        runner.resume(out["run_id"], "approve")
    with pytest.raises(DeskError, match="no run 'nope'"):
        runner.resume("nope", "approve")
