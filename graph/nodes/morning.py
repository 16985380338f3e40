"""Morning: load the night's intents, quote, validate (freshness, gap, stops, halt); execution and reconciliation
are in ``graph.nodes.execution``."""

from __future__ import annotations

import json
from datetime import date

from langgraph.runtime import Runtime

from brokers.base import Broker
from graph.context import DeskContext
from graph.nodes.guard import entries_blocked
from graph.state import Execution, MorningState
from tools.calendar import sessions_between
from tools.contracts import Intent
from tools.exits import stop_level

# Intent statuses a morning still has work for: not yet sent, or sent and not yet final at the broker.
OPEN = ("pending", "submitting", "accepted", "partially_filled", "unknown")


def broker_at(ctx: DeskContext, session: date) -> Broker:
    """The desk's broker with its clock at ``session`` when it keeps one (a simulated broker)."""
    set_session = getattr(ctx.broker, "set_session", None)
    if set_session is not None:
        set_session(session)
    return ctx.broker


def _intent(ctx: DeskContext, intent_id: str) -> Intent:
    return Intent.model_validate_json(ctx.store.intent(intent_id)["payload"])


def intents_by_id(ctx: DeskContext, intent_ids) -> dict[str, Intent]:
    """Each intent read and parsed once per node."""
    return {i: _intent(ctx, i) for i in intent_ids}


def load_intents(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    rows = ctx.store.intents(as_of=state["night_date"])
    ids = [r["intent_id"] for r in rows if r["status"] in OPEN]
    return {"intent_ids": ids, "summary": f"{len(ids)} intents from the night of {state['night_date']}"}


def quotes(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """Quote every symbol an intent names and every holding (its stop is re-checked at the morning price)."""
    ctx = runtime.context
    broker = broker_at(ctx, state["session"])
    q, src = {}, {}
    wanted = {it.symbol for it in intents_by_id(ctx, state["intent_ids"]).values()}
    for sym in sorted(wanted | set(ctx.store.positions())):
        quote = broker.quote(sym)
        q[sym], src[sym] = quote.price, quote.source
    latest = sorted({s for s in src.values() if s == "latest_close"})
    note = f" — no bar for {state['session']} yet: quoting the latest close" if latest else ""
    return {"quotes": q, "quote_source": src, "summary": f"{len(q)} quotes for {state['session']}{note}"}


def validate(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """Skip stale intents, buys that gapped too far, buys already through their stop, and entries while halted."""
    ctx = runtime.context
    m = ctx.config.morning
    blocked = entries_blocked(ctx, state["session"])
    accepted, results = [], []
    intents = intents_by_id(ctx, state["intent_ids"])
    for iid, it in intents.items():
        price = state["quotes"].get(it.symbol)
        age = sessions_between(it.as_of, state["session"], ctx.market.sessions)
        why = None
        if price is None:
            why = "no quote"
        elif age > m.max_intent_age_days:
            why = f"intent is {age} trading days old (limit {m.max_intent_age_days})"
        elif it.side == "buy" and blocked:
            why = blocked
        elif it.side == "buy" and abs(price / it.reference_price - 1) > m.max_gap:
            why = f"gapped {price / it.reference_price - 1:+.1%} from {it.reference_price:.2f} (limit {m.max_gap:.0%})"
        elif it.side == "buy" and it.stop and price <= it.stop:
            why = f"quote {price:.2f} already at or below the stop {it.stop:.2f}"
        if why:
            ctx.store.set_intent_status(iid, "skipped", why)
            results.append(Execution(intent_id=iid, symbol=it.symbol, side=it.side, status="skipped", reason=why))
        else:
            accepted.append(iid)
    stops = stop_exits(ctx, state, {intents[i].symbol for i in accepted if intents[i].side == "sell"})
    return {"accepted": accepted + stops, "results": results,
            "summary": f"{len(accepted)} accepted, {len(results)} skipped"
                       + (f", {len(stops)} holdings through their stop at the morning quote" if stops else "")}


def stop_exits(ctx: DeskContext, state: MorningState, selling: set[str]) -> list[str]:
    """Holdings whose morning quote is at or below their stop get an exit intent (idempotent by id)."""
    out = []
    for sym, pos in ctx.store.positions().items():
        price = state["quotes"].get(sym)
        stop = stop_level(pos["initial_stop"], pos["peak"], pos["trail_pct"])
        if sym in selling or price is None or price > stop:
            continue
        iid = f"{state['night_date'].isoformat()}:{sym}:sell:morning_stop"
        existing = ctx.store.intent(iid)
        if existing is None:
            ctx.store.save_intents(state["run_id"], [Intent(
                intent_id=iid, as_of=state["night_date"], symbol=sym, side="sell", kind="exit",
                target_weight=0.0, quantity=pos["quantity"], reference_price=price,
                reasons=[f"morning stop: quote {price:.2f} at or below the stop {stop:.2f} "
                         f"(peak {pos['peak']:.2f}, trail {pos['trail_pct']:.0%}, initial stop {pos['initial_stop']:.2f})"])])
        elif existing["status"] not in OPEN:
            continue
        out.append(iid)
    return out


def report(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    res = state.get("results", [])
    counts = json.dumps({s: sum(r.status == s for r in res) for s in sorted({r.status for r in res})})
    return {"summary": f"session {state['session']}: {counts}"}
