"""A plan is frozen once it executes (ARCHITECTURE.md: invariant 10, issue 19 item 4): a night whose morning started is
never planned again — re-running `desk run` for its date resumes the morning — and an approval is bound to the exact
intents it saw: a changed intent is not executed on it."""

from __future__ import annotations

from datetime import date

import pytest

from desk.actor import Actor
from desk.config import load_settings
from desk.core.core import Core
from graph.runner import NightFrozen
from memory.overrides import Overrides
from tests import kit

NIGHT = date(2017, 3, 1)


def _run(settings, *, day, phase, actor, now=None, progress=None):
    """`run` through the command core, on ``now``'s wall clock."""
    core = Core(settings, clock=(lambda: now) if now is not None else None)
    return core.execute("run", {"phase": phase, "date": day}, actor, progress=progress or (lambda msg: None))


def _intents(store) -> list[tuple]:
    return sorted((r.intent_id, r.status, r.quantity, r.payload) for r in store.intents(as_of=NIGHT))


def test_rerunning_desk_run_after_its_morning_resumes_and_never_replans_the_night(home) -> None:
    s = load_settings(home=home)
    first = _run(s, day=NIGHT, phase="all", actor=Actor.local())
    store = kit.desk(home).store
    planned, orders, cash = _intents(store), store.orders(), store.latest_snapshot().cash
    assert first.night.frozen is None and [o for o in orders if o.side == "buy"]
    said: list[str] = []
    again = _run(s, day=NIGHT, phase="all", actor=Actor.local(), progress=said.append)
    assert again.night.frozen.startswith(f"its morning {first.morning.run_id} started")
    assert again.night.run_id == first.night.run_id  # the night as it was planned, from its checkpoint
    assert _intents(store) == planned and store.orders() == orders and store.latest_snapshot().cash == cash
    assert [r.status for r in store.runs_for("night", NIGHT)] == ["ok"]
    assert any("is frozen" in m and "not planned again" in m for m in said)


def test_a_night_asked_for_alone_after_a_morning_without_it_is_refused(home) -> None:
    s = load_settings(home=home)
    _run(s, day=NIGHT, phase="morning", actor=Actor.local())  # a morning with nothing planned
    with pytest.raises(NightFrozen, match=f"the night of {NIGHT} is frozen: its morning morning-{NIGHT}"):
        _run(s, day=NIGHT, phase="night", actor=Actor.local())
    said: list[str] = []
    both = _run(s, day=NIGHT, phase="all", actor=Actor.local(), progress=said.append)
    assert both.night is None and both.morning is not None
    assert any("a night is never planned under its morning; resuming its morning" in m for m in said)
    assert kit.desk(home).store.intents(as_of=NIGHT) == []


def test_an_approval_binds_the_intents_it_saw_and_a_changed_one_is_not_executed(home) -> None:
    d = kit.desk(home, checkpointing=True, settings={"execution": {"require_approval": True}})
    d.night(NIGHT)
    paused = d.morning(NIGHT)["run_id"]
    asked = Overrides(d.store).approval(paused).intents
    entries = [r for r in asked if r.side == "buy"]
    assert len(entries) >= 2 and all(len(r.digest) == 16 for r in asked)
    changed_id, kept_id = entries[0].intent_id, entries[1].intent_id
    row = d.store.intent(changed_id)  # the plan moves under the paused morning
    from vocab.contracts import Intent

    grown = Intent.model_validate_json(row.payload).model_copy(update={"quantity": row.quantity * 3})
    d.store.save_intents(row.run_id, [grown])
    out = d.resume(paused, {"decision": "approve", "actor": "U_OPERATOR", "reason": "looks fine"})
    by_id = {r.intent_id: r for r in out["results"]}
    assert by_id[changed_id].status == "skipped" and "changed after the approval was asked" in by_id[changed_id].reason
    assert "needs a new approval" in d.store.intent(changed_id).status_reason
    assert by_id[kept_id].status == "filled"
    assert not [o for o in d.store.orders() if o.intent_id == changed_id]
