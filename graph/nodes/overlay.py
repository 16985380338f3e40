"""Night: the overlay reviews each actionable proposal — confirm, adjust (shrink/tighten) or veto, with a reason."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.state import NightState
from tools.contracts import Action


def overlay(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    rows = ctx.market.feature_dicts(state["as_of"])
    verdicts = []
    for p in state["proposals"]:
        if p.action == Action.HOLD:
            continue
        feats = rows.get(p.symbol, {})
        verdicts.append(ctx.provider.review(p, state["weather"], feats))
    ctx.store.save_verdicts(state["run_id"], state["as_of"], verdicts)
    tally = {d: sum(1 for v in verdicts if v.decision == d) for d in ("confirm", "adjust", "veto")}
    fallbacks = sum(1 for v in verdicts if v.provenance.fallback)
    return {"verdicts": verdicts,
            "summary": f"{tally['confirm']} confirm, {tally['adjust']} adjust, {tally['veto']} veto"
                       + (f", {fallbacks} fell back to rules" if fallbacks else "")}
