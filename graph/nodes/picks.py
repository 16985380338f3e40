"""Night: master picks — score each symbol 0–350 from the surviving proposals; the threshold adapts to hit rate."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.nodes.book import book_view
from graph.state import NightState, Pick
from models.api import SymbolsArgs
from tools.picks import adaptive_threshold, hit_rate, score_symbol
from vocab.contracts import Denial, Proposal, Verdict
from vocab.terms import Action


def apply_verdicts(proposals: Sequence[Proposal],
                   verdicts: Sequence[Verdict]) -> tuple[list[Proposal], dict[str, list[Denial]]]:
    """Drop vetoed proposals; adjusted ones carry their shrunken strength and tighter stop. A proposal the overlay
    gave no verdict fails closed: it is dropped, and a denial per symbol says so (a missing verdict is never a
    confirm)."""
    by_key = {v.proposal_key: v for v in verdicts}
    out: list[Proposal] = []
    missing: dict[str, list[Denial]] = defaultdict(list)
    for p in proposals:
        if p.action == Action.HOLD:
            continue
        v = by_key.get(p.key)
        if v is None:
            missing[p.symbol].append(Denial(rule="no_verdict",
                                            reason=f"proposal {p.key} has no overlay verdict: not used"))
        elif v.decision == "confirm":
            out.append(p)
        elif v.decision == "adjust":
            out.append(p.model_copy(update={"strength": p.strength * v.size_multiplier, "stop": v.stop or p.stop}))
    return out, dict(missing)


# Asset health moves a symbol's bar by up to ±25 points around the night's threshold (a healthy asset, score 1, needs
# 25 fewer; a sick one, score 0, 25 more): a tenth of the 0-350 scale at most, an a-priori weight, not fitted.
HEALTH_POINTS = 50.0


def asset_health(ctx: DeskContext, state: NightState, symbols: list[str],
                 record_as: str = "asset_health") -> dict[str, float]:
    """Tonight's health score per symbol from the asset-health model, when it is usable (else none: no effect,
    and the models step says why the model is out)."""
    day = state["as_of"]
    if not symbols or not ctx.tools.models.availability("health", day).usable:
        return {}
    t0 = time.perf_counter()
    result = ctx.tools.models.health(SymbolsArgs(as_of=day, symbols=symbols))
    scores = {s.symbol: s.health for s in result.scores if s.available and s.health is not None}
    ctx.store.record_tool_call(state["run_id"], record_as, {"as_of": str(day), "symbols": symbols},
                               {k: round(v, 4) for k, v in scores.items()}, result.model_version,
                               (time.perf_counter() - t0) * 1000)
    return scores


def health_bar(threshold: float, health: float | None) -> tuple[float, str]:
    """The bar one symbol must clear: the night's threshold moved by its health (unchanged without a score)."""
    if health is None:
        return threshold, ""
    bar = min(350.0, max(0.0, threshold + HEALTH_POINTS * (0.5 - health)))
    return bar, f"; health {health:.2f} moves its bar {threshold:.0f} → {bar:.0f}"


def picks(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    day = state["as_of"]
    surviving, unreviewed = apply_verdicts(state["proposals"], state["verdicts"])
    by_symbol: dict[str, list[Proposal]] = defaultdict(list)
    for p in surviving:
        by_symbol[p.symbol].append(p)

    sessions = ctx.market.sessions_to(day)
    window = ctx.config.picks.hit_rate_window
    start = sessions[max(0, len(sessions) - window)].date() if len(sessions) else day  # hit_rate's window
    picks_made = ctx.store.picks_between(start, day, arrays=True)
    rate, n = hit_rate(picks_made, ctx.market.arrays, day, window_sessions=window)
    threshold, why = adaptive_threshold(ctx.config.picks.base_threshold, rate, n)

    book = book_view(ctx, day)
    slots = max(0, ctx.config.risk.max_positions - len(book.positions)) / ctx.config.risk.max_positions
    rows = ctx.market.feature_dicts(day)
    health = asset_health(ctx, state, [s for s in sorted(by_symbol) if s in rows])
    out: list[Pick] = []
    mine: list[dict] = []   # each agent's part in each long pick: its track record (graph/nodes/trust.py)
    for sym, props in sorted(by_symbol.items()):
        if not any(p.action == Action.BUY_LONG for p in props) or sym not in rows:
            continue
        card = score_symbol(sym, props, state["regime"], slots, state.get("agent_weights"))
        if card.direction != "long":
            continue
        buys = [p for p in props if p.action == Action.BUY_LONG]
        r = rows[sym]
        bar, because = health_bar(threshold, health.get(sym))
        out.append(Pick(
            symbol=sym, score=card.total, threshold=bar, selected=card.total >= bar, agents=card.agents,
            proposal_keys=[p.key for p in sorted(buys, key=lambda p: p.agent)], dissent=card.dissent,
            explanation=card.explanation + because,
            price=r["close"], parts=card.parts, vol_21d=r.get("vol_21d"), ret_21d=r.get("ret_21d"),
            stop=max((p.stop for p in buys if p.stop), default=None),
            target=min((p.target for p in buys if p.target), default=None),
            horizon_days=min(p.horizon_days for p in buys)))
        mine.extend({"agent": p.agent, "symbol": sym, "horizon_days": p.horizon_days, "reference_price": r["close"],
                     "signal": p.strength * p.confidence, "model_version": p.model_version} for p in buys)
    ctx.store.save_picks(state["run_id"], day, [
        {"symbol": p.symbol, "score": p.score, "threshold": p.threshold, "selected": int(p.selected),
         "horizon_days": p.horizon_days, "reference_price": p.price, "payload": p.model_dump()} for p in out])
    ctx.store.save_agent_picks(state["run_id"], day, mine)
    chosen = [p for p in out if p.selected]
    return {"picks": out, "threshold": threshold, "threshold_reason": why, "denials": dict(unreviewed),
            "summary": f"{len(chosen)}/{len(out)} long candidates ≥ threshold {threshold:.0f} ({why})"
                       + (f"; proposals without a verdict dropped for {', '.join(sorted(unreviewed))}"
                          if unreviewed else "")}
