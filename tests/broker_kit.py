"""Test kit for brokers: a small price table, an order factory, the dates they use."""

from __future__ import annotations

from bisect import bisect_right
from datetime import date

from brokers.base import Order

D1, D2, D3, D4 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)


class TablePrices:
    """A small in-memory PriceSource: {symbol: {session: (open or None, close)}}."""

    def __init__(self, bars: dict[str, dict[date, tuple[float | None, float]]]) -> None:
        self.bars = bars

    def bar(self, symbol: str, session: date) -> tuple[float | None, float] | None:
        return self.bars.get(symbol, {}).get(session)

    def latest(self, symbol: str, on_or_before: date) -> tuple[date, float] | None:
        days = sorted(self.bars.get(symbol, {}))
        i = bisect_right(days, on_or_before) - 1
        return (days[i], self.bars[symbol][days[i]][1]) if i >= 0 else None


def prices() -> TablePrices:
    """AAA: D1 has an open, D2 only a close, D3 has no bar yet. BBB trades every day. ZZZ has no price at all."""
    return TablePrices({
        "AAA": {D1: (100.0, 101.0), D2: (None, 102.0)},
        "BBB": {D1: (50.0, 51.0), D2: (52.0, 53.0), D3: (54.0, 55.0)},
    })


def order(cid: str = "o1", symbol: str = "AAA", side: str = "buy", quantity: float = 10) -> Order:
    return Order(client_order_id=cid, symbol=symbol, side=side, quantity=quantity)
