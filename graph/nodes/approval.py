"""Morning: the approval step (``execution.require_approval``) between validation and execution.

When approval is required and the morning has entries to execute, the run pauses here with LangGraph's
``interrupt()``: the request (its entries and a deadline) is recorded in the store first, and the reporters hear the
run end ``paused``. An operator resumes it with ``Command(resume={"decision": "approve" | "reject", "actor": …,
"reason": …})`` — from Slack, the command line, or any process that opens the home — or, once the deadline has
passed, the serve process resumes it with ``{"decision": "expired"}``. Only an approval before the deadline lets the
entries through; a rejection or the deadline leaves them unexecuted and says why. Exits and stops always run.
An approval is bound to the intents it saw (ARCHITECTURE.md: invariant 10): each one's digest is recorded with the
request, and an entry that changed since is not executed — it needs a new approval.

The node re-runs from its top on resume: what precedes ``interrupt()`` only reads, or writes idempotently (the first
request and its deadline stand).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graph.context import DeskContext
from graph.nodes.morning import intents_by_id, skip_vetoed
from graph.state import Approval, MorningState
from vocab.contracts import Execution
from memory.overrides import ApprovalItem, Overrides
from memory.store import now_utc
from vocab.contracts import Intent

DECISIONS = ("approve", "reject", "expired")


def approval(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    if not ctx.config.execution.require_approval:
        return {"approval": Approval(decision="not_required"),
                "summary": "not required (execution.require_approval is off)"}
    intents = intents_by_id(ctx, state["accepted"])
    entries = [i for i, it in intents.items() if it.side == "buy"]
    exits = len(intents) - len(entries)
    if not entries:
        return {"approval": Approval(decision="nothing_to_approve"),
                "summary": f"nothing to approve: no entries ({exits} exits run)"}
    overrides = Overrides(ctx.store)
    minutes = ctx.config.execution.approval_minutes
    deadline = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(timespec="milliseconds")
    asked = overrides.ask_approval(state["run_id"], state["session"].isoformat(), deadline, [
        ApprovalItem(intent_id=i, symbol=it.symbol, side=it.side, kind=it.kind, quantity=it.quantity,
                     price=state["quotes"].get(it.symbol), weight=it.target_weight, why=(it.reasons or [""])[0],
                     digest=digest(it)) for i, it in intents.items()])
    answer = interrupt({"approval": state["run_id"], "entries": entries, "exits": exits,
                        "deadline": asked.deadline})
    decision, actor, reason = _answer(answer)
    if decision == "approve" and now_utc() > asked.deadline:
        decision, reason = "expired", f"approved by {actor} after the deadline {asked.deadline}"
    overrides.decide_approval(state["run_id"], decision, actor, reason)
    results: list[Execution] = []  # this node's own; the state's reducer appends them (graph/state.py)
    vetoes = overrides.vetoes(entries)  # a veto clicked while the run waited counts
    for iid in vetoes:
        it = intents[iid]
        why = skip_vetoed(ctx, iid, vetoes[iid])
        results.append(Execution(intent_id=iid, symbol=it.symbol, side=it.side, status="vetoed", reason=why))
    go = [i for i in entries if i not in vetoes]
    if decision == "approve":  # an approval is bound to the intents it saw (ARCHITECTURE.md: invariant 10)
        seen = {r.intent_id: r.digest for r in asked.intents}
        for iid in [i for i in go if seen.get(i) != digest(intents[i])]:
            it = intents[iid]
            why = (f"changed after the approval was asked (approved {seen.get(iid) or 'without a digest'}, now "
                   f"{digest(it)}): not executed — a changed intent needs a new approval")
            ctx.store.set_intent_status(iid, "skipped", why)
            results.append(Execution(intent_id=iid, symbol=it.symbol, side=it.side, status="skipped", reason=why))
            go.remove(iid)
    if decision != "approve":
        why = _why_not(decision, actor, reason, asked.deadline)
        for iid in go:
            it = intents[iid]
            ctx.store.set_intent_status(iid, "skipped", why)
            results.append(Execution(intent_id=iid, symbol=it.symbol, side=it.side, status="skipped", reason=why))
        go = []
    accepted = [i for i in state["accepted"] if intents[i].side == "sell"] + go
    outcome = Approval(decision=decision, actor=actor, reason=reason, deadline=asked.deadline, entries=entries)
    said = {"approve": f"approved by {actor}: {len(go)} entries go", "reject": f"rejected by {actor}",
            "expired": "not approved by the deadline"}[decision]
    more = f" ({len(vetoes)} vetoed while waiting)" if vetoes else ""
    stopped = "" if decision == "approve" else f": {len(entries) - len(vetoes)} entries not executed, {exits} exits run"
    return {"accepted": accepted, "results": results, "approval": outcome,
            "summary": said + (f" — {reason}" if reason else "") + stopped + more}


# What an approval binds: the fields that decide the order an entry sends.
BOUND = ("intent_id", "symbol", "side", "kind", "quantity", "reference_price", "stop", "target_weight")


def digest(it: Intent) -> str:
    """A short fingerprint of what an approval of ``it`` approves."""
    return hashlib.sha256(json.dumps([getattr(it, f) for f in BOUND], default=str).encode()).hexdigest()[:16]


def _answer(answer: Any) -> tuple[str, str, str | None]:
    """(decision, actor, reason) from the resume value; anything unexpected counts as not approved (fail closed)."""
    if not isinstance(answer, dict) or answer.get("decision") not in DECISIONS:
        return "reject", "unknown", f"unreadable answer {answer!r}: not approved"
    actor = str(answer.get("actor") or "unknown")
    reason = answer.get("reason")
    return answer["decision"], actor, (str(reason) if reason else None)


def _why_not(decision: str, actor: str, reason: str | None, deadline: str) -> str:
    if decision == "reject":
        return f"not approved: rejected by {actor}" + (f" ({reason})" if reason else "")
    return f"not approved by the deadline {deadline}" + (f" ({reason})" if reason else "")
