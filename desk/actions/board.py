"""The read-only commands the dashboard's panels need beyond `status`, `positions` and `runs`: the book since
inception beside its benchmarks, each holding with the intent and agents that opened it. Each is a function of the
store → a typed result (desk/results.py), served to every door like the other reads; nothing here writes."""

from __future__ import annotations

from datetime import date
from typing import Any

from desk.actions.read import positions
from desk.core.args import CandidatesArgs, NoArgs, OrdersArgs, RegimesArgs
from desk.core.context import CommandContext
from desk.results import (BookPoint, BookResult, CandidateLine, CandidatesResult, HoldingLine, HoldingsResult,
                          LayerLine, MonthReturn, OrderLine, OrdersResult, RegimeDay, RegimesResult)
from graph.errors import DeskError
from memory.decisions import IntentRecord
from memory.runs import Run
from memory.why import NotFound, reason_chain
from vocab.contracts import Denial
from vocab.terms import REGIME_ORDER


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(float(x), digits)


def book(ctx: CommandContext, _: NoArgs) -> BookResult:
    """The book's value at each session's close since its first snapshot, beside the S&P 500 bought and held and
    the equal-weight universe (both started with the book's first equity on its first date, costs-free), its
    drawdown, its monthly returns, and today's change, exposure and cash."""
    from evals.benchmarks_passive import buy_and_hold, equal_weight

    store, s = ctx.store, ctx.settings
    snaps = store.snapshots()
    if snaps.empty:
        return BookResult(as_of=None, inception=None, initial_cash=s.broker.initial_cash, benchmark=s.data.benchmark,
                          equity=None, cash=None, positions_value=None, exposure=None, day_change=None,
                          day_change_pct=None, total_return=None, benchmark_return=None, equal_weight_return=None,
                          max_drawdown=None, curve=[], monthly=[])
    equity = snaps["equity"]
    first, last = equity.index[0].date(), equity.index[-1].date()
    closes = store.frame("close")
    bench = ew = None
    if s.data.benchmark in closes:
        try:
            bench = buy_and_hold(closes[s.data.benchmark], first, last, float(equity.iloc[0]))
        except ValueError:  # no benchmark close in the book's span: the curve shows none
            bench = None
    held = [c for c in s.data.universe if c in closes]
    if held:
        try:
            ew = equal_weight(closes[held], first, last, float(equity.iloc[0]))
        except ValueError:
            ew = None
    peak = equity.cummax()
    drawdown = equity / peak - 1
    curve = [BookPoint(date=d.date().isoformat(), equity=round(float(v), 2),
                       benchmark=_r(bench.get(d), 2) if bench is not None else None,
                       equal_weight=_r(ew.get(d), 2) if ew is not None else None,
                       drawdown=round(float(drawdown.loc[d]), 6)) for d, v in equity.items()]
    month_end = equity.groupby(equity.index.to_period("M")).last()
    start_of = [float(equity.iloc[0]), *month_end.iloc[:-1].tolist()]
    monthly = [MonthReturn(month=str(m), change_pct=round(float(v) / a - 1, 6))
               for (m, v), a in zip(month_end.items(), start_of, strict=True)]
    end = snaps.iloc[-1]
    prev = float(equity.iloc[-2]) if len(equity) > 1 else None
    eq = float(end["equity"])
    return BookResult(
        as_of=last.isoformat(), inception=first.isoformat(), initial_cash=s.broker.initial_cash,
        benchmark=s.data.benchmark, equity=round(eq, 2), cash=round(float(end["cash"]), 2),
        positions_value=round(float(end["positions_value"]), 2),
        exposure=round(float(end["gross"]), 6),
        day_change=None if prev is None else round(eq - prev, 2),
        day_change_pct=None if not prev else round(eq / prev - 1, 6),
        total_return=round(eq / float(equity.iloc[0]) - 1, 6),
        benchmark_return=None if bench is None or bench.empty else round(float(bench.iloc[-1] / bench.iloc[0]) - 1, 6),
        equal_weight_return=None if ew is None or ew.empty else round(float(ew.iloc[-1] / ew.iloc[0]) - 1, 6),
        max_drawdown=round(float(drawdown.min()), 6), curve=curve, monthly=monthly)


def holdings(ctx: CommandContext, args: NoArgs) -> HoldingsResult:
    """Each holding as `positions` shows it, with its trail, the profit tiers taken, and the intent that opened it:
    its sizing tier and the agents that proposed it (`why INTENT` has the rest)."""
    store = ctx.store
    book = positions(ctx, args)
    held = store.positions()
    opening = {}
    for o in store.orders():
        sym = o.symbol
        if o.side == "buy" and sym in held and o.session == held[sym].entry_date:
            opening[sym] = o.intent_id
    lines = []
    for p in book.positions:
        row = held[p.symbol]
        intent_id = opening.get(p.symbol)
        tier, agents = None, []
        if intent_id is not None:
            try:
                chain = reason_chain(store, intent_id)
            except NotFound:  # an order whose intent is gone (a store copied without it): shown without its chain
                intent_id = None
            else:
                tier, agents = chain.intent.tier, sorted({m.agent for m in chain.proposals if m.action in ("BUY_LONG", "SELL_SHORT")})
        lines.append(HoldingLine(**p.model_dump(), initial_stop=round(row.initial_stop, 4), peak=round(row.peak, 4),
                                 trail_pct=round(row.trail_pct, 6), tiers_hit=row.tiers_hit, intent_id=intent_id,
                                 tier=tier, agents=agents))
    return HoldingsResult(as_of=book.as_of, equity=book.equity, cash=book.cash, holdings=lines)


# ---------------------------------------------------------------------- the night's checkpoints
def _nights(ctx: CommandContext, limit: int) -> list[Run]:
    return ctx.store.runs(limit=limit, kind="night", status="ok")


def _night_values(ctx: CommandContext, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each night's final state as its checkpoint kept it (weather, view, picks, denials), by run id; a night whose
    checkpoint is gone is left out."""
    from memory.checkpoint import has_checkpoints, open_checkpointer

    where = ctx.settings.checkpoint_location
    if not run_ids or not has_checkpoints(where):
        return {}
    saver = open_checkpointer(where)
    out = {}
    try:
        for run_id in run_ids:
            got = saver.get_tuple({"configurable": {"thread_id": run_id, "checkpoint_ns": ""}})
            if got is not None:
                out[run_id] = got.checkpoint.get("channel_values", {})
    finally:
        saver.conn.close()  # type: ignore[attr-defined]  # the SQLite or PostgreSQL saver holds its connection
    return out


def _night_of(ctx: CommandContext, day: date | None) -> Run | None:
    """The latest finished night (on ``day`` if given)."""
    nights = _nights(ctx, 200)
    if day is not None:
        nights = [n for n in nights if n.as_of == day]
        if not nights:
            raise DeskError(f"no finished night on {day}; `runs` lists them")
    return nights[0] if nights else None


def regimes(ctx: CommandContext, args: RegimesArgs) -> RegimesResult:
    """The weather of the latest nights, oldest first: the fused regime and the one the models alone read, each of
    the seven layers' scores, the expert signals, the sizing modifier, and the notes (the ensemble's disagreement
    among them) — read from each night's checkpoint."""
    nights = _nights(ctx, args.limit)
    values = _night_values(ctx, [n.run_id for n in nights])
    days = []
    for n in reversed(nights):
        v = values.get(n.run_id, {})
        snap, view = v.get("weather"), v.get("view")
        if snap is None:
            continue
        days.append(RegimeDay(
            as_of=snap.as_of.isoformat(), run_id=n.run_id, regime=str(v.get("regime", snap.regime)),
            base_regime=str(snap.base_regime), sizing_modifier=snap.sizing_modifier, risk_throttle=snap.risk_throttle,
            layers={k: LayerLine(state=r.state, score=r.score, available=r.available) for k, r in snap.layers.items()},
            experts=dict(snap.experts), notes=list(snap.notes), narrative=view.narrative if view else "",
            nudge=view.regime_nudge if view else 0, narrator=view.provenance.provider if view else None))
    return RegimesResult(order=[str(r) for r in REGIME_ORDER], nights=days)


def candidates(ctx: CommandContext, args: CandidatesArgs) -> CandidatesResult:
    """A night's candidates (the latest night's, or the night of a date): every scored pick with its score against
    the threshold, the agents behind it and the score's explanation; the intent it became and what became of it; and
    every hard rule that denied it (`why INTENT` has the sizing chain)."""
    night = _night_of(ctx, args.date)
    if night is None:
        return CandidatesResult(as_of=None, run_id=None, threshold=None, threshold_reason=None, candidates=[])
    store = ctx.store
    as_of = night.as_of
    values = _night_values(ctx, [night.run_id]).get(night.run_id, {})
    denials = values.get("denials") or {}
    intents: dict[str, IntentRecord] = {}
    for r in store.intents(as_of=as_of):
        intents.setdefault(r.symbol, r)
    lines = []
    for p in store.picks(as_of=as_of):
        pick = p.detail
        i = intents.get(p.symbol)
        lines.append(CandidateLine(
            symbol=p.symbol, score=round(p.score, 2), threshold=round(p.threshold, 2),
            selected=p.selected, agents=list(pick.get("agents", [])),
            dissent=round(float(pick.get("dissent", 0.0)), 4), explanation=str(pick.get("explanation", "")),
            intent_id=i.intent_id if i else None, intent_status=i.status if i else None,
            intent_reason=i.status_reason if i else None,
            denials=[d if isinstance(d, Denial) else Denial.model_validate(d) for d in denials.get(p.symbol, [])]))
    lines.sort(key=lambda c: -c.score)
    threshold = values.get("threshold")
    return CandidatesResult(as_of=night.as_of.isoformat(), run_id=night.run_id,
                            threshold=None if threshold is None else round(float(threshold), 2),
                            threshold_reason=values.get("threshold_reason"), candidates=lines)


def orders(ctx: CommandContext, args: OrdersArgs) -> OrdersResult:
    """A session's orders (the latest session's, or a date's) with their fills: quantity, price, commission and
    where the price came from."""
    store = ctx.store
    rows = store.orders()
    sessions = sorted({o.session for o in rows})
    session = args.date if args.date else (sessions[-1] if sessions else None)
    if session is None:
        return OrdersResult(session=None, orders=[])
    fills = {f.client_order_id: f for f in store.fills(session=session)}
    lines = []
    for o in (o for o in rows if o.session == session):
        f = fills.get(o.client_order_id)
        lines.append(OrderLine(
            client_order_id=o.client_order_id, intent_id=o.intent_id, symbol=o.symbol, side=o.side,
            quantity=round(o.quantity, 4), status=o.status, detail=o.detail,
            filled=None if f is None else round(f.quantity, 4), price=None if f is None else round(f.price, 4),
            commission=None if f is None else round(f.commission, 4),
            price_source=None if f is None else f.price_source))
    return OrdersResult(session=session.isoformat(), orders=lines)
