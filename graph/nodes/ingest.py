"""Night: check the store has the bars the decision needs, and which are stale."""

from __future__ import annotations

from datetime import date

import pandas as pd
from langgraph.runtime import Runtime

from graph.config import LIVE_SOURCES
from graph.context import DeskContext
from graph.state import NightState


def ingest(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """Flag stale data: symbols the loader marked stale, and a live source whose last bar is too old."""
    ctx = runtime.context
    stale: dict[str, str] = {}
    flagged = [s for s in ctx.store.symbols() if s["stale"]]
    for s in flagged:
        stale[s["symbol"]] = s["note"] or "flagged stale by the loader"
    if ctx.config.data.source in LIVE_SOURCES:
        last = ctx.market.sessions[-1].date() if len(ctx.market.sessions) else None
        age = (date.today() - last).days if last else None
        if age is None or age > ctx.config.data.max_staleness_days:
            stale["*"] = f"latest bar {last} is {age} days old (limit {ctx.config.data.max_staleness_days})"
    universe = set(ctx.market.tradable)
    if universe and universe <= set(stale):
        stale.setdefault("*", "every symbol in the universe is stale")
    return {"stale": stale, "summary": f"{len(ctx.market.tradable)} symbols, {len(stale)} stale"}


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
