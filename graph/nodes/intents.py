"""Night: write intents with their full reason chain. Intents already acted on are never rewritten."""

from __future__ import annotations

from collections import Counter

from langgraph.runtime import Runtime

from graph.context import DeskContext, live_notice
from graph.state import NightState
from vocab.contracts import Intent
from vocab.terms import Action
from tools.units import sell_in_units


def write_intents(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """Write the night's intents and raise the holdings' peaks to its closes, in one transaction."""
    ctx = runtime.context
    day = state["as_of"]
    picks = {p.symbol: p for p in state["picks"]}
    proposals = {(p.agent, p.symbol): p for p in state["proposals"]}
    intents: list[Intent] = []
    for s in state["sized"]:
        pick = picks[s.symbol]
        reasons = [f"picks: score {pick.score:.0f} ≥ {pick.threshold:.0f} — {pick.explanation}" if s.track == "main"
                   else f"picks: score {pick.score:.0f} < {pick.threshold:.0f} (moonshot track) — {pick.explanation}"]
        reasons += [f"{a}: {proposals[(a, s.symbol)].rationale}" for a in pick.agents if (a, s.symbol) in proposals]
        reasons += [f"overlay {v.decision}: {v.reason}" for v in s.verdicts]
        reasons.append(f"weather: {state['regime']} — {state['view'].narrative.splitlines()[0]}")
        if s.tier is not None:
            reasons.append(f"sizing tier {s.tier}" + (" (moonshot track)" if s.track == "moonshot" else "")
                           + ": " + "; ".join(s.gates))
        if state.get("agent_weights"):
            reasons.append("agent weights: " + ", ".join(f"{a} {w:.2f}" for a, w in
                                                         sorted(state["agent_weights"].items())))
        intents.append(Intent(
            intent_id=f"{day.isoformat()}:{s.symbol}:buy:entry", as_of=day, symbol=s.symbol, side="buy", kind="entry",
            target_weight=min(1.0, s.weight), quantity=s.quantity, reference_price=s.price, stop=s.stop,
            score=s.score, reasons=reasons, sizing=s.factors, verdicts=s.verdicts, denials=s.clipped_by,
            trail_pct=ctx.config.risk.trailing_stop, tiers_hit=0, tier=s.tier, gates=s.gates, track=s.track))
    held = ctx.store.positions()
    for e in state["exits"]:
        if e.quantity <= 0:
            continue
        units = sell_in_units(e.quantity, held[e.symbol].quantity if e.symbol in held else e.quantity,
                              ctx.broker.quantity_rules(e.symbol))
        intents.append(Intent(
            intent_id=f"{day.isoformat()}:{e.symbol}:sell:{e.kind}", as_of=day, symbol=e.symbol, side="sell",
            kind=e.kind, target_weight=0.0, quantity=units.quantity, reference_price=e.price,
            reasons=[f"{e.trigger}: {e.reason}", *([units.note] if units.note else [])], trail_pct=e.new_trail,
            tiers_hit=e.new_tiers_hit))
    existing = {r.intent_id: r.status for r in ctx.store.intents(as_of=day)}
    fresh = [i for i in intents if existing.get(i.intent_id, "pending") == "pending"]
    with ctx.store.transaction():
        stale_ids = [k for k, st in existing.items() if st == "pending" and k not in {i.intent_id for i in fresh}]
        for k in stale_ids:
            ctx.store.set_intent_status(k, "superseded", "a later night run for this date did not repeat it")
        ctx.store.save_intents(state["run_id"], fresh)
        ctx.store.save_moonshots(day, [{"intent_id": i.intent_id, "symbol": i.symbol, "weight": i.target_weight}
                                       for i in fresh if i.track == "moonshot"])
        ctx.store.advance_peaks(day, state.get("marks", {}))
        entered = {i.symbol for i in intents if i.side == "buy"}
        ctx.store.save_pick_denials(day, {sym: [d.model_dump() for d in ds]
                                          for sym, ds in state.get("denials", {}).items() if sym not in entered})
    kept = len(intents) - len(fresh)
    return {"intents": intents,
            "summary": f"{sum(i.side == 'buy' for i in intents)} entries, {sum(i.side == 'sell' for i in intents)} "
                       f"exits" + (f" ({kept} already acted on, kept)" if kept else "")}


def report(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    denied = sum(len(v) for v in state.get("denials", {}).values())
    cause = flat_cause(state, runtime.context)
    return {"flat_cause": cause,
            "summary": f"{live_notice(runtime.context.broker)}regime {state['regime']}, "
                       f"{len(state.get('intents', []))} intents, {denied} denials"
                       + (f"; no exposure: {cause}" if cause else "")}


def flat_cause(state: NightState, ctx: DeskContext) -> str | None:
    """Why the book holds nothing after tonight, when it does not: the rule that left it flat (None otherwise)."""
    entries = [i for i in state.get("intents", []) if i.side == "buy"]
    if entries or ctx.store.positions():
        return None
    denials = state.get("denials", {})
    last = [ds[-1] for ds in denials.values() if ds]
    if last:
        rule, n = Counter(d.rule for d in last).most_common(1)[0]
        example = next(d.reason for d in last if d.rule == rule)
        return f"{rule} denied {n} of {len(last)} candidate(s), e.g. {example}"
    picks = state.get("picks", [])
    if picks:
        best = max(picks, key=lambda p: p.score)
        return (f"no pick cleared the threshold {state.get('threshold', best.threshold):.0f} "
                f"({state.get('threshold_reason', '')}; best {best.symbol} {best.score:.0f})")
    proposals = [p for p in state.get("proposals", []) if p.action is Action.BUY_LONG]
    vetoed = sum(1 for v in state.get("verdicts", []) if v.decision == "veto")
    if proposals:
        return f"no long candidate survived the overlay ({vetoed} veto(es) of {len(proposals)} long proposal(s))"
    return "no agent proposed a long entry"
