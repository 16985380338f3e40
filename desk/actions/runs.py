"""Running the graphs: `run` (the night and/or the morning of a date; with ``once``, a run key (phase, date) runs
once however often it is triggered), the decisions on a morning paused for approval (approve, reject, the deadline),
and `replay`."""

from __future__ import annotations

from datetime import date
from typing import Any

from desk.actions.overrides import result
from desk.actions.setup import bootstrap, check_llm_record, check_universe, open_for_run, with_section
from desk.actor import Actor
from desk.core.args import ApproveArgs, RejectArgs, ReplayArgs, RunArgs
from desk.core.context import CommandContext
from desk.results import MorningSummary, NightSummary, OverrideResult, RunResult
from vocab.contracts import Execution
from desk.summary import morning_data, night_data
from graph.errors import DeskError
from memory.locks import LockHeld, desk_lock
from memory.overrides import Overrides
from memory.store import Store, now_utc, open_store

DEADLINE = Actor(who="deadline", via="scheduler")


def run(ctx: CommandContext, args: RunArgs) -> RunResult:
    """The night for ``args.date`` (default: the latest session) and/or the morning after it. With ``once`` a
    finished run is not repeated, a paused one waits for its operator, and a failed or interrupted one is resumed
    from its checkpoint; while another process holds the book the trigger is ``busy`` (that process runs it)."""
    from desk.actions.setup import benchmark_source
    from desk.live import run_mode
    from graph.runner import NightFrozen

    phase, day, s = args.phase, args.date, ctx.settings
    mode = run_mode(s, day, ctx.now, stored_source=benchmark_source(ctx.store, s))  # live night or history
    doing = "running the night and morning graphs" if phase == "all" else f"running the {phase} graph"
    lock = desk_lock(s, "book", doing)
    try:
        lock.acquire()
    except LockHeld as busy:
        if not args.once:
            raise
        ctx.decline()
        return RunResult(phase=phase, day=day, status="busy", run_id=None, reason=str(busy))
    try:
        with open_for_run(ctx.store, s, day=day, phase=phase, actor=ctx.actor, reporters=ctx.reporters,
                          progress=ctx.progress, live=mode.live) as (desk, day):
            if args.once:
                done = _already(ctx, phase, day)
                if done is not None:
                    return done
            ctx.begin(f"{phase} {day.isoformat()}")
            if said := mode.say(day):
                ctx.progress(said)
            night = None
            if phase in ("night", "all"):
                try:
                    night = desk.night(day, reference=mode.reference)
                except NightFrozen as frozen:  # its morning started: the night is not planned again
                    if phase == "night":
                        raise
                    ctx.progress(f"{frozen}; resuming its morning")
            morning = desk.morning(day) if phase in ("morning", "all") else None
    finally:
        lock.release()
    last = morning if morning is not None else night
    assert last is not None  # a night, a morning, or both ran (a frozen night alone raised above)
    run_id = last["run_id"]
    paused = bool(last.get("__interrupt__"))
    return RunResult(phase=phase, day=day, status="paused" if paused else "ran", run_id=run_id,
                     reason=f"paused before execution for approval: `approve {run_id}` or `reject {run_id}`"
                     if paused else "finished",
                     night=None if night is None else night_data(night),
                     morning=None if morning is None else morning_data(morning),
                     warnings=warnings(ctx.store, [x["run_id"] for x in (night, morning) if x is not None]))


def warnings(store: Store, run_ids: list[str]) -> list[str]:
    """Each step of these runs that halted new entries, one line each."""
    from memory.watch import Watch

    watch = Watch(store)
    return [f"{run_id} {n.node}: {n.summary}" for run_id in run_ids for n in watch.notes(run_id)
            if n.status == "warning"]


def _already(ctx: CommandContext, phase: str, day: date) -> RunResult | None:
    phases = ("night", "morning") if phase == "all" else (phase,)
    for p in phases:
        last = ctx.store.last_run(p, day)
        if last is not None and last.status == "paused":
            ctx.decline()
            return RunResult(phase=phase, day=day, status="paused", run_id=last.run_id,
                             reason=f"{last.run_id} waits for approval: `approve {last.run_id}` or `reject`")
    lasts = [ctx.store.last_run(p, day) for p in phases]
    if all(x is not None and x.status == "ok" for x in lasts):
        ctx.decline()
        final = lasts[-1]
        return RunResult(phase=phase, day=day, status="skipped", run_id=final.run_id,
                         reason=f"the {phase} of {day} already ran ({final.run_id}, finished {final.ended})")
    return None


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


def approve(ctx: CommandContext, args: ApproveArgs) -> OverrideResult:
    return decide(ctx, args.run, "approve", None)


def reject(ctx: CommandContext, args: RejectArgs) -> OverrideResult:
    return decide(ctx, args.run, "reject", args.reason)


def decide(ctx: CommandContext, run_id: str | None, decision: str, reason: str | None) -> OverrideResult:
    """Resume a morning paused for approval with ``decision`` (approve, reject, expired) — in this process, whichever
    process paused it. An approval after the deadline counts as the deadline: exits and stops run, entries do not."""
    from desk.app import open_desk

    store, s, actor = ctx.store, ctx.settings, ctx.actor
    run_id = paused_run(store, run_id)
    row = store.run(run_id)
    if row is None:
        raise DeskError(f"no run {run_id!r}; see `runs`")
    asked = Overrides(store).approval(run_id)
    if row.status != "paused" or asked is None:
        said = (f" ({asked.decision} by {asked.actor} at {asked.decided})"
                if asked and asked.decision else "")
        raise DeskError(f"run {run_id} is {row.status}{said}, not waiting for approval")
    if decision == "approve" and now_utc() > asked.deadline:
        decision, reason = "expired", f"approved by {actor} after the deadline {asked.deadline}"
    with desk_lock(s, "book", f"resuming {run_id} ({decision})"):
        desk = open_desk(s, store=store, reporters=ctx.reporters, progress=ctx.progress)
        out = desk.resume(run_id, {"decision": decision, "actor": str(actor), "reason": reason})
    entries = sum(i.side == "buy" for i in asked.intents)
    filled = [r for r in out.get("results", []) if r.status == "filled"]
    effect = {"approve": f"{len(filled)} orders filled ({entries} entries were put to approval)",
              "reject": f"{entries} entries not executed; exits and stops ran ({len(filled)} filled)",
              "expired": f"deadline {asked.deadline} passed: {entries} entries not executed; exits and stops "
                         f"ran ({len(filled)} filled)"}[decision]
    return result({"approve": "approve", "reject": "reject", "expired": "expire"}[decision], run_id, reason, effect,
                  actor, details=executions(out.get("results", []), out.get("equity")))


def executions(results: list[Execution], equity: float | None) -> list[str]:
    lines = [f"{r.symbol} {r.side} {r.status}" + (f" {r.quantity:g} @ {r.price:.2f}" if r.price else "")
             + (f" — {r.reason}" if r.reason and r.status != "filled" else "") for r in results]
    return lines + ([f"book {equity:,.0f}"] if equity is not None else [])


def expire_due(core: Any) -> list[OverrideResult]:
    """Resume every morning whose approval deadline has passed (no entries; exits and stops run), through the core
    (audited and echoed like an operator's decision)."""
    store = open_store(core.settings)
    try:
        due = [a.run_id for a in Overrides(store).open_approvals() if a.deadline < now_utc()]
    finally:
        store.close()
    return [core.execute("expire", {"run": run_id}, DEADLINE) for run_id in due]


def expire(ctx: CommandContext, args: ApproveArgs) -> OverrideResult:
    return decide(ctx, args.run, "expired", "the approval deadline passed")


def replay(ctx: CommandContext, args: ReplayArgs):
    """Both graphs day by day over history against a fresh paper broker, in a store of the replay's own."""
    from evals.replay import replay as replay_history
    from evals.replay import replay_nights

    if args.start is None or args.end is None:
        raise DeskError("a replay needs a range: desk replay --from YYYY-MM-DD --to YYYY-MM-DD")
    if args.end < args.start:
        raise DeskError(f"--to {args.end} is before --from {args.start}")
    llm = {k: v for k, v in (("provider", args.provider), ("replay", args.llm_replay)) if v is not None}
    s = with_section(ctx.settings, "llm", llm)
    store = ctx.store
    if not store.symbols():  # the first run: the book's lock only to load the bundled data
        with desk_lock(s, "book", "loading the bundled data"):
            bootstrap(store, s, ctx.actor, ())
    check_universe(store, s)
    # a replay never waits for an operator: approval is for the live morning
    unattended = s.model_copy(update={"execution": s.execution.model_copy(update={"require_approval": False})})
    check_llm_record(store, s, replay_nights(s, args.start, args.end))  # refused before its lock file is made
    with desk_lock(s, f"replay-{args.start}_{args.end}", f"replaying {args.start} .. {args.end}"):
        return replay_history(unattended, args.start, args.end, ctx.progress,
                              check_record=lambda nights: check_llm_record(store, s, nights))


__all__ = ["MorningSummary", "NightSummary", "approve", "decide", "expire", "expire_due", "reject", "replay", "run"]
