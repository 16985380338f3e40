"""The read-only commands: each a function of the store (and the checkpoints) → a typed result. Nothing here
writes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from desk.core.args import AgentsArgs, IntentsArgs, NoArgs, PnlArgs, RunsArgs, WhyArgs
from desk.core.context import CommandContext
from desk.results import (AgentLine, AgentsResult, BreakerInfo, CommandInfo, HelpResult, IntentLine, IntentsResult, LayerLine, NotEntered, PausedRun,
                          PnlResult, PositionInfo, PositionLine, PositionsResult, RunInfo, RunLine, RunsResult,
                          StatusResult, WeatherResult, WhyResult)
from graph.errors import DeskError
from memory.outbox import Outbox
from memory.overrides import ALL, Overrides
from memory.queries import Queries
from memory.store import Store
from memory.why import NotFound, reason_chain
from tools.exits import stop_level

PERIOD_DAYS = {"day": None, "week": 7, "month": 31, "ytd": "ytd", "all": "all"}


def llm_today(store: Store) -> tuple[int, float]:
    """LLM calls sent and dollars spent today (UTC)."""
    from graph.providers.llm.budget import day_start

    return store.llm_spend(since=day_start())


def help_(ctx: CommandContext, _: NoArgs) -> HelpResult:
    """The commands a chat door serves, and who may use them."""
    from desk.core.catalog import CHAT_COMMANDS, COMMANDS

    return HelpResult(commands=[CommandInfo(name=c.name, usage=c.usage, help=c.help, mutating=c.mutating,
                                            long=c.long) for c in (COMMANDS[n] for n in CHAT_COMMANDS)])


def status(ctx: CommandContext, _: NoArgs) -> StatusResult:
    """The desk's state, what needs an operator as of now (``desk.alerts``: the reasons /health answers 503 for),
    the data's age in sessions, and what operators have pending."""
    from desk.alerts import alerts
    from memory.store import now_utc

    store, s = ctx.store, ctx.settings
    found = alerts(store, s, ctx.now or datetime.fromisoformat(now_utc()))
    state = store.desk_state()
    last = store.latest_snapshot()
    calls, usd = llm_today(store)
    symbols = store.symbols()
    overrides = Overrides(store)
    pending = {r.intent_id for r in store.intents(status="pending")}
    return StatusResult(
        halted=bool(state.halted), halt_reason=state.reason, halted_since=state.since,
        data_until=store.get_meta("data_until") or (None if found.freshness.last_bar is None
                                                     else found.freshness.last_bar.isoformat()),
        breakers=[BreakerInfo(**b.model_dump(mode="json")) for b in store.breakers()],
        symbols=len(symbols), stale=[x.symbol for x in symbols if x.stale],
        positions={sym: PositionInfo(quantity=round(p.quantity, 4), avg_price=round(p.avg_price, 4),
                                     stop=round(stop_level(p.initial_stop, p.peak, p.trail_pct), 4))
                   for sym, p in store.positions().items()},
        equity=None if last is None else round(float(last.equity), 2),
        cash=None if last is None else round(float(last.cash), 2),
        as_of=None if last is None else last.date.isoformat(),
        last_runs=[RunInfo(run_id=r.run_id, kind=r.kind, as_of=r.as_of.isoformat(), status=r.status)
                   for r in store.runs(limit=4)],
        llm_calls_today=calls, llm_usd_today=round(usd, 6),
        llm_usd_cap_day=s.llm.max_usd_per_day if s.llm.uses_llm else None,
        alerts=[r for r in found.reasons if not r.startswith("desk halted")],
        data_age_sessions=found.freshness.age_sessions, data_reference=found.freshness.reference.isoformat(),
        paused=[PausedRun(run_id=a.run_id, session=a.session, deadline=a.deadline,
                          entries=sum(i.side == "buy" for i in a.intents),
                          exits=sum(i.side == "sell" for i in a.intents)) for a in overrides.open_approvals()],
        vetoed=sorted(k for k in overrides.vetoes() if k in pending),
        flattening=[("all holdings" if f.symbol == ALL else f.symbol) for f in overrides.open_flattens()],
        outbox=Outbox(store).depth())


def positions(ctx: CommandContext, _: NoArgs) -> PositionsResult:
    store = ctx.store
    held = store.positions()
    closes = Queries(store).last_closes(held)
    snap = store.latest_snapshot()
    lines = []
    for sym, p in sorted(held.items()):
        price = closes[sym][1] if sym in closes else None
        value = None if price is None else round(price * p.quantity, 2)
        pnl = None if price is None else round((price - p.avg_price) * p.quantity, 2)
        lines.append(PositionLine(
            symbol=sym, quantity=round(p.quantity, 4), avg_price=round(p.avg_price, 4),
            price=None if price is None else round(price, 4), value=value, pnl=pnl,
            pnl_pct=None if price is None else round(price / p.avg_price - 1, 6),
            stop=round(stop_level(p.initial_stop, p.peak, p.trail_pct), 4), entry_date=p.entry_date.isoformat()))
    return PositionsResult(as_of=None if snap is None else snap.date.isoformat(), positions=lines,
                           equity=None if snap is None else round(float(snap.equity), 2),
                           cash=None if snap is None else round(float(snap.cash), 2))


def intents(ctx: CommandContext, args: IntentsArgs) -> IntentsResult:
    store, day = ctx.store, args.date
    as_of = day.isoformat() if day else Queries(store).latest_intent_date()
    if as_of is None:
        return IntentsResult(as_of=None, intents=[])
    rows = store.intents(as_of=date.fromisoformat(as_of))
    if day is not None and not rows:
        raise DeskError(f"no intents for the night of {day}; `intents` alone shows the latest night's")
    vetoes = Overrides(store).vetoes(r.intent_id for r in rows)
    return IntentsResult(as_of=as_of, intents=[
        IntentLine(intent_id=r.intent_id, symbol=r.symbol, side=r.side, kind=r.kind,
                   quantity=round(r.quantity, 4), status=r.status, status_reason=r.status_reason,
                   vetoed_by=vetoes[r.intent_id].actor if r.intent_id in vetoes else None)
        for r in rows])


def why(ctx: CommandContext, args: WhyArgs) -> WhyResult:
    """The full reason chain of an intent (by id) or of a symbol's latest intent."""
    try:
        chain = reason_chain(ctx.store, args.target)
    except NotFound as missing:
        raise DeskError(str(missing)) from None
    i = chain.intent
    return WhyResult(
        intent_id=i.intent_id, as_of=i.as_of, symbol=i.symbol, side=i.side, kind=i.kind, quantity=i.quantity,
        status=chain.status, status_reason=chain.status_reason, reasons=i.reasons, models=chain.proposals,
        sizing=i.sizing, tier=i.tier, gates=i.gates, track=i.track, verdicts=i.verdicts, denials=i.denials,
        orders=chain.orders, fills=chain.fills,
        not_entered=None if chain.not_entered is None else NotEntered(**chain.not_entered.model_dump()))


def weather(ctx: CommandContext, _: NoArgs) -> WeatherResult:
    """The latest night's weather, as its run saved it (the checkpoint holds the snapshot and the narrative)."""
    nights = ctx.store.runs(limit=1, kind="night", status="ok")
    from memory.checkpoint import has_checkpoints, open_checkpointer

    where = ctx.settings.checkpoint_location
    if not nights or not has_checkpoints(where):
        raise DeskError("no night has run on this home yet: `desk run` (or `run night`) first")
    saver = open_checkpointer(where)
    try:
        got = saver.get_tuple({"configurable": {"thread_id": nights[0].run_id, "checkpoint_ns": ""}})
    finally:
        saver.conn.close()
    values = got.checkpoint.get("channel_values", {}) if got else {}
    snap, view = values.get("weather"), values.get("view")
    if snap is None:
        raise DeskError(f"night {nights[0].run_id} kept no weather in its checkpoint; run the night again")
    return WeatherResult(
        as_of=snap.as_of.isoformat(), run_id=nights[0].run_id, regime=str(values.get("regime", snap.regime)),
        base_regime=str(snap.base_regime), narrative=view.narrative if view else "",
        sizing_modifier=snap.sizing_modifier, risk_throttle=snap.risk_throttle,
        layers={k: LayerLine(state=r.state, score=r.score, available=r.available) for k, r in snap.layers.items()},
        notes=list(snap.notes))


def agents(ctx: CommandContext, args: AgentsArgs) -> AgentsResult:
    """Each agent on the latest night (on or before a date): its proposals, the overlay's verdicts on them, its
    weight, Beta posterior and track record, and whether its live results drift."""
    store, mode = ctx.store, ctx.settings.trust.mode
    weights = store.agent_weights(args.date)
    q = Queries(store)
    night = weights[0].as_of.isoformat() if weights else q.latest_proposal_date()
    if args.date is not None and night is not None and night > args.date.isoformat():
        night = None
    if night is None:
        on = f" on or before {args.date}" if args.date is not None else " yet"
        raise DeskError(f"no agent weights recorded{on}: `desk run` samples them each night")
    lines: dict[str, dict] = {a.name: {"agent": a.name, **a.model_dump(exclude={"name"})}
                              for a in q.agents_on(night)}
    for r in weights:
        lines.setdefault(r.agent, {"agent": r.agent}).update(
            weight=r.weight, alpha=r.alpha, beta=r.beta, posterior_mean=r.alpha / (r.alpha + r.beta),
            sample=r.sample, resolved=r.resolved, hit_rate=r.hit_rate, ic=r.ic, live_rate=r.live_rate,
            reference_rate=r.reference_rate, drift=bool(r.drift), reason=r.reason)
    return AgentsResult(as_of=night, mode=mode, agents=[AgentLine(**lines[k]) for k in sorted(lines)])


def pnl(ctx: CommandContext, args: PnlArgs) -> PnlResult:
    """The book's change over a period ending at its latest snapshot: day (since the previous session), week,
    month, ytd, all."""
    store, period = ctx.store, args.period
    q = Queries(store)
    end = store.latest_snapshot()
    if end is None:
        return PnlResult(period=period, start=None, end=None, start_equity=None, end_equity=None, change=None,
                         change_pct=None, trades=0, commissions=0.0)
    last = end.date
    span = PERIOD_DAYS[period]
    if span is None:
        start = store.latest_snapshot(before=last)
    elif span == "all":
        start = q.first_snapshot()
    elif span == "ytd":
        start = store.latest_snapshot(before=date(last.year, 1, 1))
    else:
        start = q.snapshot_on_or_before(last - timedelta(days=span))
    trades, fees = q.fills_between(start.date.isoformat() if start and span != "all" else None,
                                   end.date.isoformat())
    if start is None or start.date == end.date and span != "all":
        return PnlResult(period=period, start=None, end=end.date.isoformat(), start_equity=None,
                         end_equity=round(float(end.equity), 2), change=None, change_pct=None, trades=trades,
                         commissions=round(fees, 2))
    a, b = float(start.equity), float(end.equity)
    if span == "all":  # from inception: the cash the book started with, not its first snapshot (already traded)
        a = ctx.settings.broker.initial_cash
        return PnlResult(period=period, start="inception", end=end.date.isoformat(), start_equity=round(a, 2),
                         end_equity=round(b, 2), change=round(b - a, 2), change_pct=round(b / a - 1, 6),
                         trades=trades, commissions=round(fees, 2))
    return PnlResult(period=period, start=start.date.isoformat(), end=end.date.isoformat(), start_equity=round(a, 2),
                     end_equity=round(b, 2), change=round(b - a, 2), change_pct=round(b / a - 1, 6) if a else None,
                     trades=trades, commissions=round(fees, 2))


def runs(ctx: CommandContext, args: RunsArgs) -> RunsResult:
    waiting = {a.run_id: a for a in Overrides(ctx.store).open_approvals()}
    lines = []
    for r in ctx.store.runs(limit=args.limit):
        note = f"waiting for approval until {waiting[r.run_id].deadline}" if r.run_id in waiting else None
        lines.append(RunLine(run_id=r.run_id, kind=r.kind, as_of=r.as_of.isoformat(), status=r.status,
                             started=r.started, ended=r.ended, note=note))
    return RunsResult(runs=lines)
