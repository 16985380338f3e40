"""Night: the tool-calling agents node. Each agent is a LangChain tool; every call and its output is recorded."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.state import NightState
from vocab.contracts import Proposal
from vocab.terms import Action


def agents(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    symbols = list(ctx.market.tradable)
    proposals: list[Proposal] = []
    for tool in ctx.tools.tools:
        args = {"as_of": state["as_of"], "symbols": symbols}
        t0 = time.perf_counter()
        out: list[Proposal] = tool.invoke(args)
        ms = (time.perf_counter() - t0) * 1000
        active = [p for p in out if p.action != Action.HOLD]
        # the call and a compact view of its output; each proposal's full inputs are in the proposals table
        ctx.store.record_tool_call(
            state["run_id"], tool.name, {"as_of": str(state["as_of"]), "symbols": symbols},
            {str(act): [p.symbol for p in active if p.action == act] for act in {p.action for p in active}},
            out[0].model_version if out else None, ms)
        proposals.extend(out)
    ctx.store.save_proposals(state["run_id"], state["as_of"], [p for p in proposals if p.action != Action.HOLD])
    counts = {a: sum(1 for p in proposals if p.action == a) for a in (Action.BUY_LONG, Action.CLOSE_LONG)}
    return {"proposals": proposals,
            "summary": f"{len(ctx.tools.tools)} agent tools: {counts[Action.BUY_LONG]} buy, "
                       f"{counts[Action.CLOSE_LONG]} close proposals"}
