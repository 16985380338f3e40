"""Night: the freshness gate, and which symbols have the bars the decision needs."""

from __future__ import annotations

from datetime import date

import pandas as pd
from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.state import NightState
from tools.freshness import Freshness, measure


def ingest(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """The freshness gate (ARCHITECTURE.md: invariant 8) and stale symbols: data older than ``data.max_age_sessions``
    sessions against the night's reference session blocks every new entry (exits still run); symbols the loader marked
    stale block their own."""
    ctx = runtime.context
    stale: dict[str, str] = {}
    flagged = [s for s in ctx.store.symbols() if s.stale]
    for s in flagged:
        stale[s.symbol] = s.note or "flagged stale by the loader"
    fresh = night_freshness(ctx, state["as_of"], state.get("reference"))
    if fresh.stale:
        stale["*"] = f"{fresh.reason}: no new entries (exits still run)"
    universe = set(ctx.market.tradable)
    if universe and universe <= set(stale):
        stale.setdefault("*", "every symbol in the universe is stale")
    age = f"; data {fresh.age_sessions} session(s) old" + (" — STALE" if fresh.stale else "") if fresh.live else ""
    return {"stale": stale, "freshness": fresh,
            "summary": f"{len(ctx.market.tradable)} symbols, {len(stale)} stale{age}"}


def night_freshness(ctx: DeskContext, day: date, reference: date | None) -> Freshness:
    """The data's age for the night of ``day``: against ``reference`` (a live night: the calendar's last closed
    session), else against ``day`` itself (history: what the desk held that night, never what came after)."""
    against = reference or day
    held = ctx.market.sessions_to(max(day, against))
    return measure(held[-1].date() if len(held) else None, against, ctx.config.data.max_age_sessions,
                   live=reference is not None, sessions=ctx.market.sessions, cache_dir=ctx.config.cache_dir)


def validate_data(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """Symbols without a bar on the decision date cannot be traded that night."""
    ctx = runtime.context
    day = pd.Timestamp(state["as_of"])
    stale = dict(state.get("stale", {}))
    row = ctx.market.close.loc[day] if day in ctx.market.close.index else None
    missing = [s for s in ctx.market.tradable if row is None or pd.isna(row.get(s))]
    for s in missing:
        stale.setdefault(s, f"no bar on {state['as_of']}")
    return {"stale": stale, "summary": f"{len(ctx.market.tradable) - len(missing)} with a bar on {state['as_of']}"}
