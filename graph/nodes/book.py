"""The desk's book as the night sees it: positions from the store, marked at the decision date's closes."""

from __future__ import annotations

from datetime import date

from graph.context import DeskContext
from tools.risk import BookView


def book_view(ctx: DeskContext, day: date) -> BookView:
    positions = ctx.store.positions()
    values = {}
    for sym, p in positions.items():
        price = ctx.market.price(sym, day) or p.avg_price
        values[sym] = p.quantity * price
    snap = ctx.store.latest_snapshot(day)
    cash = snap.cash if snap else ctx.config.broker.initial_cash
    return BookView(equity=cash + sum(values.values()), cash=cash, positions=values)
