"""Morning: execute the accepted intents through the broker, then reconcile the book with the broker's.

Crash consistency (ARCHITECTURE.md: invariant 3): every order has a deterministic client_order_id and its row is written
before the broker is called; the broker's answer, the fill, the intent's status and the holding's risk metadata (initial
stop, trail, tiers taken) are written in one transaction. A morning killed anywhere and re-run therefore leaves the same
orders, fills and book as one that never stopped: an order already final is ``already_done``, one the store left in
flight is asked of the broker (which looks its id up before sending anything).

Halt means halt (ARCHITECTURE.md: invariant 5): the halt and the circuit breakers are read from the store at the moment
each entry is about to be submitted, so a halt issued mid-morning, or while a killed morning waited to be re-run, stops
every entry not yet at the broker. Exits are never blocked.
"""

from __future__ import annotations

import hashlib
from datetime import date

import pandas as pd
from langgraph.runtime import Runtime

from brokers.base import BrokerError, BrokerUnavailable, Order, OrderStatus
from brokers.clock import why_wait
from brokers.resolve import settle
from graph.context import DeskContext
from graph.nodes.guard import entries_blocked
from graph.nodes.morning import broker_at, intents_by_id
from graph.nodes.sizing import policy
from graph.state import MorningState
from memory.book import FillRecord, Holding, OrderRecord
from vocab.contracts import Execution
from tools.breakers import daily_loss
from tools.calendar import xnys_sessions
from tools.exits import open_position
from vocab.contracts import Intent
from vocab.terms import FINAL_ORDER_STATES

FINAL = tuple(sorted(FINAL_ORDER_STATES))


def client_order_id(intent_id: str) -> str:
    """Deterministic: the same intent always maps to the same broker order id."""
    return "desk-" + hashlib.sha256(intent_id.encode()).hexdigest()[:24]


def execute(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """Submit each accepted intent once (sells first: they free cash), recording each outcome atomically."""
    ctx = runtime.context
    session = state["session"]
    broker = broker_at(ctx, session)
    results: list[Execution] = []  # this node's own; the state's reducer appends them (graph/state.py)
    intents = intents_by_id(ctx, state["accepted"])
    waiting = market_wait(ctx, session)
    if waiting:  # nothing is sent; the intents stay open for the next morning run of this session
        results += [_result(it, "waiting", waiting) for it in intents.values()]
        return {"results": results, "summary": f"nothing sent, waiting: {waiting}"}
    held = {s: p.quantity for s, p in broker.positions().items()}
    submitted, halted = 0, []
    for iid, it in sorted(intents.items(), key=lambda kv: (kv[1].side != "sell", kv[0])):
        coid = client_order_id(iid)
        existing = ctx.store.order(coid)
        if existing is not None and existing.status in FINAL:
            results.append(_result(it, "already_done", f"order {coid} already {existing.status}", coid))
            continue
        blocked = entries_blocked(ctx, session) if it.side == "buy" else None  # read now, not at validate
        if blocked:
            results.append(_halted(ctx, it, coid, existing, blocked))
            halted.append(blocked)
            continue
        qty = existing.quantity if existing is not None else (
            min(it.quantity, held.get(it.symbol, 0.0)) if it.side == "sell" else it.quantity)
        if qty <= 0:
            ctx.store.set_intent_status(iid, "skipped", "nothing held to sell")
            results.append(_result(it, "skipped", "nothing held to sell"))
            continue
        if existing is None:
            ctx.store.record_order(coid, iid, state["run_id"], it.symbol, it.side, qty, session, "submitting")
        status = settle(broker, Order(client_order_id=coid, symbol=it.symbol, side=it.side, quantity=qty))
        submitted += 1
        _record(ctx, it, status, session)
        results.append(_result(it, status.status, status.reason or "", coid, status))
    filled = [r for r in results if r.status == "filled"]
    stopped = f"{len(halted)} entr{'y' if len(halted) == 1 else 'ies'} halted: {halted[0]}" if halted else ""
    return {"results": results, "summary": f"{len(filled)} filled, {submitted} submitted"
            + (f"; {stopped}" if stopped else ""), **({"warning": stopped} if stopped else {})}


def market_wait(ctx: DeskContext, session: date) -> str | None:
    """Why an API broker's market cannot take this morning's orders now (``brokers.clock``), or None. A broker
    without a market clock (the paper broker, a replay) never waits; a clock that cannot be read is a reason."""
    read = getattr(ctx.broker, "market_clock", None)
    if read is None:
        return None
    try:
        clock = read()
    except BrokerUnavailable as exc:
        return f"the broker's market clock cannot be read now ({exc})"
    exchange = pd.Timestamp(session) in xnys_sessions(ctx.config.cache_dir, needed=pd.Timestamp(session))
    return why_wait(clock, session, exchange)


def _halted(ctx: DeskContext, it: Intent, coid: str, existing: OrderRecord | None, why: str) -> Execution:
    """An entry the halt stops. One a killed run left in flight may have reached the broker before the halt:
    the broker's book says, and what it placed is recorded; what it never saw is cancelled here."""
    if existing is not None:
        try:
            status = ctx.broker.status(coid)
        except BrokerError:
            status = None
        if status is not None and status.status != "unknown":
            _record(ctx, it, status, existing.session)
            return _result(it, status.status, f"placed before the halt: {status.reason or status.status}", coid,
                           status)
        with ctx.store.transaction():
            ctx.store.update_order(coid, "cancelled", f"not sent: {why}")
            ctx.store.set_intent_status(it.intent_id, "skipped", why)
        return _result(it, "skipped", why, coid)
    ctx.store.set_intent_status(it.intent_id, "skipped", why)
    return _result(it, "skipped", why)


def _record(ctx: DeskContext, it: Intent, status: OrderStatus, session: date) -> None:
    """The broker's answer, its fill and the holding it leaves, in one transaction."""
    coid = status.client_order_id
    with ctx.store.transaction():
        ctx.store.update_order(coid, status.status, status.reason)
        if status.filled_qty > 0:
            if status.avg_price is None:   # fail closed: a fill the book cannot value is not recorded as one
                raise BrokerError(f"the broker reported {coid} filled ({status.filled_qty:g}) without a price")
            ctx.store.record_fill(FillRecord(fill_id=coid, client_order_id=coid, symbol=it.symbol, side=it.side,
                                             quantity=status.filled_qty, price=status.avg_price,
                                             commission=status.commission, session=session,
                                             price_source=status.price_source or "unknown"))
            row = _holding_after(ctx, it, status, session)
            if row is None:
                ctx.store.delete_position(it.symbol)
            else:
                ctx.store.upsert_position(row)
        ctx.store.set_intent_status(it.intent_id, status.status, status.reason)


def _holding_after(ctx: DeskContext, it: Intent, status: OrderStatus, session: date) -> Holding | None:
    """The store's holding after this fill: a buy opens it with the intent's stop; a sell carries the trail and
    tiers the exit rules decided. Quantities are provisional until reconcile copies the broker's."""
    row = ctx.store.positions().get(it.symbol)
    price = status.avg_price or 0.0   # set: _record refuses a fill without a price
    if it.side == "buy":
        if row is not None:  # a partial fill completing: same holding, metadata already set
            return row.model_copy(update={"quantity": status.filled_qty, "avg_price": price})
        opened = open_position(it.symbol, status.filled_qty, price, session, it.stop, policy(ctx.config))
        return Holding(symbol=it.symbol, quantity=status.filled_qty, avg_price=price, entry_date=session,
                       peak_date=session, initial_stop=opened.initial_stop, peak=opened.peak,
                       trail_pct=opened.trail_pct, tiers_hit=opened.tiers_hit)
    if row is None:
        return None
    left = row.quantity - status.filled_qty
    if left <= 1e-9:
        return None
    return row.model_copy(update={
        "quantity": left, "trail_pct": it.trail_pct if it.trail_pct is not None else row.trail_pct,
        "tiers_hit": it.tiers_hit if it.tiers_hit is not None else row.tiers_hit})


def _result(it: Intent, status: str, reason: str, coid: str | None = None,
            order: OrderStatus | None = None) -> Execution:
    return Execution(intent_id=it.intent_id, symbol=it.symbol, side=it.side, status=status, reason=reason,
                     client_order_id=coid, quantity=order.filled_qty if order else 0.0,
                     price=order.avg_price if order else None, price_source=order.price_source if order else None)


def book_differences(ctx: DeskContext, live: dict) -> tuple[list[str], list[str]]:
    """How the broker's positions differ from the store's: (differences, symbols left out because an order on them
    is still in flight — a killed run's order the next execute resolves with the broker)."""
    ours = ctx.store.positions()
    pending = ctx.store.symbols_with_orders_not_in(FINAL)
    diffs = [f"broker holds {s} ({live[s].quantity:g}) the store did not" for s in sorted(set(live) - set(ours))]
    diffs += [f"store held {s} ({ours[s].quantity:g}) the broker does not" for s in sorted(set(ours) - set(live))]
    diffs += [f"{s}: broker {live[s].quantity:g}, store {ours[s].quantity:g}" for s in sorted(set(live) & set(ours))
              if abs(live[s].quantity - ours[s].quantity) > 1e-6 * max(1.0, abs(live[s].quantity))]
    return [d for d in diffs if not any(d.startswith((f"broker holds {s} ", f"store held {s} ", f"{s}: "))
                                        for s in pending)], pending


def _trip_mismatch(ctx: DeskContext, session: date, diffs: list[str], when: str) -> None:
    ctx.store.trip_breaker("reconcile", session, ctx.config.risk.breaker_sessions,
                           f"{when}, broker and store disagreed: " + "; ".join(diffs) + "; the store now mirrors "
                           "the broker — check the broker's book, then `desk resume`")


def check_book(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """Before anything is sent: the broker's book against the store's. A difference halts new entries for this
    morning (the ``reconcile`` circuit breaker; exits still run) and is named in the report."""
    ctx = runtime.context
    begin_run = getattr(ctx.broker, "begin_run", None)  # a web broker files this run's screenshots apart
    if begin_run is not None:
        begin_run(state["run_id"])
    broker = broker_at(ctx, state["session"])
    diffs, pending = book_differences(ctx, broker.positions())
    if diffs:
        _trip_mismatch(ctx, state["session"], diffs, "at the start of the morning")
    note = f"; in flight from an earlier run: {', '.join(pending)}" if pending else ""
    where = getattr(ctx.broker, "notice", None)  # an API broker says which account (LIVE TRADING when it is)
    return {"summary": (f"{where}: " if where else "") + (f"MISMATCH, entries halted: {'; '.join(diffs)}" if diffs
                                                          else "broker and store agree") + note,
            **({"warning": "the book mismatched: entries halted"} if diffs else {})}


def reconcile(state: MorningState, runtime: Runtime[DeskContext]) -> dict:
    """The broker's book is the truth for quantities and prices; the store keeps each holding's risk metadata.

    After execution the two agree (every fill moved the store's holding in the transaction that recorded it). When
    they do not — a holding the desk did not trade, one the broker no longer has, a different quantity — the store is
    set to the broker's book, the difference is named, and the ``reconcile`` circuit breaker halts new entries until
    an operator has looked (``desk resume``). A symbol whose order is still unresolved is named, not judged."""
    ctx = runtime.context
    session: date = state["session"]
    broker = broker_at(ctx, session)
    live = broker.positions()
    ours = ctx.store.positions()
    diffs, pending = book_differences(ctx, live)
    r = ctx.config.risk
    with ctx.store.transaction():
        for sym in set(ours) - set(live):
            ctx.store.delete_position(sym)
        for sym, p in live.items():
            row = ours.get(sym)
            if row is None:
                opened = open_position(sym, p.quantity, p.avg_price, session, None, policy(ctx.config))
                row = Holding(symbol=sym, quantity=p.quantity, avg_price=p.avg_price, entry_date=session,
                              peak_date=session, initial_stop=opened.initial_stop, peak=opened.peak,
                              trail_pct=opened.trail_pct, tiers_hit=0)
            ctx.store.upsert_position(row.model_copy(update={"quantity": p.quantity, "avg_price": p.avg_price}))
        if diffs:
            _trip_mismatch(ctx, session, diffs, "after execution")
        acct = broker.account()
        marks = {s: {"qty": p.quantity, "price": p.market_price, "value": p.market_value} for s, p in live.items()}
        prev = ctx.store.latest_snapshot(before=session)
        ctx.store.save_snapshot(session, acct.cash, acct.equity, acct.positions_value,
                                acct.positions_value / acct.equity if acct.equity else 0.0, marks)
        tripped = daily_loss(prev.equity if prev else None, acct.equity, r.daily_loss_limit)
        if tripped:
            ctx.store.trip_breaker("daily_loss", session, r.breaker_sessions, tripped)
    notes = ([f"MISMATCH, entries halted: {'; '.join(diffs)}"] if diffs else []) + \
        ([f"orders still unresolved at the broker: {', '.join(pending)}"] if pending else []) + \
        ([f"circuit breaker daily_loss tripped: {tripped}"] if tripped else [])
    halts = (["the book mismatched: entries halted"] if diffs else []) + \
        (["circuit breaker daily_loss tripped"] if tripped else [])
    return {"equity": acct.equity, "cash": acct.cash, **({"warning": "; ".join(halts)} if halts else {}),
            "summary": f"book {acct.equity:,.0f} ({len(live)} positions, cash {acct.cash:,.0f})"
                       + (" — " + "; ".join(notes) if notes else "")}
