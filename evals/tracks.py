"""The moonshot track's own P&L line (TradeNova: moonshots are judged apart so they never blur the main figures).

A moonshot *episode* starts with the buy fills of a moonshot intent and follows that symbol's sells until the
position is flat again (or the replay ends: the rest is marked at the last close). Its P&L is what the sells
brought in, less what the buys cost, less every commission, plus that mark. The main track's P&L is the desk's
less the moonshots'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from memory.agents import Moonshot
from memory.book import FillRecord, OrderRecord


class TrackLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trades: int = Field(description="episodes (a moonshot entry and its exits)")
    open: int = Field(description="episodes still open at the end, marked at the last close")
    pnl: float
    pnl_pct_of_initial: float
    wins: int


def moonshot_line(moonshots: Sequence[Moonshot], orders: Sequence[OrderRecord], fills: Sequence[FillRecord],
                  last_close: Mapping[str, float], initial_cash: float) -> TrackLine:
    """The moonshot track's P&L from the store's moonshot intents, orders and fills (see the module docstring)."""
    shot_intents = {m.intent_id for m in moonshots}
    shot_orders = {o.client_order_id for o in orders if o.intent_id in shot_intents}
    by_symbol: dict[str, list[FillRecord]] = {}
    for f in sorted(fills, key=lambda f: (f.session, f.fill_id)):
        by_symbol.setdefault(f.symbol, []).append(f)
    pnl, trades, still_open, wins = 0.0, 0, 0, 0
    for symbol, rows in by_symbol.items():
        qty, cash, active = 0.0, 0.0, False
        for f in rows:
            if f.side == "buy" and f.client_order_id in shot_orders and not active and qty <= 1e-9:
                active, qty, cash = True, 0.0, 0.0
                trades += 1
            if not active:
                continue
            sign = 1.0 if f.side == "buy" else -1.0
            qty += sign * f.quantity
            cash -= sign * f.quantity * f.price + f.commission
            if qty <= 1e-9:
                pnl += cash
                wins += int(cash > 0)
                active = False
        if active:
            mark = cash + qty * float(last_close.get(symbol, 0.0))
            pnl += mark
            wins += int(mark > 0)
            still_open += 1
    return TrackLine(trades=trades, open=still_open, pnl=round(pnl, 2),
                     pnl_pct_of_initial=round(pnl / initial_cash, 6) if initial_cash else 0.0, wins=wins)
