"""Night: master picks — score each symbol 0–350 from the surviving proposals; the threshold adapts to hit rate."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from graph.nodes.book import book_view
from graph.state import NightState, Pick
from tools.contracts import Action, Proposal
from tools.picks import adaptive_threshold, hit_rate, score_symbol


def apply_verdicts(proposals: list[Proposal], verdicts) -> list[Proposal]:
    """Drop vetoed proposals; adjusted ones carry their shrunken strength and tighter stop."""
    by_key = {v.proposal_key: v for v in verdicts}
    out = []
    for p in proposals:
        if p.action == Action.HOLD:
            continue
        v = by_key.get(p.key)
        if v is None or v.decision == "confirm":
            out.append(p)
        elif v.decision == "adjust":
            out.append(p.model_copy(update={"strength": p.strength * v.size_multiplier, "stop": v.stop or p.stop}))
    return out


def picks(state: NightState, runtime) -> dict:
    ctx = runtime.context
    day = state["as_of"]
    surviving = apply_verdicts(state["proposals"], state["verdicts"])
    by_symbol: dict[str, list[Proposal]] = defaultdict(list)
    for p in surviving:
        by_symbol[p.symbol].append(p)

    sessions = ctx.market.sessions[ctx.market.sessions <= pd.Timestamp(day)]
    window = ctx.settings.picks.hit_rate_window
    start = sessions[max(0, len(sessions) - window)].date() if len(sessions) else day  # hit_rate's window
    recent = ctx.market.close.loc[pd.Timestamp(start):pd.Timestamp(day)]  # the window is all hit_rate needs
    rate, n = hit_rate(ctx.store.picks_between(start, day), recent, day, window_sessions=window)
    threshold, why = adaptive_threshold(ctx.settings.picks.base_threshold, rate, n)

    book = book_view(ctx, day)
    slots = max(0, ctx.settings.risk.max_positions - len(book.positions)) / ctx.settings.risk.max_positions
    rows = ctx.market.feature_dicts(day)
    out: list[Pick] = []
    for sym, props in sorted(by_symbol.items()):
        if not any(p.action == Action.BUY_LONG for p in props) or sym not in rows:
            continue
        card = score_symbol(sym, props, state["regime"], slots)
        if card.direction != "long":
            continue
        buys = [p for p in props if p.action == Action.BUY_LONG]
        r = rows[sym]
        out.append(Pick(
            symbol=sym, score=card.total, threshold=threshold, selected=card.total >= threshold, agents=card.agents,
            dissent=card.dissent, explanation=card.explanation, price=r["close"],
            parts={"signal": card.signal, "confidence": card.confidence, "agreement": card.agreement,
                   "regime": card.regime, "budget": card.budget},
            vol_21d=r.get("vol_21d"), ret_21d=r.get("ret_21d"),
            stop=max((p.stop for p in buys if p.stop), default=None),
            horizon_days=min(p.horizon_days for p in buys)))
    ctx.store.save_picks(state["run_id"], day, [
        {"symbol": p.symbol, "score": p.score, "threshold": p.threshold, "selected": int(p.selected),
         "horizon_days": p.horizon_days, "reference_price": p.price, "payload": p.model_dump()} for p in out])
    chosen = [p for p in out if p.selected]
    return {"picks": out, "threshold": threshold, "threshold_reason": why,
            "summary": f"{len(chosen)}/{len(out)} long candidates ≥ threshold {threshold:.0f} ({why})"}
