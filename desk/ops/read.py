"""The read-only operations commands: each a function of the store (and the checkpoints) → a typed result."""

from __future__ import annotations

from datetime import date, timedelta

from desk.commands import status as desk_status
from desk.errors import DeskError
from desk.ops.results import (AgentLine, AgentsResult, IntentLine, IntentsResult, LayerLine, PausedRun, PnlResult,
                              PositionLine, PositionsResult, RunLine, RunsResult, StatusView, WeatherResult)
from graph.config import DeskConfig
from memory.outbox import Outbox
from memory.overrides import ALL, Overrides
from memory.queries import Queries
from memory.store import Store
from tools.exits import stop_level

PERIODS = {"day": None, "week": 7, "month": 31, "ytd": "ytd", "all": "all"}


def status(store: Store, settings=None) -> StatusView:
    overrides = Overrides(store)
    paused = [PausedRun(run_id=a.run_id, session=a.session, deadline=a.deadline,
                        entries=sum(i.side == "buy" for i in a.intents),
                        exits=sum(i.side == "sell" for i in a.intents)) for a in overrides.open_approvals()]
    pending = {r.intent_id for r in store.intents(status="pending")}
    return StatusView(status=desk_status(store, settings), paused=paused,
                      vetoed=sorted(k for k in overrides.vetoes() if k in pending),
                      flattening=[("all holdings" if f.symbol == ALL else f.symbol) for f in
                                  overrides.open_flattens()],
                      outbox=Outbox(store).depth())


def positions(store: Store) -> PositionsResult:
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


def intents(store: Store, day: date | None) -> IntentsResult:
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


def weather(store: Store, config: DeskConfig) -> WeatherResult:
    """The latest night's weather, as its run saved it (the checkpoint holds the snapshot and the narrative)."""
    from memory.checkpoint import has_checkpoints, open_checkpointer

    nights = store.runs(limit=1, kind="night", status="ok")
    if not nights or not has_checkpoints(config.checkpoint_location):
        raise DeskError("no night has run on this home yet: `desk run` (or `run night`) first")
    saver = open_checkpointer(config.checkpoint_location)
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


def agents(store: Store) -> AgentsResult:
    q = Queries(store)
    as_of = q.latest_proposal_date()
    if as_of is None:
        return AgentsResult(as_of=None, agents=[])
    return AgentsResult(as_of=as_of, agents=[AgentLine(**a.model_dump()) for a in q.agents_on(as_of)])


def pnl(store: Store, period: str | None, initial_cash: float | None = None) -> PnlResult:
    """The book's change over a period ending at its latest snapshot: day (since the previous session), week,
    month, ytd, all — from inception: the cash the book started with (``initial_cash``), not its first snapshot,
    which is already after the first morning's trades and costs."""
    period = (period or "day").lower()
    if period not in PERIODS:
        raise DeskError(f"unknown period {period!r}: use {', '.join(PERIODS)}")
    q = Queries(store)
    end = store.latest_snapshot()
    if end is None:
        return PnlResult(period=period, start=None, end=None, start_equity=None, end_equity=None, change=None,
                         change_pct=None, trades=0, commissions=0.0)
    last = end.date
    span = PERIODS[period]
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
    if span == "all" and initial_cash is not None:
        a = initial_cash
        return PnlResult(period=period, start="inception", end=end.date.isoformat(), start_equity=round(a, 2),
                         end_equity=round(b, 2), change=round(b - a, 2), change_pct=round(b / a - 1, 6),
                         trades=trades, commissions=round(fees, 2))
    return PnlResult(period=period, start=start.date.isoformat(), end=end.date.isoformat(), start_equity=round(a, 2),
                     end_equity=round(b, 2), change=round(b - a, 2), change_pct=round(b / a - 1, 6) if a else None,
                     trades=trades, commissions=round(fees, 2))


def runs(store: Store, limit: int = 10) -> RunsResult:
    waiting = {a.run_id: a for a in Overrides(store).open_approvals()}
    lines = []
    for r in store.runs(limit=limit):
        note = f"waiting for approval until {waiting[r.run_id].deadline}" if r.run_id in waiting else None
        lines.append(RunLine(run_id=r.run_id, kind=r.kind, as_of=r.as_of.isoformat(), status=r.status,
                             started=r.started, ended=r.ended, note=note))
    return RunsResult(runs=lines)
