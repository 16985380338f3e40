"""Morning: load the night's intents, quote, validate (operators' vetoes and flatten requests, freshness, gap, stops,
halt); the approval step is ``graph.nodes.approval``; execution and reconciliation are in ``graph.nodes.execution``."""

from __future__ import annotations

import json
from datetime import date

from langgraph.runtime import Runtime

from brokers.base import Broker
from graph.context import DeskContext, live_notice
from graph.nodes.guard import entries_blocked
from graph.state import MorningState
from memory.overrides import ALL, Overrides, Veto
from vocab.contracts import Execution
from tools.calendar import sessions_between
from tools.exits import stop_level
from vocab.contracts import Intent

# Intent statuses a morning still has work for: not yet sent, or sent and not yet final at the broker.
OPEN = ("pending", "submitting", "accepted", "partially_filled", "unknown")


def broker_at(ctx: DeskContext, session: date) -> Broker:
    """The desk's broker with its clock at ``session`` when it keeps one (a simulated broker)."""
    set_session = getattr(ctx.broker, "set_session", None)
    if set_session is not None:
        set_session(session)
    return ctx.broker


def _intent(ctx: DeskContext, intent_id: str) -> Intent:
    row = ctx.store.intent(intent_id)
    if row is None:
        raise KeyError(f"intent {intent_id} is not in the store")
    return row.intent


def intents_by_id(ctx: DeskContext, intent_ids) -> dict[str, Intent]:
    """Each intent read and parsed once per node."""
    return {i: _intent(ctx, i) for i in intent_ids}


def load_intents(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    rows = ctx.store.intents(as_of=state["night_date"])
    ids = [r.intent_id for r in rows if r.status in OPEN]
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


def vetoed_reason(veto: Veto) -> str:
    """How an operator's veto reads in an intent's reason chain and status."""
    return f"vetoed by {veto.actor} at {veto.at}: {veto.reason}"


def skip_vetoed(ctx: DeskContext, iid: str, veto: Veto) -> str:
    """Record an intent an operator vetoed: its status, and the veto in its reason chain."""
    why = vetoed_reason(veto)
    with ctx.store.transaction():
        Overrides(ctx.store).add_reason(iid, f"operator veto: {why}")
        ctx.store.set_intent_status(iid, "vetoed", why)
    return why


def validate(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """Skip vetoed intents, stale intents, buys that gapped too far, buys already through their stop, and entries
    while halted; turn operators' flatten requests into exits."""
    ctx = runtime.context
    m = ctx.config.morning
    blocked = entries_blocked(ctx, state["session"])
    accepted, results = [], []
    intents = intents_by_id(ctx, state["intent_ids"])
    vetoes = Overrides(ctx.store).vetoes(intents)
    flat, flat_ids, flat_all = flatten_exits(ctx, state)
    for iid, it in intents.items():
        price = state["quotes"].get(it.symbol)
        age = sessions_between(it.as_of, state["session"], ctx.market.sessions, ctx.config.cache_dir)
        why = None
        if iid in vetoes:
            why = skip_vetoed(ctx, iid, vetoes[iid])
            results.append(Execution(intent_id=iid, symbol=it.symbol, side=it.side, status="vetoed", reason=why))
            continue
        if it.symbol in flat:
            why = (f"superseded by the operator's flatten of {it.symbol} ({flat[it.symbol]})" if it.side == "sell"
                   else f"no new entry in {it.symbol}: the operator asked to flatten it ({flat[it.symbol]})")
        elif it.side == "buy" and flat_all:
            why = f"no new entries: the operator asked to flatten the book ({flat_all})"
        elif price is None:
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
    selling = {intents[i].symbol for i in accepted if intents[i].side == "sell"} | set(flat)
    stops = stop_exits(ctx, state, selling)
    halted = sum(r.reason == blocked for r in results) if blocked else 0
    stopped = f"{halted} entr{'y' if halted == 1 else 'ies'} halted: {blocked}" if halted else ""
    return {"accepted": accepted + flat_ids + stops, "results": results, **({"warning": stopped} if stopped else {}),
            "summary": f"{len(accepted)} accepted, {len(results)} skipped"
                       + (f", {len(flat_ids)} flattened at the operator's request" if flat_ids else "")
                       + (f", {len(stops)} holdings through their stop at the morning quote" if stops else "")
                       + (f"; {stopped}" if stopped else "")}


def flatten_exits(ctx: DeskContext, state: MorningState) -> tuple[dict[str, str], list[str], str | None]:
    """Each operator's open flatten request becomes an exit intent for the whole holding, idempotent by id (a
    re-run morning finds the same intent). Returns {symbol: who asked and why}, the exit intents still to execute,
    and, for a request to flatten everything, who asked. A request for something no longer held is closed."""
    overrides = Overrides(ctx.store)
    held = ctx.store.positions()
    flat: dict[str, str] = {}
    ids: list[str] = []
    flat_all = None
    for req in overrides.open_flattens():
        asked = f"by {req.actor} at {req.at}: {req.reason}"
        symbols = sorted(held) if req.symbol == ALL else [req.symbol]
        if req.symbol == ALL:
            flat_all = asked
        if not any(s in held for s in symbols):
            overrides.close_flatten(req.id, f"nothing held to flatten at the morning of {state.session}")
            continue
        todo = [s for s in symbols if s in held and state["quotes"].get(s) is not None]  # unquoted: next morning
        for sym in todo:
            flat.setdefault(sym, asked)
            iid = f"{state['night_date'].isoformat()}:{sym}:sell:flatten"
            existing = ctx.store.intent(iid)
            if existing is None:
                price = state["quotes"][sym]
                ctx.store.save_intents(state["run_id"], [Intent(
                    intent_id=iid, as_of=state["night_date"], symbol=sym, side="sell", kind="exit",
                    target_weight=0.0, quantity=held[sym].quantity, reference_price=price,
                    reasons=[f"operator flatten {asked}"])])
            elif existing.status not in OPEN:
                continue
            if req.symbol != ALL:
                overrides.link_flatten(req.id, iid)
            if iid not in ids:
                ids.append(iid)
    return flat, ids, flat_all


def settle_flattens(ctx: DeskContext) -> int:
    """Close the flatten requests the morning carried out (nothing of their symbols is held any more)."""
    overrides = Overrides(ctx.store)
    held = ctx.store.positions()
    closed = 0
    for req in overrides.open_flattens():
        symbols = sorted(held) if req.symbol == ALL else [req.symbol]
        if not any(s in held for s in symbols):
            overrides.close_flatten(req.id, "flattened" + (f" by {req.intent_id}" if req.intent_id else ""))
            closed += 1
    return closed


def stop_exits(ctx: DeskContext, state: MorningState, selling: set[str]) -> list[str]:
    """Holdings whose morning quote is at or below their stop get an exit intent (idempotent by id)."""
    out = []
    for sym, pos in ctx.store.positions().items():
        price = state["quotes"].get(sym)
        stop = stop_level(pos.initial_stop, pos.peak, pos.trail_pct, ctx.config.risk.trailing_exits)
        if sym in selling or price is None or price > stop:
            continue
        iid = f"{state['night_date'].isoformat()}:{sym}:sell:morning_stop"
        existing = ctx.store.intent(iid)
        if existing is None:
            ctx.store.save_intents(state["run_id"], [Intent(
                intent_id=iid, as_of=state["night_date"], symbol=sym, side="sell", kind="exit",
                target_weight=0.0, quantity=pos.quantity, reference_price=price,
                reasons=[f"morning stop: quote {price:.2f} at or below the stop {stop:.2f} "
                         f"(peak {pos.peak:.2f}, trail {pos.trail_pct:.0%}, initial stop {pos.initial_stop:.2f})"])])
        elif existing.status not in OPEN:
            continue
        out.append(iid)
    return out


def report(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    res = state.get("results", [])
    counts = json.dumps({s: sum(r.status == s for r in res) for s in sorted({r.status for r in res})})
    closed = settle_flattens(runtime.context)
    return {"summary": f"{live_notice(runtime.context.broker)}session {state['session']}: {counts}"
                       + (f"; {closed} flatten request(s) done" if closed else "")}
