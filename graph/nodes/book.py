"""The desk's book as the night sees it: positions from the store, marked at the decision date's closes."""

from __future__ import annotations

from datetime import date

from tools.risk import BookView


def book_view(ctx, day: date) -> BookView:
    positions = ctx.store.positions()
    values = {}
    for sym, p in positions.items():
        price = ctx.market.price(sym, day) or p["avg_price"]
        values[sym] = p["quantity"] * price
    snaps = ctx.store.db.execute("SELECT cash FROM snapshots WHERE date <= ? ORDER BY date DESC LIMIT 1",
                                 [day.isoformat()]).fetchone()
    cash = snaps[0] if snaps else ctx.settings.broker.initial_cash
    return BookView(equity=cash + sum(values.values()), cash=cash, positions=values)
