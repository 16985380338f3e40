"""Night: whom to trust — each agent's track record from its resolved picks (known by tonight only) and tonight's
agent weights: Beta posteriors Thompson-sampled with a seeded generator, cut for drift, persisted."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.config import DeskConfig
from graph.context import DeskContext
from graph.state import NightState
from tools.trust import AgentRecord, records, resolve, thompson

def track_records(ctx: DeskContext, day, agents: list[str]) -> dict[str, AgentRecord]:
    """Every agent's record on ``day`` from the store's agent picks and the closes to ``day``."""
    c: DeskConfig = ctx.config
    sessions = ctx.market.sessions_to(day)
    if not len(sessions):
        return {a: AgentRecord(agent=a, resolved=0, wins=0) for a in agents}
    back = max(c.sizing.track_sessions, c.trust.window_sessions)   # picks made in the track window
    start = sessions[max(0, len(sessions) - back)]
    rows = ctx.store.agent_picks_between(start.date(), day, arrays=True)
    done = resolve(rows, ctx.market.arrays, day)  # the closes after ``day`` are never read
    last = ctx.market.arrays.last_on_or_before(day)  # D's row in the closes resolve read
    t = c.trust
    return records(done, agents, last, trust_window=t.window_sessions, drift_window=t.drift_window,
                   min_ic_picks=c.sizing.min_ic_picks)


def trust(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    day = state["as_of"]
    agents = sorted({p.agent for p in state["proposals"]})
    recs = track_records(ctx, day, agents)
    # the posteriors' window is the trust window; the record above keeps the longer Kelly window's totals
    t = ctx.config.trust
    weights = thompson(recs, day, t.seed, margin=t.drift_margin, min_picks=t.drift_min_picks,
                       drift_factor=t.drift_factor, mode=t.mode, min_draw_picks=t.min_draw_picks)
    ctx.store.save_agent_weights(day, [
        w.model_dump() | {"drift": int(w.drift), "resolved": recs[w.agent].resolved, "ic": recs[w.agent].ic,
                          "hit_rate": recs[w.agent].wins / recs[w.agent].resolved if recs[w.agent].resolved else None,
                          "live_rate": recs[w.agent].live_rate, "reference_rate": recs[w.agent].reference_rate}
        for w in weights])
    drifting = [w.agent for w in weights if w.drift]
    return {"agent_records": recs, "agent_weights": {w.agent: w.weight for w in weights},
            "summary": ", ".join(f"{w.agent} {w.weight:.2f}" for w in weights)
                       + (f"; drift down-weights {', '.join(drifting)}" if drifting else "")
                       + f" ({t.mode})"}
