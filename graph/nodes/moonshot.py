"""Night: the moonshot track — asymmetric setups the main scoring ranked modestly get a small, capped allocation of
their own (tools.moonshot; never above 2% of equity in all, held moonshots included). They go through the risk
reviewer and the hard rules like every entry; their intents are marked so replays report them on their own line."""

from __future__ import annotations

from datetime import timedelta

from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.nodes.book import book_view
from graph.nodes.guard import entries_blocked
from graph.state import NightState, Sized
from tools.moonshot import MoonshotCandidate, allocate, reward_risk
from tools.risk import BookView
from vocab.contracts import SizingFactor
from vocab.terms import SizingTier

FILL_WINDOW = timedelta(days=7)   # a moonshot night's entry fills within a few sessions: later entries are not its


def held_moonshots(ctx: DeskContext, book: BookView) -> dict[str, float]:
    """Market value of the holdings that entered on a moonshot intent."""
    positions = ctx.store.positions()
    out = {}
    for row in ctx.store.moonshots():
        sym = row.symbol
        if sym in positions and sym in book.positions:
            entered = positions[sym].entry_date
            if row.as_of <= entered <= row.as_of + FILL_WINDOW:
                out[sym] = book.positions[sym]
    return out


def moonshot(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    m = ctx.config.moonshot
    day = state["as_of"]
    if not m.enabled:
        return {"moonshots": [], "summary": "moonshot track off"}
    if entries_blocked(ctx, day):
        return {"moonshots": [], "summary": "entries blocked: no moonshots"}
    sized_now = {s.symbol for s in state.get("sized", [])}
    candidates = [MoonshotCandidate(symbol=p.symbol, price=p.price, stop=p.stop, target=p.target, score=p.score,
                                    threshold=p.threshold, selected=p.selected)
                  for p in state["picks"] if p.symbol not in sized_now
                  and (reward_risk(p.price, p.stop, p.target) or 0.0) >= m.min_reward_risk]
    if not candidates:
        return {"moonshots": [], "summary": "no moonshot setups tonight"}
    book = book_view(ctx, day)
    candidates = [c for c in candidates if c.symbol not in book.positions]
    held = held_moonshots(ctx, book)
    exposure = sum(held.values()) / book.equity if book.equity > 0 else 1.0
    chosen = allocate(candidates, exposure, min_rr=m.min_reward_risk, min_score_share=m.min_score_share,
                      per_trade=m.per_trade, total_cap=m.total_cap)
    picks = {p.symbol: p for p in state["picks"]}
    sized = list(state.get("sized", []))
    for c in chosen:
        p = picks[c.symbol]
        factors = [SizingFactor(name="moonshot", multiplier=c.weight, weight_after=c.weight, reason=c.reason)]
        sized.append(Sized(symbol=c.symbol, weight=c.weight, price=p.price, score=p.score, stop=p.stop,
                           factors=factors, tier=SizingTier.FIXED, track="moonshot",
                           gates=[f"moonshot track: {exposure:.2%} of equity held in moonshots before tonight"]))
    return {"sized": sized, "moonshots": chosen,
            "summary": ", ".join(f"{c.symbol} {c.weight:.2%} (R:R {c.reward_risk:.1f})" for c in chosen)
                       or f"no moonshot setups ({exposure:.2%} held)"}
