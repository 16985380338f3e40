"""Night: the overlay reviews the actionable proposals — confirm, adjust (shrink/tighten) or veto, with a reason.

An LLM provider answers for every entry proposal of the night in one call by default; exits are never blocked."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.providers.base import review_all
from graph.providers.scope import call_scope
from graph.state import NightState


def overlay(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    rows = ctx.market.feature_dicts(state["as_of"])
    with call_scope(state["run_id"], state["as_of"]):
        verdicts = review_all(ctx.provider, state["proposals"], state["weather"], rows)
    ctx.store.save_verdicts(state["run_id"], state["as_of"], verdicts)
    tally = {d: sum(1 for v in verdicts if v.decision == d) for d in ("confirm", "adjust", "veto")}
    fallbacks = [v for v in verdicts if v.provenance.fallback]
    calls = {v.provenance.call_id for v in verdicts if v.provenance.call_id and not v.provenance.replayed}
    cost = sum(v.provenance.cost_usd for v in {v.provenance.call_id: v for v in verdicts
                                               if v.provenance.call_id}.values())
    spend = f"; {len(calls)} LLM call(s), ${cost:.4f}" if calls else ""
    why = f" ({fallbacks[0].provenance.fallback_reason})" if fallbacks else ""
    return {"verdicts": verdicts,
            "summary": f"{tally['confirm']} confirm, {tally['adjust']} adjust, {tally['veto']} veto"
                       + (f", {len(fallbacks)} fell back to rules{why}" if fallbacks else "") + spend}
