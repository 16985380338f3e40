"""Morning: load the night's intents, quote, validate (freshness, gap, stops, halt), execute, reconcile."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import date

from langgraph.runtime import Runtime

from brokers.base import Broker, Order
from graph.context import DeskContext
from graph.nodes.guard import entries_blocked
from graph.nodes.sizing import policy
from graph.state import Execution, MorningState
from tools.breakers import daily_loss
from tools.calendar import sessions_between
from tools.contracts import Intent
from tools.exits import open_position, stop_level


def client_order_id(intent_id: str) -> str:
    """Deterministic: the same intent always maps to the same broker order id."""
    return "desk-" + hashlib.sha256(intent_id.encode()).hexdigest()[:24]


def broker_at(ctx: DeskContext, session: date) -> Broker:
    """The desk's broker with its clock at ``session`` when it keeps one (a simulated broker)."""
    set_session = getattr(ctx.broker, "set_session", None)
    if set_session is not None:
        set_session(session)
    return ctx.broker


def _intent(ctx: DeskContext, intent_id: str) -> Intent:
    return Intent.model_validate_json(ctx.store.intent(intent_id)["payload"])


def _intents(ctx: DeskContext, intent_ids) -> dict[str, Intent]:
    """Each intent read and parsed once per node."""
    return {i: _intent(ctx, i) for i in intent_ids}


def load_intents(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    rows = ctx.store.intents(as_of=state["night_date"])
    ids = [r["intent_id"] for r in rows if r["status"] in ("pending", "submitting")]
    return {"intent_ids": ids, "summary": f"{len(ids)} intents from the night of {state['night_date']}"}


def quotes(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """Quote every symbol an intent names and every holding (its stop is re-checked at the morning price)."""
    ctx = runtime.context
    broker = broker_at(ctx, state["session"])
    q, src = {}, {}
    wanted = {it.symbol for it in _intents(ctx, state["intent_ids"]).values()}
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
    intents = _intents(ctx, state["intent_ids"])
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
        elif existing["status"] not in ("pending", "submitting"):
            continue
        out.append(iid)
    return out


def execute(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """Submit each accepted intent once: the order row is written before the broker call, keyed by its id."""
    ctx = runtime.context
    broker = broker_at(ctx, state["session"])
    held = {s: p.quantity for s, p in broker.positions().items()}
    results = list(state.get("results", []))
    submitted = 0
    intents = _intents(ctx, state["accepted"])
    for iid, it in sorted(intents.items(), key=lambda kv: (kv[1].side != "sell", kv[0])):  # sells free cash
        coid = client_order_id(iid)
        qty = min(it.quantity, held.get(it.symbol, 0.0)) if it.side == "sell" else it.quantity
        if qty <= 0:
            ctx.store.set_intent_status(iid, "skipped", "nothing held to sell")
            results.append(Execution(intent_id=iid, symbol=it.symbol, side=it.side, status="skipped",
                                     reason="nothing held to sell"))
            continue
        existing = ctx.store.order(coid)
        if existing is None:
            ctx.store.record_order(coid, iid, state["run_id"], it.symbol, it.side, qty, state["session"], "submitting")
        elif existing["status"] in ("filled", "rejected", "cancelled"):
            results.append(Execution(intent_id=iid, symbol=it.symbol, side=it.side, status="already_done",
                                     reason=f"order {coid} already {existing['status']}", client_order_id=coid))
            continue
        else:
            qty = existing["quantity"]  # resume exactly the order that was being submitted
        status = broker.submit(Order(client_order_id=coid, symbol=it.symbol, side=it.side, quantity=qty))
        submitted += 1
        with ctx.store.transaction():
            ctx.store.update_order(coid, status.status, status.reason)
            if status.status == "filled":
                ctx.store.record_fill({"fill_id": coid, "client_order_id": coid, "symbol": it.symbol,
                                       "side": it.side, "quantity": status.filled_qty, "price": status.avg_price,
                                       "commission": status.commission, "session": state["session"].isoformat(),
                                       "price_source": status.price_source or "unknown"})
                ctx.store.set_intent_status(iid, "filled", None)
            else:
                ctx.store.set_intent_status(iid, status.status, status.reason)
        results.append(Execution(intent_id=iid, symbol=it.symbol, side=it.side, status=status.status,
                                 reason=status.reason or "", client_order_id=coid, quantity=status.filled_qty,
                                 price=status.avg_price, price_source=status.price_source))
    filled = [r for r in results if r.status == "filled"]
    return {"results": results, "summary": f"{len(filled)} filled, {submitted} submitted"}


def reconcile(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """The broker's book is the truth: mirror its positions into the store, keeping the desk's stop metadata."""
    ctx = runtime.context
    broker = broker_at(ctx, state["session"])
    live = broker.positions()
    ours = ctx.store.positions()
    session: date = state["session"]
    fills = {r.symbol: r for r in state.get("results", []) if r.status == "filled"}
    with ctx.store.transaction():
        for sym in set(ours) - set(live):
            ctx.store.delete_position(sym)
        for sym, p in live.items():
            row = ours.get(sym)
            f = fills.get(sym)
            it = _intent(ctx, f.intent_id) if f else None
            if row is None:
                opened = open_position(sym, p.quantity, p.avg_price, session, it.stop if it else None,
                                       policy(ctx.config))
                row = {**asdict(opened), "entry_date": session.isoformat(), "peak_date": session.isoformat()}
            elif it is not None and it.side == "sell":
                row = {**row, "trail_pct": it.trail_pct or row["trail_pct"], "tiers_hit": it.tiers_hit or row["tiers_hit"]}
            ctx.store.upsert_position({**row, "quantity": p.quantity, "avg_price": p.avg_price})
        acct = broker.account()
        marks = {s: {"qty": p.quantity, "price": p.market_price, "value": p.market_value} for s, p in live.items()}
        prev = ctx.store.latest_snapshot(before=session)
        ctx.store.save_snapshot(session, acct.cash, acct.equity, acct.positions_value,
                                acct.positions_value / acct.equity if acct.equity else 0.0, marks)
        tripped = daily_loss(prev["equity"] if prev else None, acct.equity, ctx.config.risk.daily_loss_limit)
        if tripped:
            ctx.store.trip_breaker("daily_loss", session, ctx.config.risk.breaker_sessions, tripped)
    return {"equity": acct.equity, "cash": acct.cash,
            "summary": f"book {acct.equity:,.0f} ({len(live)} positions, cash {acct.cash:,.0f})"
                       + (f" — circuit breaker daily_loss tripped: {tripped}" if tripped else "")}


def report(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    res = state.get("results", [])
    counts = json.dumps({s: sum(r.status == s for r in res) for s in sorted({r.status for r in res})})
    return {"summary": f"session {state['session']}: {counts}"}
