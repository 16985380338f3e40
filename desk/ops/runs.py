"""Runs from operations: a run key (phase, date) that runs once however often it is triggered, and the decisions
on a morning paused for approval (approve, reject, the deadline)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from desk.app import open_desk
from desk.commands import Progress, open_for_run
from desk.config import Settings
from desk.errors import DeskError
from desk.ops.results import OverrideResult, RunOutcome
from desk.results import Actor
from desk.summary import morning_data, night_data
from graph.reporting import Reporter
from memory.locks import LockHeld, desk_lock
from memory.overrides import Overrides
from memory.store import Store, now_utc, open_store

RUN_PHASES = ("night", "morning")
DEADLINE = Actor(who="deadline", via="scheduler")


def run_once(settings: Settings, phase: str, day: date | None, actor: Actor, *, reporters: Sequence[Reporter] = (),
             progress: Progress = lambda msg: None) -> RunOutcome:
    """Run ``phase`` for ``day`` unless that key already ran: a finished run is not repeated, a paused one waits for
    its operator, a failed or interrupted one is resumed from its checkpoint. While another process (or thread)
    holds the book, the trigger is refused as ``busy`` — that process is running it."""
    if phase not in RUN_PHASES:
        raise DeskError(f"unknown phase {phase!r}: use night or morning")
    store = open_store(settings)
    lock = desk_lock(settings, "book", f"running the {phase} graph")
    try:
        lock.acquire()
    except LockHeld as busy:
        return RunOutcome(phase=phase, day=day, status="busy", run_id=None, reason=str(busy))
    try:
        with open_for_run(store, settings, day=day, phase=phase, actor=actor, reporters=reporters,
                          progress=progress) as (desk, day):
            last = store.last_run(phase, day)
            if last is not None and last.status == "ok":
                return RunOutcome(phase=phase, day=day, status="skipped", run_id=last.run_id,
                                  reason=f"the {phase} of {day} already ran ({last.run_id}, "
                                         f"finished {last.ended})")
            if last is not None and last.status == "paused":
                return RunOutcome(phase=phase, day=day, status="paused", run_id=last.run_id,
                                  reason=f"{last.run_id} waits for approval: `approve {last.run_id}` or `reject`")
            store.audit(str(actor), "run", f"{phase} {day.isoformat()}", None)
            out = desk.night(day) if phase == "night" else desk.morning(day)
    finally:
        lock.release()
    run_id = out["run_id"]
    if out.get("__interrupt__"):
        return RunOutcome(phase=phase, day=day, status="paused", run_id=run_id,
                          reason=f"paused before execution for approval: `approve {run_id}` or `reject {run_id}`")
    return RunOutcome(phase=phase, day=day, status="ran", run_id=run_id, reason="finished",
                      details=_details(phase, out))


def _details(phase: str, out: dict) -> list[str]:
    if phase == "night":
        n = night_data(out)
        return [f"regime {n.regime}", f"{len(n.intents)} intents: "
                + (", ".join(f"{i.side} {i.quantity:g} {i.intent_id.split(':')[1]}" for i in n.intents) or "none")]
    return _executions(morning_data(out).results, out.get("equity"))


def _executions(results, equity: float | None) -> list[str]:
    lines = [f"{r.symbol} {r.side} {r.status}" + (f" {r.quantity:g} @ {r.price:.2f}" if r.price else "")
             + (f" — {r.reason}" if r.reason and r.status != "filled" else "") for r in results]
    return lines + ([f"book {equity:,.0f}"] if equity is not None else [])


def paused_run(store: Store, run_id: str | None) -> str:
    """``run_id``, or the one run waiting for approval when none is named."""
    if run_id:
        return run_id
    waiting = Overrides(store).open_approvals()
    if len(waiting) == 1:
        return waiting[0].run_id
    if not waiting:
        raise DeskError("no run is waiting for approval; see `runs`")
    raise DeskError(f"{len(waiting)} runs wait for approval: name one of {', '.join(a.run_id for a in waiting)}")


def decide(settings: Settings, run_id: str | None, decision: str, actor: Actor, reason: str | None = None, *,
           reporters: Sequence[Reporter] = (), progress: Progress = lambda msg: None) -> OverrideResult:
    """Resume a morning paused for approval with ``decision`` (approve, reject, expired) — in this process, whichever
    process paused it. An approval after the deadline counts as the deadline: exits and stops run, entries do not."""
    store = open_store(settings)
    run_id = paused_run(store, run_id)
    run = store.run(run_id)
    if run is None:
        raise DeskError(f"no run {run_id!r}; see `runs`")
    asked = Overrides(store).approval(run_id)
    if run.status != "paused" or asked is None:
        said = (f" ({asked.decision} by {asked.actor} at {asked.decided})"
                if asked and asked.decision else "")
        raise DeskError(f"run {run_id} is {run.status}{said}, not waiting for approval")
    late = decision == "approve" and now_utc() > asked.deadline
    if late:
        decision, reason = "expired", f"approved by {actor} after the deadline {asked.deadline}"
    with desk_lock(settings, "book", f"resuming {run_id} ({decision})"):
        desk = open_desk(settings, store=store, reporters=reporters, progress=progress)
        out = desk.resume(run_id, {"decision": decision, "actor": str(actor), "reason": reason})
    entries = sum(i.side == "buy" for i in asked.intents)
    filled = [r for r in out.get("results", []) if r.status == "filled"]
    effect = {"approve": f"{len(filled)} orders filled ({entries} entries were put to approval)",
              "reject": f"{entries} entries not executed; exits and stops ran ({len(filled)} filled)",
              "expired": f"deadline {asked.deadline} passed: {entries} entries not executed; exits and stops "
                         f"ran ({len(filled)} filled)"}[decision]
    return OverrideResult(action={"approve": "approve", "reject": "reject", "expired": "expire"}[decision],
                          target=run_id, reason=reason, effect=effect, actor=str(actor), at=now_utc(),
                          details=_executions(out.get("results", []), out.get("equity")))


def expire_due(settings: Settings, *, reporters: Sequence[Reporter] = ()) -> list[OverrideResult]:
    """Resume every morning whose approval deadline has passed: no entries, exits and stops run."""
    store = open_store(settings)
    now = now_utc()
    done = []
    for asked in Overrides(store).open_approvals():
        if asked.deadline < now:
            done.append(decide(settings, asked.run_id, "expired", DEADLINE, "the approval deadline passed",
                               reporters=reporters))
    return done
