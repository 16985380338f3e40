"""A broker that reports a fill without a price is refused before the fill reaches the book: the order, its fill and
the holding are written together or not at all (graph/nodes/execution.py)."""

from __future__ import annotations

from datetime import date

import pytest

from brokers.base import BrokerError
from tests import kit

NIGHT = date(2017, 3, 1)


class _PricelessFills:
    """The paper broker, but every fill it reports comes back without its average price."""

    def __init__(self, broker) -> None:
        self.broker = broker

    def submit(self, order):
        return self.broker.submit(order).model_copy(update={"avg_price": None})

    def __getattr__(self, name):
        return getattr(self.broker, name)


def test_a_fill_reported_without_a_price_is_refused_and_the_book_keeps_nothing_of_it(home):
    d = kit.desk(home)
    out = d.night(NIGHT)
    assert [i for i in out["intents"] if i.side == "buy"], "the night must write entries"
    priceless = kit.desk(home, broker=_PricelessFills(kit.desk(home).ctx.broker))
    with pytest.raises(BrokerError, match="without a price"):
        priceless.morning(NIGHT)
    assert priceless.store.fills() == [] and priceless.store.positions() == {}
