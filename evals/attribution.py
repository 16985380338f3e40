"""What a replay's decisions went on to do, read from its store: per-agent hit rates and contributions, the
overlay's effect (what confirmed, adjusted and vetoed entries did next), costs and turnover.

- A proposal's **forward return** is the symbol's close ``horizon_days`` sessions after the night over its close
  that night, minus 1; a proposal whose horizon runs past the data is not scored. A long **hits** when it is > 0.
- An agent's **contribution** is the profit and loss of the positions it opened: each position's realised and
  end-of-eval unrealised P&L (commissions included) is split equally among the agents behind the picks that opened
  or added to it, so the agents' contributions add up to the book's P&L.
- **Cost drag** is commissions plus the slippage paid (``slippage_bps`` of each fill's notional), a year's worth,
  over the average equity.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from memory.store import Store

ENTRY = "BUY_LONG"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgentFigures(_Frozen):
    entries_proposed: int
    entries_scored: int
    hit_rate: float | None
    mean_forward_return: float | None
    positions: int
    contribution: float
    contribution_pct: float


class OverlayEffect(_Frozen):
    decision: str
    entries: int
    scored: int
    hit_rate: float | None
    mean_forward_return: float | None


class Costs(_Frozen):
    commissions: float
    slippage: float
    total: float
    cost_drag: float
    traded_notional: float


def forward_returns(close: pd.DataFrame, rows: list[dict]) -> list[float | None]:
    """The forward return of each (as_of, symbol, horizon_days) row over ``close`` (None past the data)."""
    if not rows:
        return []
    values = close.to_numpy(dtype=float)
    n = len(close.index)
    columns = {c: i for i, c in enumerate(close.columns)}
    days = pd.to_datetime([str(r["as_of"]) for r in rows])
    pos = close.index.searchsorted(days, side="right") - 1
    ahead = pos + np.array([int(r["horizon_days"]) for r in rows])
    col = np.array([columns.get(r["symbol"], -1) for r in rows])
    ok = (pos >= 0) & (ahead < n) & (col >= 0)
    a = np.where(ok, values[np.clip(pos, 0, n - 1), np.maximum(col, 0)], np.nan)
    b = np.where(ok, values[np.clip(ahead, 0, n - 1), np.maximum(col, 0)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = b / a - 1
    valid = ok & np.isfinite(a) & np.isfinite(b) & (a > 0)
    return [float(x) if v else None for x, v in zip(ret, valid, strict=True)]


def _scored(values: list[float | None]) -> tuple[int, float | None, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return 0, None, None
    return len(known), float(np.mean([v > 0 for v in known])), float(np.mean(known))


def _entries(store: Store) -> list[dict]:
    rows = []
    for p in store.proposals():
        if p.action != ENTRY:
            continue
        payload = json.loads(p.payload)
        rows.append({"key": p.key, "as_of": p.as_of, "symbol": p.symbol, "agent": p.agent,
                     "horizon_days": payload["horizon_days"]})
    return rows


def overlay_effect(store: Store, close: pd.DataFrame) -> list[OverlayEffect]:
    """Entries the overlay confirmed, adjusted and vetoed, and what each group did over its horizon."""
    entries = {r["key"]: r for r in _entries(store)}
    groups: dict[str, list[dict]] = defaultdict(list)
    for v in store.verdicts():
        if v.proposal_key in entries:
            groups[v.decision].append(entries[v.proposal_key])
    out = []
    for decision in ("confirm", "adjust", "veto"):
        rows = groups.get(decision, [])
        n, hit, mean = _scored(forward_returns(close, rows))
        out.append(OverlayEffect(decision=decision, entries=len(rows), scored=n, hit_rate=hit,
                                 mean_forward_return=mean))
    return out


def position_pnl(store: Store, close: pd.DataFrame, end: date) -> dict[str, float]:
    """Each agent's share of the P&L of the positions it opened (realised, and unrealised at ``end``'s close)."""
    intents = {r.intent_id: r for r in store.intents()}
    orders = {o.client_order_id: o for o in store.orders()}
    agents_of = {(p.as_of, p.symbol): json.loads(p.payload).get("agents", []) for p in store.picks()
                 if p.selected}
    qty: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    owners: dict[str, set[str]] = defaultdict(set)
    pnl: dict[str, float] = defaultdict(float)

    def credit(symbol: str, amount: float) -> None:
        who = sorted(owners[symbol]) or ["unattributed"]
        for a in who:
            pnl[a] += amount / len(who)

    for f in sorted(store.fills(), key=lambda f: (f.session, f.side != "buy", f.fill_id)):
        sym, q, price, fee = f.symbol, float(f.quantity), float(f.price), float(f.commission)
        order = orders.get(f.client_order_id)
        intent = intents.get(order.intent_id) if order else None
        if f.side == "buy":
            if intent is not None:
                owners[sym].update(agents_of.get((intent.as_of, sym), []))
            qty[sym] += q
            cost[sym] += q * price + fee
        elif qty[sym] > 0:
            sold = min(q, qty[sym])
            basis = cost[sym] * sold / qty[sym]
            credit(sym, sold * price - fee - basis)
            qty[sym] -= sold
            cost[sym] -= basis
            if qty[sym] <= 1e-9:
                qty[sym], cost[sym] = 0.0, 0.0
                owners[sym] = set()
    marks = close.loc[:pd.Timestamp(end)]
    for sym, q in qty.items():
        if q > 0 and sym in marks:
            last = marks[sym].dropna()
            if len(last):
                credit(sym, q * float(last.iat[-1]) - cost[sym])
    return dict(pnl)


def agent_figures(store: Store, close: pd.DataFrame, end: date, capital: float) -> dict[str, AgentFigures]:
    by_agent: dict[str, list[dict]] = defaultdict(list)
    for r in _entries(store):
        by_agent[r["agent"]].append(r)
    pnl = position_pnl(store, close, end)
    opened: dict[str, int] = defaultdict(int)
    filled = {o.intent_id for o in store.orders() if o.status == "filled"}
    entered = {(r.as_of, r.symbol) for r in store.intents() if r.kind == "entry" and r.intent_id in filled}
    for p in store.picks():
        if p.selected and (p.as_of, p.symbol) in entered:
            for a in json.loads(p.payload).get("agents", []):
                opened[a] += 1
    out = {}
    for agent in sorted(set(by_agent) | set(pnl)):
        n, hit, mean = _scored(forward_returns(close, by_agent.get(agent, [])))
        out[agent] = AgentFigures(entries_proposed=len(by_agent.get(agent, [])), entries_scored=n, hit_rate=hit,
                                  mean_forward_return=mean, positions=opened.get(agent, 0),
                                  contribution=round(pnl.get(agent, 0.0), 2),
                                  contribution_pct=pnl.get(agent, 0.0) / capital)
    return out


def costs(store: Store, slippage_bps: float, average_equity: float, days: int) -> Costs:
    fills = store.fills()
    notional = float(sum(f.quantity * f.price for f in fills))
    commissions = float(sum(f.commission for f in fills))
    slippage = notional * slippage_bps / 1e4
    years = max(days, 1) / 252
    total = commissions + slippage
    return Costs(commissions=round(commissions, 2), slippage=round(slippage, 2), total=round(total, 2),
                 cost_drag=total / average_equity / years if average_equity > 0 else 0.0,
                 traded_notional=round(notional, 2))
